"""The benchmarks, one folder each: layout, files, synthetic set, evaluation extras and the
``dataset.py`` that assembles and registers it (see :mod:`starpose.datasets.registry`)."""
