"""Bundled clustered services, runnable by name (``aeronpy cluster-node --service echo``):

* ``echo`` — :class:`~aeronpy.cluster.examples.echo.EchoService`: every session message back to
  its session; keeps a hash of what it applied.
* ``kv`` — :class:`~aeronpy.cluster.examples.kv.KeyValueService`: a replicated key-value store
  (read / write / compare-and-set), whose request/response codec lives in that module.
* ``counter`` — :class:`~aeronpy.cluster.examples.counter.CounterService`: one replicated
  64-bit counter (add, get).

:func:`load_service` turns a bundled name or ``module:Class`` into a service instance."""

from __future__ import annotations

import importlib
from typing import Any

from aeronpy.errors import ConfigurationError

__all__ = ["SERVICES", "load_service", "service_class"]

#: Bundled name -> ``module:Class``.
SERVICES: dict[str, str] = {
    "echo": "aeronpy.cluster.examples.echo:EchoService",
    "kv": "aeronpy.cluster.examples.kv:KeyValueService",
    "counter": "aeronpy.cluster.examples.counter:CounterService",
}


def service_class(spec: str) -> Any:
    """The class named by ``spec``: a bundled name, ``module:Class`` or ``module.Class``;
    :class:`ConfigurationError` naming it if it cannot be found."""
    target = SERVICES.get(spec.strip(), spec.strip())
    if ":" in target:
        module_name, _, attr = target.partition(":")
    elif "." in target:
        module_name, _, attr = target.rpartition(".")
    else:
        raise ConfigurationError(
            f"service {spec!r}: not a bundled service ({', '.join(sorted(SERVICES))}) nor module:Class")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigurationError(f"service {spec!r}: cannot import {module_name!r}: {e}") from None
    cls = getattr(module, attr, None)
    if cls is None or not callable(cls):
        raise ConfigurationError(f"service {spec!r}: {module_name!r} has no class {attr!r}")
    return cls


def load_service(spec: str) -> Any:
    """A new instance of the service named by ``spec`` (see :func:`service_class`)."""
    try:
        return service_class(spec)()
    except ConfigurationError:
        raise
    except Exception as e:
        raise ConfigurationError(f"service {spec!r}: cannot create it: {e}") from e
