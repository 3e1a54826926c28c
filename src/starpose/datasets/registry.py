"""The registry of benchmarks: ``--dataset NAME`` looks its :class:`~starpose.data.dataset.Dataset`
up here. Adding a dataset is one folder under ``datasets/`` whose ``dataset.py`` calls
:func:`register`, and one line in :data:`PROVIDERS`."""
from __future__ import annotations

from typing import Sequence as Seq

from starpose.data.dataset import Dataset

#: The dataset of ``--dataset``'s default (today's commands, published checkpoints).
DEFAULT_DATASET = "h36m"
_REGISTRY: dict[str, Dataset] = {}
#: Modules that register a dataset when imported, by dataset name (imported on first use so that
#: the command line's ``--help`` stays fast).
PROVIDERS: dict[str, str] = {
    "h36m": "starpose.datasets.h36m.dataset",
    "humaneva": "starpose.datasets.humaneva.dataset",
    "3dhp": "starpose.datasets.mpi_inf_3dhp.dataset",
}


def register_provider(name: str, module: str) -> None:
    """Name ``module`` (a dotted module path, importable from ``sys.path``) as the provider of
    the dataset ``name``: the hook for a dataset kept outside the package (a plug-in, a test).
    Call it before the command line is built so that ``--dataset name`` is among the choices."""
    PROVIDERS[name] = module


def register(dataset: Dataset) -> Dataset:
    """Make ``dataset`` available to :func:`get_dataset` (called by the dataset's module)."""
    _REGISTRY[dataset.name] = dataset
    return dataset


def dataset_names() -> tuple[str, ...]:
    """The names ``--dataset`` accepts, in the order of the documentation."""
    return tuple(PROVIDERS)


def get_dataset(name: str) -> Dataset:
    """The description of the dataset ``name`` (``KeyError`` listing the known ones)."""
    if name not in _REGISTRY and name in PROVIDERS:
        import importlib

        importlib.import_module(PROVIDERS[name])
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(PROVIDERS)}") from None


def all_datasets() -> tuple[Dataset, ...]:
    """Every dataset, in the order of :func:`dataset_names` (imports their modules)."""
    return tuple(get_dataset(name) for name in PROVIDERS)


def recorded_dataset(checkpoint: dict, default: str | None = None) -> str | None:
    """The dataset a starpose checkpoint was trained on: its training configuration's
    ``dataset``, else the ``dataset`` a packaged checkpoint (the bundled model) records beside its
    weights; ``default`` for checkpoints that record none (published layouts, older runs). The one
    place a checkpoint's dataset is read."""
    if not isinstance(checkpoint, dict):
        return default
    config = checkpoint.get("train_config")
    name = config.get("dataset") if isinstance(config, dict) else checkpoint.get("dataset")
    return name if isinstance(name, str) else default


def dataset_with_layout(layout_name: str) -> Dataset | None:
    """The dataset whose joint order 2D files call ``layout_name`` (e.g. ``humaneva15``), if any."""
    return next((d for d in all_datasets() if d.layout_name and d.layout_name == layout_name), None)


def dataset_for_joints(num_joints: int, names: "Seq[str]" = ()) -> Dataset | None:
    """The dataset of a pose layout: the one whose joint names are ``names``, else the first
    (in :func:`dataset_names` order, so Human3.6M before MPI-INF-3DHP) with ``num_joints`` joints."""
    datasets = all_datasets()
    named = [d for d in datasets if names and tuple(d.skeleton.names) == tuple(names)]
    counted = [d for d in datasets if d.num_joints == num_joints]
    return (named or counted or [None])[0]
