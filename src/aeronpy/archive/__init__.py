"""Aeron Archive: record streams to disk and replay them (server, client, tools).

Facts: ``shared/spec/archive.md``.  Modules: ``sbe`` (table-driven SBE engine), ``codecs``
(schema 101 v14 and the mark-file schema as data), ``catalog``, ``mark_file``, ``segments``,
``context`` (every ``aeron.archive.*`` setting), the server agents and ``client``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Archive", "ArchiveContext", "AeronArchive", "ArchiveError", "RecordingDescriptor"]

_LAZY = {
    "Archive": "aeronpy.archive.archive",
    "ArchiveContext": "aeronpy.archive.context",
    "AeronArchive": "aeronpy.archive.client",
    "ArchiveError": "aeronpy.archive.errors",
    "RecordingDescriptor": "aeronpy.archive.descriptors",
}

if TYPE_CHECKING:
    from aeronpy.archive.archive import Archive
    from aeronpy.archive.client import AeronArchive
    from aeronpy.archive.context import ArchiveContext
    from aeronpy.archive.descriptors import RecordingDescriptor
    from aeronpy.archive.errors import ArchiveError


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aeronpy.archive' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
