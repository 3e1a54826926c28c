"""Measurements in a fresh Python process (peak memory is per process): :func:`run_probe`.

A Ctrl-C at the terminal reaches the probe and ``starpose bench`` alike; the probe then exits
130 without a traceback, and a probe that ended by SIGINT or SIGTERM (its own exit status, or
128 + the signal number) is an interruption of the benchmark (:class:`Interrupted`, exit 130 /
143), not a failure. A probe that fails is one line: the last line it printed, progress bars cut
off at their carriage returns.
"""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys

from starpose.errors import StarposeError
from starpose.train.interrupts import Interrupted

# The probe restores Python's own SIGINT handling and SIGTERM's default and unblocks both: a
# child inherits ignored dispositions and blocked masks from whatever its parent process went
# through (seen under pytest: a probe that slept through the SIGINT meant for it).
_CODE = """import json, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
signal.signal(signal.SIGTERM, signal.SIG_DFL)
signal.pthread_sigmask(signal.SIG_UNBLOCK, {{signal.SIGINT, signal.SIGTERM}})
try:
    from {module} import {function}
    print(json.dumps({function}(json.loads(sys.argv[1]))))
except KeyboardInterrupt:
    sys.exit(130)
"""
_SIGNALS = {128 + s: s for s in (signal.SIGINT, signal.SIGTERM)} | {-s: s for s in (signal.SIGINT, signal.SIGTERM)}


def run_probe(module: str, function: str, spec: dict, what: str) -> dict:
    """``module.function(spec)`` in a fresh process (``spec`` and the result are JSON); ``what``
    names it in the error of a failed probe."""
    code = _CODE.format(module=module, function=function)
    done = subprocess.run([sys.executable, "-c", code, json.dumps(spec)], capture_output=True,
                          text=True, check=False)
    if done.returncode in _SIGNALS or (done.returncode and "KeyboardInterrupt" in done.stderr):
        raise Interrupted(_SIGNALS.get(done.returncode, signal.SIGINT))
    if done.returncode != 0:
        raise StarposeError(f"{what} failed (exit status {done.returncode}): {last_line(done.stderr)}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def last_line(text: str) -> str:
    """The last non-empty line of ``text``, where a carriage return (a progress bar redrawn) also
    ends a line; ``no output`` where there is none."""
    lines = [line.strip() for line in re.split(r"[\r\n]+", text) if line.strip()]
    return lines[-1] if lines else "no output"
