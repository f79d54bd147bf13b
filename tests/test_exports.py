"""The public surface is pinned: adding or removing a public name must be deliberate."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import aeronpy

PUBLIC = {
    "aeronpy": {
        "__version__", "AERON_COMPATIBLE_VERSION",
        "Aeron", "Context", "MediaDriver", "DriverContext", "ThreadingMode", "AeronDirExposureWarning",
        "Publication", "ExclusivePublication", "Subscription", "Image", "BufferClaim", "Counter",
        "FragmentAssembler", "ControlledFragmentAssembler", "Header", "ChannelUri",
        "OfferResult", "ControlledPollAction", "result_name",
        "NOT_CONNECTED", "BACK_PRESSURED", "ADMIN_ACTION", "CLOSED", "MAX_POSITION_EXCEEDED",
        "AeronError", "ConfigurationError", "InvalidChannelError", "InvalidArgumentError", "NotSupportedError",
        "DriverTimeoutError", "ClientTimeoutError", "ClientClosedError", "RegistrationError", "DriverError",
        "CncError", "ActiveDriverError", "StorageSpaceError", "PublicationError", "NotConnectedError",
        "BackPressuredError", "PublicationClosedError", "MaxPositionExceededError", "install_sigbus_report",
    },
    "aeronpy.client": {
        "Aeron", "Context", "Publication", "ExclusivePublication", "Subscription", "Image", "BufferClaim",
        "Counter", "OfferResult", "ControlledPollAction", "result_name", "ClientClosedError",
        "request_driver_termination",
    },
    "aeronpy.aio": {
        "connect", "launch_driver", "AsyncAeron", "AsyncPublication", "AsyncExclusivePublication",
        "AsyncSubscription", "AsyncMediaDriver", "Message", "ImageEvent", "ImageEventType", "Backoff",
    },
    "aeronpy.errors": {
        "AeronError", "ConfigurationError", "InvalidChannelError", "InvalidArgumentError", "NotSupportedError",
        "DriverTimeoutError", "ClientTimeoutError", "ClientClosedError", "RegistrationError", "DriverError",
        "CncError", "ActiveDriverError", "StorageSpaceError", "PublicationError", "NotConnectedError",
        "BackPressuredError", "PublicationClosedError", "MaxPositionExceededError",
    },
    "aeronpy.client.results": {
        "NOT_CONNECTED", "BACK_PRESSURED", "ADMIN_ACTION", "CLOSED", "MAX_POSITION_EXCEEDED", "ERROR",
        "OfferResult", "ControlledPollAction", "result_name",
    },
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_public_names_are_pinned(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert len(module.__all__) == len(set(module.__all__)), "duplicates in __all__"
    assert set(module.__all__) == PUBLIC[module_name]


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_every_public_name_resolves_and_is_documented(module_name: str) -> None:
    module = importlib.import_module(module_name)
    for name in module.__all__:
        value = getattr(module, name)
        assert name in dir(module)
        if isinstance(value, type) or callable(value):
            assert (value.__doc__ or "").strip(), f"{module_name}.{name} has no docstring"


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from aeronpy import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(aeronpy.__all__)


def test_names_from_submodules_are_the_same_objects() -> None:
    from aeronpy.client import Image
    from aeronpy.client.image import Image as ImageDirect
    from aeronpy.client.conductor import ClientClosedError as FromConductor

    assert Image is ImageDirect is aeronpy.Image
    assert FromConductor is aeronpy.ClientClosedError is aeronpy.errors.ClientClosedError
    assert aeronpy.aio.connect is importlib.import_module("aeronpy.aio").connect


def test_unknown_names_raise_attribute_error() -> None:
    import aeronpy.client

    with pytest.raises(AttributeError):
        aeronpy.no_such_name  # noqa: B018
    with pytest.raises(AttributeError):
        aeronpy.client.no_such_name  # noqa: B018


def test_import_is_lazy() -> None:
    """``import aeronpy`` loads neither the driver nor the client until a name is used."""
    code = (
        "import sys, aeronpy; "
        "print(any(m.startswith(('aeronpy.driver', 'aeronpy.client')) for m in sys.modules)); "
        "aeronpy.Image; print('aeronpy.client.image' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True"]


def test_aio_loads_the_driver_only_to_launch_one() -> None:
    code = "import sys, aeronpy.aio; print(any(m.startswith('aeronpy.driver') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False"]
