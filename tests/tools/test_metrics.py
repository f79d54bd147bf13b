"""aeronpy stat --serve: OpenMetrics scraped over HTTP and parsed with prometheus_client's parser."""

from __future__ import annotations

import signal
import urllib.request
from typing import Any, Callable

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from aeronpy.tools import metrics
from aeronpy.tools.cnc_access import ToolError
from aeronpy.tools.metric_names import SYSTEM_COUNTERS
from tests.conftest import cli_env, interrupt_and_wait, wait_for
from tests.tools.helpers import publish

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def scrape(server: Any) -> dict[str, Any]:
    host, port = server.server_address[:2]
    req = urllib.request.Request(f"http://{host}:{port}/metrics", headers={"Accept": OPENMETRICS})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.headers["Content-Type"].startswith("application/openmetrics-text")
        text = r.read().decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_every_counter_exposed_with_stable_names_and_labels(
    driver: Any, client_factory: Callable[..., Any], aeron_dir: str
) -> None:
    aeron = client_factory()
    aeron.add_subscription("aeron:ipc", 55)
    pub = aeron.add_publication("aeron:ipc", 55)
    wait_for(lambda: pub.is_connected, 10, "connected")
    publish(pub, 4, 64)  # 4 × 96 B
    server, reader = metrics.serve(aeron_dir, "127.0.0.1:0")
    try:
        def published() -> dict[str, Any] | None:
            fams = scrape(server)
            pos = fams.get("aeron_publisher_position")
            return fams if pos and any(s.value == 384 for s in pos.samples) else None

        fams = wait_for(published, 10, "pub-pos 384")
        assert isinstance(fams, dict)
        assert fams["aeron_driver_up"].samples[0].value == 1
        for name, cumulative in SYSTEM_COUNTERS.values():
            if name in ("native_resource_agent_proxy_fails",):
                continue  # allocated only by drivers with that agent
            fam = fams.get(f"aeron_{name}")
            assert fam is not None, name
            assert fam.type == ("counter" if cumulative else "gauge"), name
        assert fams["aeron_bytes_sent"].samples[0].name == "aeron_bytes_sent_total"
        sample = next(s for s in fams["aeron_publisher_position"].samples if s.labels["stream"] == "55")
        assert sample.labels == {"type": "pub-pos", "stream": "55", "session": str(pub.session_id),
                                 "channel": "aeron:ipc", "registration_id": str(pub.registration_id)}
        assert sample.value == 384
        assert any(s.labels["stream"] == "55" for s in fams["aeron_publisher_limit"].samples)
        sub_pos = next(s for s in fams["aeron_subscriber_position"].samples if s.labels["stream"] == "55")
        assert sub_pos.labels["type"] == "sub-pos" and sub_pos.labels["session"] == str(pub.session_id)
        beats = fams["aeron_client_heartbeat_ms"].samples
        assert any(s.labels["client_id"] == str(aeron.client_id) for s in beats)
        # every allocated counter is one sample somewhere
        with metrics.open_cnc(aeron_dir) as cnc:
            from aeronpy.tools import snapshot
            count = len(snapshot.take(cnc).counters)
        exposed = sum(len(f.samples) for n, f in fams.items()
                      if n not in ("aeron_driver_up", "aeron_driver_heartbeat_age_ms"))
        assert exposed >= count - 2  # counters may come and go between the two reads
    finally:
        server.shutdown()
        reader.close()


def test_driver_down_then_back(driver_factory: Callable[..., Any], aeron_dir: str) -> None:
    server, reader = metrics.serve(aeron_dir, "127.0.0.1:0")
    try:
        fams = scrape(server)
        assert fams["aeron_driver_up"].samples[0].value == 0 and "aeron_bytes_sent" not in fams
        assert "does not exist" in reader.last_error
        d = driver_factory()
        wait_for(lambda: scrape(server)["aeron_driver_up"].samples[0].value == 1, 10, "driver up")
        d.close()
        wait_for(lambda: scrape(server)["aeron_driver_up"].samples[0].value == 0, 15, "driver down")
        driver_factory()
        wait_for(lambda: scrape(server)["aeron_driver_up"].samples[0].value == 1, 10, "driver back")
    finally:
        server.shutdown()
        reader.close()


@pytest.mark.parametrize("text, match", [("nonsense", "HOST:PORT"), ("h:x", "number"), (":70000", "0..65535")])
def test_bad_serve_address(text: str, match: str) -> None:
    with pytest.raises(ToolError, match=match):
        metrics.parse_host_port(text)
    assert metrics.parse_host_port(":9100") == ("127.0.0.1", 9100)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_stat_serve_command(driver: Any, aeron_dir: str, signum: int) -> None:
    import re
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "aeronpy", "stat", "--serve", "127.0.0.1:0", "--dir", aeron_dir],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env())
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/metrics", line)
        assert match, line
        req = urllib.request.Request(f"http://127.0.0.1:{match.group(1)}/metrics", headers={"Accept": OPENMETRICS})
        with urllib.request.urlopen(req, timeout=10) as r:
            fams = {f.name: f for f in text_string_to_metric_families(r.read().decode())}
        assert fams["aeron_driver_up"].samples[0].value == 1 and "aeron_bytes_sent" in fams
    finally:
        assert interrupt_and_wait(proc, signum=signum) == 0


def test_reader_follows_a_replaced_cnc(tmp_path: Any) -> None:
    from aeronpy.concurrent.clock import epoch_ms
    from tests.tools.test_cnc_access import make_cnc

    make_cnc(tmp_path, epoch_ms())
    reader = metrics.DriverReader(str(tmp_path))
    try:
        first = reader.snapshot()
        assert first is not None
        (tmp_path / "cnc.dat").unlink()
        assert reader.snapshot() is None and "no cnc.dat" in reader.last_error
        make_cnc(tmp_path, epoch_ms())  # a new driver's file at the same path
        assert reader.snapshot() is not None
    finally:
        reader.close()
