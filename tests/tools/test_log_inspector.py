"""aeronpy log-inspector against the log buffer of a live IPC publication."""

from __future__ import annotations

import glob
import os
from typing import Any, Callable

import pytest

from aeronpy import cli
from aeronpy.tools.log_inspector import format_log
from tests.conftest import wait_for
from tests.tools.helpers import publish


def test_publication_log_metadata_and_frames(
    driver: Any, client_factory: Callable[..., Any], aeron_dir: str, capsys: pytest.CaptureFixture[str]
) -> None:
    aeron = client_factory()
    aeron.add_subscription("aeron:ipc", 90)
    pub = aeron.add_publication("aeron:ipc", 90)
    wait_for(lambda: pub.is_connected, 10, "connected")
    for i in range(3):
        publish(pub, 1, 8)
    logs = glob.glob(os.path.join(aeron_dir, "publications", "*.logbuffer"))
    assert len(logs) == 1
    lines = format_log(logs[0], data_bytes=4)
    text = "\n".join(lines)
    assert f"session id {pub.session_id}, stream id 90" in text
    assert "type: concurrent publication" in text
    assert "term length 65536" in text  # the fixture's ipc term length
    assert "producer position 192" in text  # 3 frames of align(32 + 8, 32) = 64 B
    frames = [x for x in lines if ": DATA " in x]
    assert len(frames) == 3
    assert frames[0].strip().startswith("0: DATA length=40 flags=BE term_offset=0")
    assert f"session={pub.session_id} stream=90" in frames[1] and "term_offset=64" in frames[1]
    assert frames[2].endswith("data=00000000")
    assert "term 0:" in text and "term 1:" in text and "term 2:" in text

    assert cli.main(["log-inspector", logs[0], "--max-frames", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count(": DATA ") == 2 and "more frames" in out
