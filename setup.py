"""Build the ahead-of-time compiled kernels (Cython, against numpy's C API).

Every ``*.pyx`` under the packages becomes an extension module of the same
dotted name, compiled when the package is built (``pip install .`` or
``pip install -e .``), so nothing is compiled or cached at run time and the
installed package works read-only, as any user. Project metadata lives in
pyproject.toml; this file only lists the extensions.
"""

from __future__ import annotations

import glob
import os

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

PACKAGES = ("tsdb", "query", "scraper", "promlite")

# Bounds and wrap-around checks off, C division: the kernels check their inputs
# themselves, as the numba versions did. language_level 3 for Python 3 semantics.
DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
    "nonecheck": False,
    "embedsignature": True,
}


def extensions() -> list[Extension]:
    """One extension per ``.pyx``; ``PROMLITE_BUILD_ONLY=tsdb/codec`` (a path prefix) builds a subset.

    The subset is for working on kernels: ``PROMLITE_BUILD_ONLY=tsdb python setup.py
    build_ext --inplace`` rebuilds those modules in place in seconds (it reads
    pyproject.toml, so the venv needs setuptools >= 77, as the build system asks).
    """
    only = os.environ.get("PROMLITE_BUILD_ONLY", "")
    out = []
    for pkg in PACKAGES:
        for path in sorted(glob.glob(os.path.join(pkg, "**", "*.pyx"), recursive=True)):
            if not path.startswith(only):
                continue
            name = os.path.splitext(path)[0].replace(os.sep, ".")
            out.append(Extension(
                name, [path], include_dirs=[numpy.get_include()],
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
                # -g0: no debug info (it tripled the size of the installed modules)
                extra_compile_args=["-O3", "-g0"],
            ))
    return out


setup(ext_modules=cythonize(extensions(), compiler_directives=DIRECTIVES, quiet=True))
