"""aeronpy backlog (BacklogStat) and streams (StreamStat) against an embedded driver."""

from __future__ import annotations

import os
from typing import Any, Callable

import pytest

from aeronpy import cli
from aeronpy.tools import backlog, snapshot, streams
from aeronpy.tools.cnc_access import open_cnc
from tests.conftest import wait_for
from tests.tools.helpers import drain, free_udp_port, publish


def _snap(aeron_dir: str) -> snapshot.Snapshot:
    with open_cnc(aeron_dir) as cnc:
        return snapshot.take(cnc)


def test_ipc_backlog_is_publisher_minus_subscriber(
    driver: Any, client_factory: Callable[..., Any], aeron_dir: str, capsys: pytest.CaptureFixture[str]
) -> None:
    aeron = client_factory()
    sub = aeron.add_subscription("aeron:ipc", 77)
    pub = aeron.add_publication("aeron:ipc", 77)
    wait_for(lambda: pub.is_connected, 10, "connected")
    publish(pub, 10, 64)  # 10 frames of 96 B = 960 B, nothing read yet

    def ipc() -> list[backlog.StreamBacklog]:
        return [b for b in backlog.backlogs(_snap(aeron_dir)) if b.stream_id == 77]

    wait_for(lambda: ipc()[0].publisher_position == 960, 10, "pub-pos updated by the conductor")
    items = ipc()
    assert len(items) == 1
    b = items[0]
    assert b.session_id == pub.session_id and b.channel == "aeron:ipc"
    assert b.publisher_position == 960 and b.publisher_limit is not None and b.publisher_limit > 960
    assert b.sender_position is None and b.receiver_position is None  # IPC: no network halves
    assert [s.backlog for s in b.subscribers] == [960]
    drain(sub, 4)
    wait_for(lambda: [s.backlog for b in backlog.backlogs(_snap(aeron_dir)) if b.stream_id == 77
                      for s in b.subscribers] == [0], 10, "subscriber caught up")

    assert cli.main(["backlog", "--dir", aeron_dir]) == 0
    out = capsys.readouterr().out
    assert f"sessionId={pub.session_id} streamId=77 channel=aeron:ipc" in out
    assert "publisher  pub-pos=960" in out and "subscriber sub-pos=960 backlog=0" in out

    assert cli.main(["streams", "--dir", aeron_dir]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "streamId=77" in x)
    assert "pub-pos:960" in line and "pub-lmt:" in line and "sub-pos:960" in line
    assert line.index("pub-pos") < line.index("sub-pos")


def test_udp_backlog_has_sender_and_receiver(
    driver: Any, client_factory: Callable[..., Any], aeron_dir: str, capsys: pytest.CaptureFixture[str]
) -> None:
    channel = f"aeron:udp?endpoint=127.0.0.1:{free_udp_port()}"
    aeron = client_factory()
    sub = aeron.add_subscription(channel, 78)
    pub = aeron.add_publication(channel, 78)
    wait_for(lambda: pub.is_connected, 20, "connected")
    publish(pub, 20, 100)  # 20 × 160 B = 3200 B
    drain(sub, 20)

    def settled() -> backlog.StreamBacklog | None:
        for b in backlog.backlogs(_snap(aeron_dir)):
            if b.stream_id == 78 and b.receiver_position == 3200 and b.sender_position == 3200:
                return b
        return None

    b = wait_for(settled, 20, "positions at 3200")
    assert isinstance(b, backlog.StreamBacklog)
    assert b.sender_backlog == 0 and b.receiver_backlog == 0 and b.receiver_hwm == 3200
    assert b.sender_limit is not None and b.sender_limit >= 3200
    wait_for(lambda: all(s.backlog == 0 for x in backlog.backlogs(_snap(aeron_dir)) if x.stream_id == 78
                         for s in x.subscribers), 10, "subscriber caught up")
    assert cli.main(["backlog", "--dir", aeron_dir]) == 0
    out = capsys.readouterr().out
    assert "sender     snd-pos=3,200" in out and "receiver   rcv-hwm=3,200 rcv-pos=3,200 backlog=0" in out

    text = "\n".join(streams.format_streams(_snap(aeron_dir)))
    line = next(x for x in text.splitlines() if "streamId=78" in x)
    for name in ("pub-pos:", "snd-pos:", "snd-lmt:", "rcv-hwm:", "rcv-pos:", "sub-pos:", "snd-naks-received:"):
        assert name in line, name


def test_no_streams(driver: Any, aeron_dir: str) -> None:
    s = _snap(aeron_dir)
    assert backlog.format_backlog(backlog.backlogs(s)) == ["no streams"]
    assert streams.format_streams(s) == ["no streams"]
    assert os.path.exists(os.path.join(aeron_dir, "cnc.dat"))
