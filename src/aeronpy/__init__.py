"""aeronpy: Aeron (reliable UDP unicast, multicast and IPC messaging) in Python.

Compatible with Aeron 1.53 in shared memory (cnc.dat, log buffers, counters) so that real
Aeron C/Java clients and drivers interoperate with it.

The names below are the public surface (they load lazily, on first use).  The asyncio API is
:mod:`aeronpy.aio` (``aeronpy.aio.connect``); the tools are in :mod:`aeronpy.tools`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from aeronpy import errors as _errors
from aeronpy.errors import *  # noqa: F403  (every exception, loaded at once: the module imports nothing)
from aeronpy.version import AERON_COMPATIBLE_VERSION, __version__

__all__ = [
    "__version__",
    "AERON_COMPATIBLE_VERSION",
    "Aeron",
    "Context",
    "MediaDriver",
    "DriverContext",
    "ThreadingMode",
    "AeronDirExposureWarning",
    "Publication",
    "ExclusivePublication",
    "Subscription",
    "Image",
    "BufferClaim",
    "Counter",
    "FragmentAssembler",
    "ControlledFragmentAssembler",
    "Header",
    "ChannelUri",
    "OfferResult",
    "ControlledPollAction",
    "result_name",
    "NOT_CONNECTED",
    "BACK_PRESSURED",
    "ADMIN_ACTION",
    "CLOSED",
    "MAX_POSITION_EXCEEDED",
    "install_sigbus_report",
]

__all__ += _errors.__all__

_LAZY = {
    "Aeron": "aeronpy.client.aeron",
    "Context": "aeronpy.client.context",
    "MediaDriver": "aeronpy.driver.media_driver",
    "DriverContext": "aeronpy.driver.context",
    "ThreadingMode": "aeronpy.driver.context",
    "AeronDirExposureWarning": "aeronpy.driver.media_driver",
    "Publication": "aeronpy.client.publication",
    "ExclusivePublication": "aeronpy.client.publication",
    "Subscription": "aeronpy.client.subscription",
    "Image": "aeronpy.client.image",
    "BufferClaim": "aeronpy.client.buffer_claim",
    "Counter": "aeronpy.client.counter",
    "FragmentAssembler": "aeronpy.logbuffer.fragment_assembler",
    "ControlledFragmentAssembler": "aeronpy.logbuffer.fragment_assembler",
    "Header": "aeronpy.logbuffer.header",
    "ChannelUri": "aeronpy.uri",
    "OfferResult": "aeronpy.client.results",
    "ControlledPollAction": "aeronpy.client.results",
    "result_name": "aeronpy.client.results",
    "NOT_CONNECTED": "aeronpy.client.results",
    "BACK_PRESSURED": "aeronpy.client.results",
    "ADMIN_ACTION": "aeronpy.client.results",
    "CLOSED": "aeronpy.client.results",
    "MAX_POSITION_EXCEEDED": "aeronpy.client.results",
    "install_sigbus_report": "aeronpy.fault_report",
}

_SUBPACKAGES = ("aio", "archive", "client", "cluster", "driver", "tools", "testing")

if TYPE_CHECKING:
    from aeronpy.client.aeron import (
        Aeron,
    )
    from aeronpy.client.buffer_claim import (
        BufferClaim,
    )
    from aeronpy.client.context import (
        Context,
    )
    from aeronpy.client.counter import (
        Counter,
    )
    from aeronpy.client.image import (
        Image,
    )
    from aeronpy.client.publication import (
        ExclusivePublication,
        Publication,
    )
    from aeronpy.client.results import (
        ADMIN_ACTION,
        BACK_PRESSURED,
        CLOSED,
        ControlledPollAction,
        MAX_POSITION_EXCEEDED,
        NOT_CONNECTED,
        OfferResult,
        result_name,
    )
    from aeronpy.client.subscription import (
        Subscription,
    )
    from aeronpy.driver.context import (
        DriverContext,
        ThreadingMode,
    )
    from aeronpy.driver.media_driver import (
        AeronDirExposureWarning,
        MediaDriver,
    )
    from aeronpy.fault_report import (
        install_sigbus_report,
    )
    from aeronpy.logbuffer.fragment_assembler import (
        ControlledFragmentAssembler,
        FragmentAssembler,
    )
    from aeronpy.logbuffer.header import (
        Header,
    )
    from aeronpy.uri import (
        ChannelUri,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value
    if name in _SUBPACKAGES:
        return importlib.import_module(f"aeronpy.{name}")
    raise AttributeError(f"module 'aeronpy' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
