"""Bundled services by name and ``module:Class`` loading."""

from __future__ import annotations

import pytest

from aeronpy.cluster.examples import SERVICES, load_service
from aeronpy.cluster.examples.counter import CounterService
from aeronpy.cluster.examples.echo import EchoService
from aeronpy.cluster.examples.kv import KeyValueService
from aeronpy.cluster.service import ClusteredService, ServiceContainerContext
from aeronpy.errors import ConfigurationError


@pytest.mark.parametrize("name, cls", [("echo", EchoService), ("kv", KeyValueService), ("counter", CounterService)])
def test_bundled_names(name: str, cls: type) -> None:
    service = load_service(name)
    assert isinstance(service, cls) and isinstance(service, ClusteredService)
    assert name in SERVICES


def test_module_class_forms() -> None:
    assert isinstance(load_service("aeronpy.cluster.examples.kv:KeyValueService"), KeyValueService)
    assert isinstance(load_service("aeronpy.cluster.examples.echo.EchoService"), EchoService)


@pytest.mark.parametrize("spec, message", [
    ("nosuch", "not a bundled service"),
    ("no.such.module:X", "cannot import"),
    ("aeronpy.cluster.examples.kv:Missing", "has no class"),
])
def test_bad_names_are_configuration_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_service(spec)


def test_context_builds_the_service_from_the_property() -> None:
    ctx = ServiceContainerContext.from_properties({"aeron.cluster.service.class.name": "kv"}, env={})
    assert isinstance(ctx.new_service(), KeyValueService)
    with pytest.raises(ConfigurationError, match="aeron.cluster.service.class.name"):
        ServiceContainerContext.from_properties(env={}).new_service()
