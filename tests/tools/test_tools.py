"""aeronpy stat / errors against a live embedded driver."""

from __future__ import annotations

import os
from typing import Any, Callable

import pytest

from aeronpy.cnc import CncFile
from aeronpy.errors import RegistrationError
from aeronpy.tools.errors import format_errors
from aeronpy.tools.stat import format_counters


def test_stat_lists_system_and_stream_counters(driver: Any, client_factory: Callable[..., Any], aeron_dir: str) -> None:
    aeron = client_factory()
    aeron.add_subscription("aeron:ipc", 5)
    pub = aeron.add_publication("aeron:ipc", 5)
    with CncFile.map(os.path.join(aeron_dir, "cnc.dat")) as cnc:
        lines = format_counters(cnc)
    assert "Aeron Stat (CnC v0.2.0)" in lines[0]
    assert lines[1] == "=" * 70
    body = "\n".join(lines[2:])
    assert "    0:                          0 - Bytes sent" in body
    assert "Errors: version=" in body
    assert "Conductor max cycle time doing its work in ns: SHARED" in body
    assert f"pub-pos (concurrent): {pub.registration_id} {pub.session_id} 5 aeron:ipc" in body
    assert f"pub-lmt: {pub.registration_id}" in body
    assert "sub-pos:" in body and "@0" in body
    assert f"client-heartbeat: id={aeron.client_id}" in body
    assert "Control protocol version" in body and "65,536" in body


def test_errors_lists_distinct_errors(driver: Any, client_factory: Callable[..., Any], aeron_dir: str) -> None:
    aeron = client_factory()
    for _ in range(3):
        with pytest.raises(RegistrationError):
            aeron.add_publication("aeron:ipc?mtu=100", 6)
    with CncFile.map(os.path.join(aeron_dir, "cnc.dat")) as cnc:
        text = "\n".join(format_errors(cnc))
    assert "3 observations from" in text
    assert "mtu" in text
    assert text.rstrip().endswith("1 distinct errors observed.")
