"""Writing a synthetic set in VideoPose3D's file layout: one 3D file and the ``gt`` / ``noisy`` 2D
files, replaced together."""
from __future__ import annotations

from pathlib import Path

from starpose.data.safe_pickle import check_writable_file, write_npz
from starpose.errors import DataError
from starpose.io import atomic_files


def check_out_dir(out_dir) -> Path:
    """``out_dir`` as a Path; a :class:`DataError` when it exists and is not a folder."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(f"{out_dir}: exists and is not a directory")
    return out_dir


def write_pose_files(out_dir, file_3d: str, file_2d: str, arrays, metadata) -> dict[str, Path]:
    """Write the VideoPose3D layout: ``file_3d`` (``positions_3d``) and ``file_2d`` for the
    ``gt`` and ``noisy`` keypoints (``positions_2d`` + ``metadata``) from ``arrays`` with keys
    ``3d``, ``gt``, ``noisy``. All three replace their targets together (one transaction)."""
    out_dir = check_out_dir(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(f"{out_dir}: cannot create the output directory ({err})") from None
    paths = {"3d": out_dir / file_3d, "gt": out_dir / file_2d.format(name="gt"),
             "noisy": out_dir / file_2d.format(name="noisy")}
    with atomic_files() as stage:
        tmp = {name: stage(check_writable_file(path)) for name, path in paths.items()}
        write_npz(tmp["3d"], positions_3d=arrays["3d"])
        for name in ("gt", "noisy"):
            write_npz(tmp[name], positions_2d=arrays[name], metadata=metadata)
    return paths
