"""Build the private compiled modules ``carbonsim.sim._kernels``, ``_fleet`` and ``_serving`` from ``ext/*.pyx``.

Cython compiler directives live here and nowhere else.  Set
``CARBONSIM_DEBUG_KERNELS=1`` at build time to rebuild with bounds checks,
wrap-around and initialisation checks on (and without optimisation), e.g.::

    CARBONSIM_DEBUG_KERNELS=1 pip install -e . --no-build-isolation
"""
import os
import sys
import tempfile

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

DEBUG = os.environ.get("CARBONSIM_DEBUG_KERNELS", "") not in ("", "0")

DIRECTIVES = {
    "language_level": "3",
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "nonecheck": DEBUG,
    "cdivision": not DEBUG,
    "infer_types": True,
    "embedsignature": True,
}


class BuildExt(build_ext):
    """Add OpenMP flags when the compiler accepts them; build serial otherwise."""

    def build_extensions(self):
        openmp = self._has_openmp()
        for ext in self.extensions:
            if openmp:
                ext.extra_compile_args += ["-fopenmp"]
                ext.extra_link_args += ["-fopenmp"]
            if DEBUG:
                ext.extra_compile_args += ["-O0", "-g"]
            else:
                ext.extra_compile_args += ["-O3"]
        if not openmp:
            print("carbonsim: compiler has no OpenMP; kernels will run on one thread", file=sys.stderr)
        super().build_extensions()

    def _has_openmp(self):
        if self.compiler.compiler_type == "msvc":
            return False
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "omp.c")
            with open(src, "w") as f:
                f.write("#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n")
            try:
                objs = self.compiler.compile([src], output_dir=tmp, extra_postargs=["-fopenmp"])
                self.compiler.link_executable(objs, os.path.join(tmp, "omp"), extra_postargs=["-fopenmp"])
            except Exception:
                return False
        return True


extensions = [
    Extension(
        "carbonsim.sim._kernels",
        sources=["ext/_kernels.pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    ),
    Extension(
        "carbonsim.sim._fleet",
        sources=["ext/_fleet.pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        # the same floating-point operations as the SimPy engine and numpy planners: no fused multiply-add
        extra_compile_args=["-ffp-contract=off"],
    ),
    Extension(
        "carbonsim.sim._serving",
        sources=["ext/_serving.pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    ),
]

setup(
    ext_modules=cythonize(extensions, compiler_directives=DIRECTIVES, include_path=["ext"]),
    cmdclass={"build_ext": BuildExt},
)
