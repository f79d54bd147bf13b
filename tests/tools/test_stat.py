"""aeronpy stat --watch: a refreshing screen with per-second rates."""

from __future__ import annotations

import argparse
import io
from typing import Any, Callable

from aeronpy.tools import snapshot, stat
from aeronpy.tools.snapshot import Counter, Snapshot
from tests.conftest import wait_for
from tests.tools.helpers import publish


def _snapshot(t: float, bytes_sent: int, reg: int = 0) -> Snapshot:
    counters = (Counter(0, 0, bytes_sent, "Bytes sent", reg, -1, 0, system_id=0),
                Counter(1, 12, 5, "pub-pos (concurrent): 1 2 3 aeron:ipc", 1, 1, 0, 2, 3, "aeron:ipc"))
    return Snapshot(t, 0, 42, 0x200, 3, counters)


def test_rates_between_snapshots() -> None:
    a, b = _snapshot(10.0, 1000), _snapshot(12.0, 5000)
    assert snapshot.rates(a, b) == {0: 2000.0, 1: 0.0}
    assert snapshot.rates(None, b) == {}
    assert snapshot.rates(b, b) == {}
    assert snapshot.rates(a, _snapshot(12.0, 5000, reg=9)) == {1: 0.0}  # id reused: no rate


def test_watch_screen_shows_rates() -> None:
    lines = stat.format_watch_screen(_snapshot(12.0, 5000), _snapshot(10.0, 1000))
    assert "Aeron Stat (CnC v0.2.0), pid 42, heartbeat age 3ms" in lines[0]
    assert "rate/s" in lines[2]
    assert lines[3].split() == ["0:", "5,000", "2,000.0", "-", "Bytes", "sent"]
    first = stat.format_watch_screen(_snapshot(10.0, 1000), None)
    assert first[3].split() == ["0:", "1,000", "-", "Bytes", "sent"]  # no rate on the first screen


def test_watch_against_a_driver(driver: Any, client_factory: Callable[..., Any], aeron_dir: str) -> None:
    aeron = client_factory()
    aeron.add_subscription("aeron:ipc", 31)
    pub = aeron.add_publication("aeron:ipc", 31)
    wait_for(lambda: pub.is_connected, 10, "connected")
    publish(pub, 5)
    out = io.StringIO()
    args = argparse.Namespace(watch=True, interval=0.2, count=2, serve=None, allow_stale=False)
    assert stat.run(args, aeron_dir, out) == 0
    screens = out.getvalue().split(stat.CLEAR_SCREEN)[1:]
    assert len(screens) == 2
    assert "pub-pos (concurrent)" in screens[1] and "rate/s" in screens[1]
    # the second screen has a rate for every counter that existed on the first
    bytes_mapped = next(x for x in screens[1].splitlines() if x.endswith("- Bytes currently mapped"))
    assert len(bytes_mapped.split()) == 7
