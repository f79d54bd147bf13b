"""Smoke tests: every sample in examples/ against `aeronpy driver` and against the real Aeron C driver."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop import reference
from tests.interop.procs import ManagedProcess, ProcessGroup, c_driver_command, free_udp_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TIMEOUT = 120.0


@pytest.fixture(scope="module", params=["aeronpy", pytest.param("c", marks=pytest.mark.interop)])
def driver_dir(request: pytest.FixtureRequest) -> Iterator[Path]:
    """The directory of a running media driver of each kind (one per module)."""
    with ProcessGroup() as procs:
        aeron_dir = procs.new_aeron_dir()
        if request.param == "c":
            reference.require_reference()
            procs.start_driver(c_driver_command(aeron_dir), aeron_dir, name="c-driver")
        else:
            procs.start_driver(
                [sys.executable, "-m", "aeronpy", "driver", "--dir", str(aeron_dir)], aeron_dir,
                ready_line="aeronpy media driver running", ready_exact=False, name="aeronpy-driver")
        yield aeron_dir


@pytest.fixture
def procs() -> Iterator[ProcessGroup]:
    with ProcessGroup() as group:
        yield group


def sample(name: str, aeron_dir: Path, *args: str) -> list[str]:
    return [sys.executable, str(EXAMPLES / f"{name}.py"), "--dir", str(aeron_dir), "--timeout", "30", *args]


def udp() -> str:
    return f"aeron:udp?endpoint=127.0.0.1:{free_udp_port()}"


def finish(proc: ManagedProcess) -> str:
    proc.assert_exit_ok(TIMEOUT)
    return proc.stdout


def test_basic_publisher_and_subscriber(driver_dir: Path, procs: ProcessGroup) -> None:
    channel = udp()
    sub = procs.start_subscriber(sample("basic_subscriber", driver_dir, "--channel", channel, "--messages", "5"),
                                 ready_line="Subscribing to", ready_exact=False)
    pub = procs.start(sample("basic_publisher", driver_dir, "--channel", channel, "--messages", "5",
                             "--interval", "0.01"), name="basic_publisher")
    assert "Done sending." in finish(pub)
    out = finish(sub)
    for i in range(5):
        assert f"<<Hello World! {i}>>" in out
    assert "Received 5 messages." in out and "Available image: session" in out


def test_streaming_publisher_and_rate_subscriber(driver_dir: Path, procs: ProcessGroup) -> None:
    channel = udp()
    sub = procs.start_subscriber(sample("rate_subscriber", driver_dir, "--channel", channel, "--messages", "20000"),
                                 ready_line="Subscribing to", ready_exact=False)
    pub = procs.start(sample("streaming_publisher", driver_dir, "--channel", channel, "--messages", "20000",
                             "--size", "64"), name="streaming_publisher")
    assert "Sent 20,000 messages" in finish(pub)
    assert "Received 20,000 messages in order (1,280,000 bytes)" in finish(sub)


def test_ping_pong(driver_dir: Path, procs: ProcessGroup) -> None:
    ping_channel, pong_channel = udp(), udp()
    channels = ["--channel", ping_channel, "--pong-channel", pong_channel]
    pong = procs.start_subscriber(sample("pong", driver_dir, *channels, "--messages", "60"),
                                  ready_line="Pong: echoing", ready_exact=False)
    ping = procs.start(sample("ping", driver_dir, *channels, "--messages", "50", "--warmup", "10"), name="ping")
    out = finish(ping)
    assert "50 round trips of 32 bytes; RTT us: p50=" in out and "p99=" in out
    assert "Echoed 60 messages." in finish(pong)


def test_multiple_subscribers_with_fragment_assembly(driver_dir: Path, procs: ProcessGroup) -> None:
    channel = udp()
    sub = procs.start_subscriber(
        sample("multiple_subscribers_with_fragment_assembly", driver_dir, "--channel", channel, "--messages", "4"),
        ready_line="Subscribed to", ready_exact=False)
    pub = procs.start(sample("multiple_publishers_with_fragmentation", driver_dir, "--channel", channel,
                             "--messages", "4"), name="multiple_publishers")
    assert "Sent 4 messages of 10000 bytes on streams 10 and 11." in finish(pub)
    out = finish(sub)
    assert "Reassembled 4 messages on each stream." in out
    assert "stream 10 session" in out and "stream 11 session" in out and "of 10000 bytes reassembled" in out


def test_tools_read_the_driver(driver_dir: Path, procs: ProcessGroup) -> None:
    channel = udp()
    # 20 messages 0.5 s apart: the stream stays live for 10 s while the tools start, even on a
    # loaded machine where each tool takes seconds to start
    sub = procs.start_subscriber(sample("basic_subscriber", driver_dir, "--channel", channel, "--stream", "4711",
                                        "--messages", "20"), ready_line="Subscribing to", ready_exact=False)
    pub = procs.start(sample("basic_publisher", driver_dir, "--channel", channel, "--stream", "4711",
                             "--messages", "20", "--interval", "0.5"), name="basic_publisher")
    sub.wait_for_line("<<Hello World! 0>>", 30, exact=False)  # the stream is live while the tools look
    for argv, expect in ((["stat"], "Aeron Stat"), (["streams"], "streamId=4711"), (["backlog"], "streamId=4711")):
        tool = procs.start([sys.executable, "-m", "aeronpy", *argv, "--dir", str(driver_dir)], name=argv[0])
        assert expect in finish(tool), argv
    finish(pub)
    finish(sub)
