"""Builds the small C extension package, split by purpose:

* ``aeronpy._atomic``: atomic loads/stores/CAS on shared memory (``_atomic.c``), the driver's
  frame kernels (``_frame_kernels.c``), batched datagram receive and send (``_datagram_io.c``)
  a network publication's common sender duty cycle (``_publication_tx.c``) and the SHARED
  driver's data path run when its idle probe fires (``_eager_data_path.c``).
* ``aeronpy._logbuffer``: the client's per-message hot paths (offer/claim appenders, term
  reader, fragment batches) over mapped log buffers.
"""
from setuptools import Extension, setup

_FLAGS = ["-O2", "-std=c11"]

setup(
    ext_modules=[
        Extension(
            "aeronpy._atomic",
            sources=["src/aeronpy/_atomic.c", "src/aeronpy/_frame_kernels.c", "src/aeronpy/_datagram_io.c",
                     "src/aeronpy/_publication_tx.c", "src/aeronpy/_eager_data_path.c"],
            depends=["src/aeronpy/_atomic_buffer.h"],
            extra_compile_args=_FLAGS,
        ),
        Extension("aeronpy._logbuffer", sources=["src/aeronpy/_logbuffer.c"], extra_compile_args=_FLAGS),
    ]
)
