"""``aeronpy cluster-client`` against the fake cluster: success, leader change, every failure's exit code."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aeronpy.cli import main
from aeronpy.cluster.client_cli import EchoTracker, check_payload, make_payload
from tests.cluster.client.fake_cluster import FakeCluster
from tests.conftest import wait_for


def run(fake: FakeCluster, aeron_dir: str, *extra: str) -> int:
    return main(["cluster-client", "--dir", aeron_dir, "--ingress-endpoints", fake.ingress_endpoints(),
                 "--egress-channel", "aeron:udp?endpoint=127.0.0.1:0|term-length=64k", *extra])


def test_every_echo_back(fake: FakeCluster, aeron_dir: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(fake, aeron_dir, "--count", "300", "--size", "100") == 0
    out = capsys.readouterr().out
    assert "300 of 300 echoes back intact and in order (resent 0, duplicates 0)" in out
    assert "msgs/s, rtt p50" in out and "longest echo gap" in out
    assert "sessions 1, leader changes 0, leader 0 term 5" in out
    sent = fake.of("SessionMessageHeader")
    assert [int.from_bytes(r.data[32:40], "little") for r in sent] == list(range(300))
    assert all(len(r.data) == 132 for r in sent)


def test_zero_messages_is_fine(fake: FakeCluster, aeron_dir: str) -> None:
    assert run(fake, aeron_dir, "--count", "0") == 0


def test_rides_through_a_leader_change(
    fake_factory: Callable[..., FakeCluster], aeron_dir: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = fake_factory(members=2, leader_id=0)
    state: dict[str, Any] = {}
    held: list[bytes] = []

    def hold_after_100(payload: bytes) -> list[bytes]:
        # the old leader stops echoing at message 100: those messages must be resent
        if int.from_bytes(payload[:8], "little") >= 100 and fake.leader_id == 0:
            held.append(payload)
            return []
        return [payload]

    fake.echo_transform = hold_after_100
    thread = threading.Thread(target=lambda: state.update(code=run(fake, aeron_dir, "--count", "400", "--window", "16",
                                                                   "--timeout", "20")))
    thread.start()
    try:
        wait_for(lambda: len(held) >= 16, 20, "the client to fill its window")
        fake.stop_member(0)
        fake.elect(1)
    finally:
        thread.join(60)
    assert state.get("code") == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "400 of 400 echoes back" in out and "leader changes 1, leader 1 term 6" in out
    resent = [int.from_bytes(r.data[32:40], "little") for r in fake.of("SessionMessageHeader") if r.member_id == 1]
    assert resent[0] == 100 and resent == list(range(100, 400))


@pytest.mark.parametrize("transform, message", [
    (lambda p: [p[:20] + bytes([p[20] ^ 1]) + p[21:]], "checksum mismatch"),
    (lambda p: [p, p], "echoed twice"),
    (lambda p: [] if p[0] == 5 else [p], "echo of message 6 arrived before message 5"),
    (lambda p: [p[:-1]], "echo of 63 bytes, expected 64"),
])
def test_bad_echoes_fail(fake: FakeCluster, aeron_dir: str, capsys: pytest.CaptureFixture[str],
                         transform: Callable[[bytes], list[bytes]], message: str) -> None:
    fake.echo_transform = transform
    assert run(fake, aeron_dir, "--count", "50", "--timeout", "10") == 1
    assert message in capsys.readouterr().err


def test_no_echo_times_out(fake: FakeCluster, aeron_dir: str, capsys: pytest.CaptureFixture[str]) -> None:
    fake.echo = False
    assert run(fake, aeron_dir, "--count", "5", "--timeout", "0.5") == 1
    err = capsys.readouterr().err
    assert "no echo for 0.5s (0 of 5 echoed, session CONNECTED)" in err


def test_refused_connect(fake: FakeCluster, aeron_dir: str, capsys: pytest.CaptureFixture[str]) -> None:
    fake.connect_mode = "error"
    assert run(fake, aeron_dir, "--count", "5") == 1
    assert "connect refused: concurrent session limit" in capsys.readouterr().err


def test_size_above_the_ingress_limit(fake: FakeCluster, aeron_dir: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(fake, aeron_dir, "--size", "20000", "-D", "aeron.cluster.ingress.channel=aeron:udp?term-length=64k") == 2
    assert "--size 20000 exceeds the ingress max message length 8160" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--count", "-1"], "out of range"),
    (["--size", "11"], "out of range"),
    (["--timeout", "nan"], "finite number"),
    (["--ingress-endpoints", "0-localhost:1"], "endpoint missing '=' separator"),
    (["--ingress-endpoints", "0=localhost:1", "-D", "aeron.cluster.message.timeout=soon"],
     "aeron.cluster.message.timeout=soon: not a duration"),
    (["--ingress-endpoints", "0=localhost:1", "-D", "novalue"], "-D expects key=value"),
    ([], "aeron.cluster.ingress.channel=aeron:udp?term-length=128k: needs endpoint="),
])
def test_bad_arguments_exit_2_without_a_traceback(argv: list[str], message: str) -> None:
    done = subprocess.run([sys.executable, "-m", "aeronpy", "cluster-client", *argv], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2, done
    assert message in done.stderr
    assert "Traceback" not in done.stderr


@given(seq=st.integers(0, (1 << 31) - 1), size=st.integers(12, 600))
def test_payloads_check_out(seq: int, size: int) -> None:
    payload = make_payload(seq, size)
    assert len(payload) == size
    assert check_payload(payload, size, seq + 1) == (seq, None)
    flipped = bytearray(payload)
    flipped[size // 2] ^= 0x40
    assert check_payload(bytes(flipped), size, seq + 1)[1] is not None


def test_tracker_counts_resends_and_their_duplicates() -> None:
    t = EchoTracker(count=4, size=16, window=2)
    for now in (0.0, 0.1):
        seq = t.want_send()
        assert seq is not None
        t.on_sent(seq, now)
    assert t.want_send() is None  # window full
    t.on_echo(make_payload(0, 16), 0.5)
    t.rewind()  # leader change: message 1 goes again
    assert t.want_send() == 1
    t.on_sent(1, 1.0)
    t.on_echo(make_payload(1, 16), 1.2)
    t.on_echo(make_payload(1, 16), 1.3)  # the first copy's echo, late
    assert (t.resent, t.duplicates, t.failure) == (1, 1, None)
    t.on_echo(make_payload(0, 16), 1.4)  # never resent: a real duplicate
    assert t.failure == "message 0 echoed twice"
    assert t.percentile_ms(0.5) == pytest.approx(500.0)
    assert t.longest_gap == pytest.approx(0.7)  # echo 0 at 0.5 s, echo 1 at 1.2 s


def test_separate_process_with_its_own_driver(fake: FakeCluster) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "aeronpy", "cluster-client", "--embedded-driver", "--ingress-endpoints",
         fake.ingress_endpoints(), "--egress-channel", "aeron:udp?endpoint=127.0.0.1:0|term-length=64k",
         "--count", "200", "--size", "333"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "200 of 200 echoes back intact and in order" in done.stdout
    assert done.stderr == ""


def test_settings_from_a_properties_file(fake: FakeCluster, aeron_dir: str, tmp_path: Any,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    props = tmp_path / "client.properties"
    props.write_text(f"aeron.cluster.ingress.endpoints={fake.ingress_endpoints()}\n"
                     "aeron.cluster.egress.channel=aeron:udp?endpoint=127.0.0.1:0|term-length=64k\n"
                     "aeron.cluster.egress.stream.id=222\n")
    assert main(["cluster-client", "--dir", aeron_dir, "--properties", str(props), "--count", "10"]) == 0
    assert "10 of 10 echoes back" in capsys.readouterr().out
    (connect,) = fake.of("SessionConnectRequest")
    assert connect.values["response_stream_id"] == 222


def test_losing_the_driver_fails_fast(fake: FakeCluster, capsys: pytest.CaptureFixture[str]) -> None:
    import os
    import uuid

    from aeronpy.driver.context import DriverContext
    from aeronpy.driver.media_driver import MediaDriver
    from tests.conftest import SHM

    client_dir = os.path.join(SHM, f"aeronpy-test-{uuid.uuid4().hex[:12]}")
    client_driver = MediaDriver.launch(DriverContext.from_properties(env={}, aeron_dir=client_dir,
                                                                     dir_delete_on_shutdown=True))
    fake.echo = False  # nothing comes back: the client waits with messages in flight
    state: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: state.update(code=main([
        "cluster-client", "--dir", client_dir, "--ingress-endpoints", fake.ingress_endpoints(),
        "--egress-channel", "aeron:udp?endpoint=127.0.0.1:0|term-length=64k", "--count", "10", "--timeout", "60",
        "-D", "aeron.driver.timeout=1000"])))
    thread.start()
    try:
        wait_for(lambda: fake.of("SessionMessageHeader"), 20, "messages at the fake")
    finally:
        client_driver.close()
        thread.join(60)
    assert state.get("code") == 1
    assert "the Aeron client closed" in capsys.readouterr().err
