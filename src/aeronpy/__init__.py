"""aeronpy: Aeron (reliable UDP unicast, multicast and IPC messaging) in Python.

Compatible with Aeron 1.53 in shared memory (cnc.dat, log buffers, counters) so that real
Aeron C/Java clients and drivers interoperate with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aeronpy.version import __version__

__all__ = [
    "__version__",
    "Aeron",
    "Context",
    "MediaDriver",
    "DriverContext",
    "ThreadingMode",
    "Publication",
    "ExclusivePublication",
    "Subscription",
    "Image",
    "BufferClaim",
    "FragmentAssembler",
    "Header",
    "NOT_CONNECTED",
    "BACK_PRESSURED",
    "ADMIN_ACTION",
    "CLOSED",
    "MAX_POSITION_EXCEEDED",
]

_LAZY = {
    "Aeron": "aeronpy.client.aeron",
    "Context": "aeronpy.client.context",
    "MediaDriver": "aeronpy.driver.media_driver",
    "DriverContext": "aeronpy.driver.context",
    "ThreadingMode": "aeronpy.driver.context",
    "Publication": "aeronpy.client.publication",
    "ExclusivePublication": "aeronpy.client.publication",
    "Subscription": "aeronpy.client.subscription",
    "Image": "aeronpy.client.image",
    "BufferClaim": "aeronpy.client.buffer_claim",
    "FragmentAssembler": "aeronpy.logbuffer.fragment_assembler",
    "Header": "aeronpy.logbuffer.header",
    "NOT_CONNECTED": "aeronpy.client.results",
    "BACK_PRESSURED": "aeronpy.client.results",
    "ADMIN_ACTION": "aeronpy.client.results",
    "CLOSED": "aeronpy.client.results",
    "MAX_POSITION_EXCEEDED": "aeronpy.client.results",
}

if TYPE_CHECKING:
    from aeronpy.client.aeron import Aeron
    from aeronpy.client.buffer_claim import BufferClaim
    from aeronpy.client.context import Context
    from aeronpy.client.image import Image
    from aeronpy.client.publication import ExclusivePublication, Publication
    from aeronpy.client.results import (
        ADMIN_ACTION,
        BACK_PRESSURED,
        CLOSED,
        MAX_POSITION_EXCEEDED,
        NOT_CONNECTED,
    )
    from aeronpy.client.subscription import Subscription
    from aeronpy.driver.context import DriverContext, ThreadingMode
    from aeronpy.driver.media_driver import MediaDriver
    from aeronpy.logbuffer.fragment_assembler import FragmentAssembler
    from aeronpy.logbuffer.header import Header


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aeronpy' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
