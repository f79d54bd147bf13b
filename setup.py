"""Builds the one small C extension: atomic loads/stores/CAS on shared memory."""
from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "aeronpy._atomic",
            sources=["src/aeronpy/_atomic.c"],
            extra_compile_args=["-O2", "-std=c11"],
        )
    ]
)
