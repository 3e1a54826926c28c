"""The one compiled part of starpose: the fused CPU attention kernel (optional).

Everything else is in pyproject.toml. The kernel is plain C++ with OpenMP, loaded with ctypes
(``starpose/models/kernels/fused_cpu.py``): no Python C API, no torch headers, so building it
needs only a C++ compiler. ``optional=True``: where it cannot be built (no compiler, no OpenMP)
the install goes on and starpose runs the same model on its eager path.
"""
from setuptools import Extension, setup

setup(ext_modules=[Extension(
    "starpose.models.kernels._fused_cpu",
    sources=["src/starpose/models/kernels/fused_cpu.cpp"],
    language="c++",
    extra_compile_args=["-O3", "-fopenmp", "-Wno-psabi", "-std=c++17"],
    extra_link_args=["-fopenmp"],
    optional=True,
)])
