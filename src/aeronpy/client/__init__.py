"""The client API: :class:`Aeron`, its :class:`Context`, publications, subscriptions, images.

Names load lazily (``from aeronpy.client import Image`` imports only what ``Image`` needs).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "Aeron",
    "Context",
    "Publication",
    "ExclusivePublication",
    "Subscription",
    "Image",
    "BufferClaim",
    "Counter",
    "OfferResult",
    "ControlledPollAction",
    "result_name",
    "ClientClosedError",
    "request_driver_termination",
]

_LAZY = {
    "Aeron": "aeronpy.client.aeron",
    "request_driver_termination": "aeronpy.client.aeron",
    "Context": "aeronpy.client.context",
    "Publication": "aeronpy.client.publication",
    "ExclusivePublication": "aeronpy.client.publication",
    "Subscription": "aeronpy.client.subscription",
    "Image": "aeronpy.client.image",
    "BufferClaim": "aeronpy.client.buffer_claim",
    "Counter": "aeronpy.client.counter",
    "OfferResult": "aeronpy.client.results",
    "ControlledPollAction": "aeronpy.client.results",
    "result_name": "aeronpy.client.results",
    "ClientClosedError": "aeronpy.errors",
}

if TYPE_CHECKING:
    from aeronpy.client.aeron import Aeron, request_driver_termination
    from aeronpy.client.buffer_claim import BufferClaim
    from aeronpy.client.context import Context
    from aeronpy.client.counter import Counter
    from aeronpy.client.image import Image
    from aeronpy.client.publication import ExclusivePublication, Publication
    from aeronpy.client.results import ControlledPollAction, OfferResult, result_name
    from aeronpy.client.subscription import Subscription
    from aeronpy.errors import ClientClosedError


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aeronpy.client' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
