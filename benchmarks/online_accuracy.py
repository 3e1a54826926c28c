"""Online (causal) against offline lifting: MPJPE of the bundled model on the synthetic tiny set.

Offline: overlapping windows, each frame the Hann-weighted mean of the windows covering it
(what ``starpose lift`` does). Online: each frame the last output of a window ending at it
(``starpose lift --online``, :class:`starpose.video.online.OnlineLifter`). Test subjects S9 and
S11, noisy 2D keypoints, the first 30 sequences; both fed the model's own input normalisation
with each sequence's camera.

    PYTHONPATH=src python benchmarks/online_accuracy.py [DATA_DIR]
"""
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from starpose.bench.video import bundled_predictor
from starpose.data.cameras import image_coordinates
from starpose.data.model_input import sequence_input
from starpose.datasets.h36m.files import load_h36m, select
from starpose.datasets.h36m.synthetic import generate_dataset
from starpose.inference.predictors import stream_sequence
from starpose.video.online import lift_causally


def main(data_dir: Path) -> None:
    torch.set_num_threads(1)
    if not (data_dir / "data_3d_h36m.npz").is_file():
        generate_dataset(data_dir, preset="tiny", seed=0)
    predictor, _ = bundled_predictor()
    errors = {"offline": [], "online": []}
    for seq in select(load_h36m(data_dir, "noisy"), subjects=["S9", "S11"])[:30]:
        truth = seq.positions_3d.copy()
        truth[:, 0] = 0.0  # joint 0 holds the root's trajectory; the others are root-relative
        model_input = sequence_input(seq, predictor.input_norm).keypoints_2d
        offline = np.concatenate([b for _, b in stream_sequence(predictor, model_input)])
        cam = seq.camera
        pixels = image_coordinates(np.asarray(seq.keypoints_2d, np.float64), cam.res_w, cam.res_h)
        online, _ = lift_causally(predictor, pixels, np.ones(pixels.shape[:2]), cam.res_w, cam.res_h,
                                  intrinsics=[*cam.focal_length, *cam.center])
        for name, poses in (("offline", offline), ("online", online)):
            errors[name].append(np.linalg.norm(poses - truth, axis=-1).mean(axis=1))
    for name, per_frame in errors.items():
        frames = np.concatenate(per_frame)
        print(f"{name:8s} MPJPE {1000 * frames.mean():6.1f} mm over {len(frames):,} frames")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
