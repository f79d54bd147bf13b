"""``.. aeronpy-properties:: driver|client``: a table of every configuration property, read
from the context classes themselves so the documentation cannot drift from the code."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective


def _default(field: dataclasses.Field[Any]) -> str:
    if field.default is not dataclasses.MISSING:
        value = field.default
    else:
        return "(computed)"
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None:
        return "(unset)"
    return f"``{value!r}``" if not isinstance(value, str) else (f"``{value}``" if value else '``""``')


def _rows(which: str) -> list[tuple[str, str, str, str]]:
    from aeronpy.config import property_to_env

    if which == "driver":
        from aeronpy.driver.context import DriverContext as cls
    elif which == "client":
        from aeronpy.client.context import Context as cls  # type: ignore[assignment]
    else:
        raise ValueError(f"aeronpy-properties: unknown context {which!r} (driver or client)")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    return [
        (f"``{prop}``", f"``{property_to_env(prop)}``", f"``{name}``", _default(fields[name]))
        for name, prop in cls.PROPERTY_NAMES.items()
    ]


class PropertiesDirective(SphinxDirective):
    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        lines = [".. list-table::", "   :header-rows: 1", "", "   * - Property", "     - Environment",
                 "     - Field", "     - Default (in the field's unit: ``*_ns`` nanoseconds, ``*_ms`` ms, sizes bytes)"]
        for row in _rows(self.arguments[0]):
            lines.append(f"   * - {row[0]}")
            lines.extend(f"     - {cell}" for cell in row[1:])
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="aeronpy-properties"), self.content_offset, container)
        return container.children


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("aeronpy-properties", PropertiesDirective)
    return {"parallel_read_safe": True, "version": "1"}
