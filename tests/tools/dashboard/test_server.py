"""The dashboard's JSON endpoints, the sampler and the message counter against an embedded driver."""

from __future__ import annotations

import json
import signal
import struct
import threading
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Iterator

import pytest

from aeronpy.tools.dashboard.messages import MessageCounter, mean_message_length
from aeronpy.tools.dashboard.server import Dashboard
from tests.conftest import cli_env, interrupt_and_wait, wait_for
from tests.tools.helpers import drain, publish


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            body = r.read()
            return r.status, json.loads(body) if r.headers["Content-Type"] == "application/json" else body
    except urllib.error.HTTPError as e:
        body = e.read()
        return e.code, json.loads(body) if e.headers["Content-Type"] == "application/json" else body


@pytest.fixture
def dashboard(aeron_dir: str) -> Iterator[Dashboard]:
    dash = Dashboard(aeron_dir, port=0, interval=0.2)
    dash.start()
    yield dash
    dash.close()


def test_bytes_per_message_from_the_log(driver: Any, client_factory: Callable[..., Any], aeron_dir: str) -> None:
    aeron = client_factory()
    sub = aeron.add_subscription("aeron:ipc", 61)
    pub = aeron.add_publication("aeron:ipc", 61)
    wait_for(lambda: pub.is_connected, 10, "connected")
    counter = MessageCounter(aeron_dir)
    assert counter.bytes_per_message(pub.registration_id, 0) is None  # nothing written yet
    publish(pub, 6, 100)  # 160 B frames
    assert counter.bytes_per_message(pub.registration_id, pub.position) == 160
    publish(pub, 2, 3000)  # 3 fragments at MTU 1408: 1408 + 1408 + align(32 + 248) = 3104 B, one message each
    assert counter.bytes_per_message(pub.registration_id, pub.position) == (6 * 160 + 2 * 3104) / 8
    drain(sub, 12)  # consumed: the driver cleans behind the subscriber; the estimate survives
    wait_for(lambda: counter.bytes_per_message(pub.registration_id, pub.position) is not None, 5, "estimate")
    assert counter.bytes_per_message(12345, 100) is None  # no such log
    counter.close()


def test_mean_message_length_skips_the_cleaned_prefix() -> None:
    term = bytearray(64 * 1024)
    for i, offset in enumerate(range(4096, 4096 + 5 * 64, 64)):  # five 40 B frames (64 B aligned)
        struct.pack_into("<iBBhiiii", term, offset, 40, 0, 0xC0, 1, offset, 1, 2, 3)
    assert mean_message_length(bytes(term), 0, len(term)) == 64
    struct.pack_into("<iBBh", term, 4096 + 64, 40, 0, 0x80, 1)  # a BEGIN fragment ...
    struct.pack_into("<iBBh", term, 4096 + 128, 40, 0, 0x40, 1)  # ... and its END: one message
    assert mean_message_length(bytes(term), 0, len(term)) == 5 * 64 / 4
    assert mean_message_length(bytes(64 * 1024), 0, 64 * 1024) is None


def test_state_and_sizing_endpoints(
    driver: Any, client_factory: Callable[..., Any], aeron_dir: str, dashboard: Dashboard
) -> None:
    aeron = client_factory()
    sub = aeron.add_subscription("aeron:ipc", 62)
    pub = aeron.add_publication("aeron:ipc", 62)
    wait_for(lambda: pub.is_connected, 10, "connected")
    stop = threading.Event()

    def flow() -> None:
        while not stop.is_set():
            pub.offer(b"m" * 50)
            sub.poll(lambda *a: None, 10)
            time.sleep(0.002)

    t = threading.Thread(target=flow)
    t.start()
    try:
        def streaming() -> Any:
            status, state = get(dashboard.url + "api/state")
            streams = [s for s in state["streams"] if s["stream"] == 62]
            return state if streams and (streams[0]["msg_rate"] or 0) > 0 and streams[0]["byte_rate"] else None

        state = wait_for(streaming, 20, "stream 62 with rates")
        s = next(x for x in state["streams"] if x["stream"] == 62)
        assert s["session"] == pub.session_id and s["channel"] == "aeron:ipc" and s["kind"] == "ipc"
        assert s["byte_rate"] == pytest.approx(s["msg_rate"] * 96, rel=0.5)  # 50 B + 32 B header -> 96 B frames
        assert s["lag"] is not None and s["lag"] >= 0 and len(s["sub_pos"]) == 1
        d = state["driver"]
        assert d["up"] and d["clients"] >= 1 and d["heartbeat_age_ms"] is not None
        assert set(state["system_rates"]) >= {"naks_sent", "retransmits_sent", "loss_gap_fills", "back_pressure"}
        assert len(state["history"]) >= 2 and state["history"][-1]["streams"][s["key"]]["msg_rate"] is not None
    finally:
        stop.set()
        t.join()

    status, data = get(dashboard.url + "api/sizing?message_size=992&rate=1220703.125&rtt=100us&stall=100us")
    assert status == 200
    window = next(q for q in data["quantities"] if q["key"] == "initial_window")
    assert window["min_text"] == "262,144 B (256k)"
    status, data = get(dashboard.url + "api/sizing?message_size=abc&rate=1&rtt=1ms")
    assert status == 400 and "message-size" in data["error"]

    status, page = get(dashboard.url)
    assert status == 200 and b"sizing-form" in page and b"/static/app.js" in page
    for asset in ("app.js", "style.css"):
        status, body = get(dashboard.url + "static/" + asset)
        assert status == 200
        assert b"http://" not in body and b"https://" not in body  # works offline: nothing fetched from elsewhere
    assert b"http://" not in page and b"https://" not in page
    assert get(dashboard.url + "static/../server.py")[0] == 404
    status, metrics = get(dashboard.url + "metrics")
    assert status == 200 and b"aeron_driver_up 1.0" in metrics


def test_driver_not_running_then_recovers(driver_factory: Callable[..., Any], dashboard: Dashboard) -> None:
    def driver_state() -> Any:
        return get(dashboard.url + "api/state")[1]["driver"]

    wait_for(lambda: not driver_state()["up"] and "does not exist" in driver_state()["error"], 10, "down")
    first = driver_factory()
    wait_for(lambda: driver_state()["up"], 10, "up")
    first.close()
    wait_for(lambda: not driver_state()["up"], 15, "down again")
    driver_factory()
    wait_for(lambda: driver_state()["up"], 10, "recovered")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_dashboard_command(tmp_path: Any, signum: int) -> None:
    import re
    import subprocess
    import sys

    missing = str(tmp_path / "no-driver")
    proc = subprocess.Popen([sys.executable, "-m", "aeronpy", "dashboard", "--port", "0", "--dir", missing],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env())
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
        assert match, line
        state = wait_for(lambda: get(match.group(1) + "api/state")[1], 10, "state")
        assert state["driver"]["up"] is False
    finally:
        assert interrupt_and_wait(proc, signum=signum) == 0
    bad = subprocess.run([sys.executable, "-m", "aeronpy", "dashboard", "--port", "99999"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "--port must be in 0..65535" in bad.stderr and "Traceback" not in bad.stderr


def test_lossy_udp_stream_shows_naks_and_retransmits(
    driver_factory: Callable[..., Any], client_factory: Callable[..., Any], aeron_dir: str, dashboard: Dashboard
) -> None:
    from tests.tools.helpers import free_udp_port

    driver_factory(udp_channel_incoming_interceptors="loss",
                   udp_channel_transport_bindings_loss_args="rate=0.2|seed=7|recv-msg-mask=0x2")
    channel = f"aeron:udp?endpoint=127.0.0.1:{free_udp_port()}"
    aeron = client_factory()
    sub = aeron.add_subscription(channel, 63)
    pub = aeron.add_publication(channel, 63)
    wait_for(lambda: pub.is_connected, 20, "connected")
    publish(pub, 300, 200)
    drain(sub, 300)

    def recovered() -> Any:
        state = get(dashboard.url + "api/state")[1]
        s = next((x for x in state["streams"] if x["stream"] == 63), None)
        return state if s and (s["naks_sent"] or 0) > 0 and (s["naks_received"] or 0) > 0 else None

    state = wait_for(recovered, 20, "NAKs on stream 63")
    assert state["system"]["naks_sent"] > 0 and state["system"]["retransmits_sent"] > 0
    s = next(x for x in state["streams"] if x["stream"] == 63)
    assert s["kind"] == "udp" and s["rcv_hwm"] is not None and s["snd_pos"] is not None


def test_errors_from_the_distinct_error_log(
    driver: Any, client_factory: Callable[..., Any], dashboard: Dashboard
) -> None:
    from aeronpy.errors import RegistrationError

    aeron = client_factory()
    for _ in range(2):
        with pytest.raises(RegistrationError):
            aeron.add_publication("aeron:ipc?mtu=100", 64)

    def errors() -> Any:
        return get(dashboard.url + "api/state")[1].get("errors")

    found = wait_for(errors, 10, "errors in the state")
    assert found[0]["count"] == 2 and "mtu" in found[0]["text"] and found[0]["last_ms"] >= found[0]["first_ms"]
