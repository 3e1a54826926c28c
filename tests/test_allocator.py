"""The allocator setting of the commands that run models (starpose.inference.allocator)."""
import platform
import subprocess
import sys

from starpose.inference import allocator

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def test_keep_freed_memory_ends_the_page_faults_of_freed_buffers():
    """A 48 MiB buffer allocated, written and freed 10 times: glibc by default maps each one
    afresh (above its largest automatic threshold, 32 MiB), so every page faults again; with the
    thresholds fixed the block comes back from the heap warm."""
    script = (
        "import ctypes, resource, sys\n"
        "from starpose.inference.allocator import keep_freed_memory\n"
        "libc = ctypes.CDLL('libc.so.6'); libc.malloc.restype = ctypes.c_void_p\n"
        "libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]; libc.free.argtypes = [ctypes.c_void_p]\n"
        "if sys.argv[1] == 'kept': assert keep_freed_memory()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "for _ in range(10):\n"
        "    block = libc.malloc(48 * 2**20); libc.memset(block, 1, 48 * 2**20); libc.free(block)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n")
    if not GLIBC:  # elsewhere it does nothing and says so
        assert not allocator.keep_freed_memory()
        return
    faults = {how: int(subprocess.run([sys.executable, "-c", script, how], capture_output=True, text=True,
                                      check=True).stdout) for how in ("default", "kept")}
    pages = 48 * 2**20 // 4096
    assert faults["default"] >= 8 * pages  # every round faults its pages in again
    assert faults["kept"] <= 2 * pages  # the first round only
