"""Shared fixtures: the tiny synthetic Human3.6M-format dataset, generated once per session."""
import pytest

from starpose.datasets.h36m.synthetic import generate_dataset


@pytest.fixture(scope="session")
def tiny_dataset_dir(tmp_path_factory):
    """Folder with data_3d_h36m.npz, data_2d_h36m_gt.npz and data_2d_h36m_noisy.npz (tiny preset, seed 0)."""
    out = tmp_path_factory.mktemp("tiny_h36m")
    generate_dataset(out, preset="tiny", seed=0)
    return out


@pytest.fixture(scope="session")
def tiny_3dhp_dir(tmp_path_factory):
    """Folder with data_train_3dhp.npz and data_test_3dhp.npz (synthetic, tiny preset, seed 0)."""
    from starpose.datasets.mpi_inf_3dhp.synthetic import generate_3dhp

    out = tmp_path_factory.mktemp("tiny_3dhp")
    generate_3dhp(out, preset="tiny", seed=0)
    return out


def pytest_configure(config):
    """Under pytest-xdist each worker gets one torch thread: two workers with two threads each
    oversubscribe a 2-core machine and small-model training slows down several-fold."""
    import os

    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


def pytest_addoption(parser):
    """The fault campaign (``make faults``) runs the same tests longer."""
    parser.addoption("--fuzz-cases", type=int, default=500, help="fuzz cases per reader (default: 500)")
    parser.addoption("--kills", type=int, default=3, help="random kill points in the kill-and-resume test")


@pytest.fixture(scope="session")
def tiny_humaneva_dir(tmp_path_factory):
    """Folder with data_3d_humaneva15.npz and data_2d_humaneva15_{gt,noisy}.npz (tiny, seed 0)."""
    from starpose.datasets.humaneva.synthetic import generate_dataset as generate_humaneva

    out = tmp_path_factory.mktemp("tiny_humaneva")
    generate_humaneva(out, preset="tiny", seed=0)
    return out
