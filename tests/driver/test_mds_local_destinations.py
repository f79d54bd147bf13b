"""Multi-destination subscriptions (``control-mode=manual``) with local destinations: an
``aeron:ipc`` destination links the subscription to IPC publications of its stream, an
``aeron-spy:`` destination to the matching local network publications (Aeron C
``on_add_receive_ipc_destination`` / ``..._spy_destination``)."""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import time
from typing import Any, Callable

import pytest

from aeronpy.errors import RegistrationError
from aeronpy.protocol.control import ErrorCode
from tests.conftest import wait_for

MDS = "aeron:udp?control-mode=manual"
SEQ = struct.Struct("<q")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
WORKER = os.path.join(ROOT, "tests", "e2e", "worker.py")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pump(pub: Any, sub: Any, count: int, start: int = 0, timeout: float = 30.0) -> list[int]:
    got: list[int] = []
    sent = 0
    deadline = time.monotonic() + timeout
    while (sent < count or len(got) < count) and time.monotonic() < deadline:
        if sent < count and pub.offer(SEQ.pack(start + sent) + bytes(24)) > 0:
            sent += 1
        if not sub.poll(lambda b, o, n, h: got.append(b.get_int64(o)), 64):
            time.sleep(0)
    return got


def test_ipc_destination_gets_ipc_images(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    sub = aeron.add_subscription(MDS, 2001)
    early = aeron.add_publication("aeron:ipc", 2001)  # exists before the destination
    assert sub.image_count == 0
    sub.add_destination("aeron:ipc")
    wait_for(lambda: sub.image_count == 1, message="image of the existing IPC publication")
    assert sub.images[0].source_identity == "aeron:ipc"
    assert sub.images[0].session_id == early.session_id
    late = aeron.add_exclusive_publication("aeron:ipc", 2001)  # created after: linked too
    wait_for(lambda: sub.image_count == 2, message="image of the later IPC publication")
    assert {i.session_id for i in sub.images} == {early.session_id, late.session_id}
    assert pump(early, sub, 500) == list(range(500))
    other_stream = aeron.add_publication("aeron:ipc", 2002)
    time.sleep(0.05)
    assert sub.image_count == 2  # the MDS subscription's stream only
    assert not other_stream.is_connected


def test_removing_the_ipc_destination_makes_its_images_unavailable(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    gone: list[Any] = []
    sub = aeron.add_subscription(MDS, 2003, unavailable_image_handler=gone.append)
    pub = aeron.add_publication("aeron:ipc", 2003)
    sub.add_destination("aeron:ipc")
    wait_for(lambda: sub.image_count == 1 and pub.is_connected, message="IPC image")
    sub.remove_destination("aeron:ipc")
    wait_for(lambda: sub.image_count == 0 and gone, message="image unavailable")
    wait_for(lambda: not pub.is_connected, message="publication without subscribers")
    sub.add_destination("aeron:ipc")  # and back again
    wait_for(lambda: sub.image_count == 1, message="IPC image again")
    assert pump(pub, sub, 100, start=7) == list(range(7, 107))


def test_ipc_destination_params_filter_sessions(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    sub = aeron.add_subscription(MDS, 2004)
    wanted = aeron.add_exclusive_publication("aeron:ipc?session-id=777", 2004)
    aeron.add_exclusive_publication("aeron:ipc?session-id=778", 2004)
    sub.add_destination("aeron:ipc?session-id=777")
    wait_for(lambda: sub.image_count == 1, message="one image")
    time.sleep(0.05)
    assert [i.session_id for i in sub.images] == [wanted.session_id] == [777]


def test_closing_the_mds_subscription_unlinks_its_ipc_and_spy_destinations(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    channel = f"aeron:udp?endpoint=127.0.0.1:{free_port()}|ssc=true"
    sub = aeron.add_subscription(MDS, 2005)
    ipc = aeron.add_publication("aeron:ipc", 2005)
    udp = aeron.add_publication(channel, 2005)
    sub.add_destination("aeron:ipc")
    sub.add_destination(f"aeron-spy:{channel}")
    wait_for(lambda: sub.image_count == 2 and ipc.is_connected and udp.is_connected, message="both local images")
    sub.close()
    wait_for(lambda: not ipc.is_connected and not udp.is_connected, message="no subscriber left")


def test_spy_destination_gets_local_network_publication_images(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    port = free_port()
    channel = f"aeron:udp?endpoint=127.0.0.1:{port}"
    early = aeron.add_publication(f"{channel}|ssc=true", 2006)
    sub = aeron.add_subscription(MDS, 2006)
    sub.add_destination(f"aeron-spy:{channel}")
    wait_for(lambda: sub.image_count == 1, message="spy image")
    assert sub.images[0].session_id == early.session_id
    assert sub.images[0].source_identity == "aeron:ipc"
    late = aeron.add_exclusive_publication(f"{channel}|ssc=true", 2006)
    wait_for(lambda: sub.image_count == 2, message="spy image of a later publication")
    aeron.add_publication(f"aeron:udp?endpoint=127.0.0.1:{free_port()}", 2006)  # another channel
    time.sleep(0.05)
    assert {i.session_id for i in sub.images} == {early.session_id, late.session_id}
    # spies-simulate-connection lets the publications offer with only spies to read them
    got: list[int] = []
    sent = 0
    deadline = time.monotonic() + 30
    while len(got) < 200 and time.monotonic() < deadline:
        if sent < 200 and late.offer(SEQ.pack(sent) + bytes(24)) > 0:
            sent += 1
        sub.poll(lambda b, o, n, h: got.append(b.get_int64(o)), 64)
    assert got == list(range(200))
    sub.remove_destination(f"aeron-spy:{channel}")
    wait_for(lambda: sub.image_count == 0, message="spy images unavailable")


def test_mixed_udp_ipc_and_spy_destinations(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    udp_port, spy_port = free_port(), free_port()
    sub = aeron.add_subscription(MDS, 2007)
    sub.add_destination(f"aeron:udp?endpoint=127.0.0.1:{udp_port}")
    sub.add_destination("aeron:ipc")
    sub.add_destination(f"aeron-spy:aeron:udp?endpoint=127.0.0.1:{spy_port}")
    pubs = [
        aeron.add_publication(f"aeron:udp?endpoint=127.0.0.1:{udp_port}", 2007),
        aeron.add_publication("aeron:ipc", 2007),
        aeron.add_publication(f"aeron:udp?endpoint=127.0.0.1:{spy_port}", 2007),
    ]
    wait_for(lambda: sub.image_count == 3, message="three images: UDP, IPC and spy")
    identities = sorted(i.source_identity for i in sub.images)
    assert identities[0].startswith("127.0.0.1:") and identities[1:] == ["aeron:ipc", "aeron:ipc"]
    for n, pub in enumerate(pubs[:2]):
        assert pump(pub, sub, 100, start=1000 * n) == list(range(1000 * n, 1000 * n + 100))


def test_local_destination_errors(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    plain = aeron.add_subscription(f"aeron:udp?endpoint=127.0.0.1:{free_port()}", 2008)
    for destination in ("aeron:ipc", f"aeron-spy:aeron:udp?endpoint=127.0.0.1:{free_port()}"):
        with pytest.raises(RegistrationError) as info:
            plain.add_destination(destination)
        assert "does not allow manual control" in str(info.value)
    ipc_sub = aeron.add_subscription("aeron:ipc", 2008)
    with pytest.raises(RegistrationError) as info:
        ipc_sub.add_destination("aeron:ipc")
    assert info.value.error_code == ErrorCode.UNKNOWN_SUBSCRIPTION
    mds = aeron.add_subscription(MDS, 2008)
    for destination in ("aeron:ipc", "aeron-spy:aeron:udp?endpoint=127.0.0.1:1"):
        with pytest.raises(RegistrationError) as info:
            mds.remove_destination(destination)  # never added
        assert info.value.error_code == ErrorCode.UNKNOWN_SUBSCRIPTION
    with pytest.raises(RegistrationError):
        mds.add_destination("aeron:ipc?session-id=notanumber")
    with pytest.raises(RegistrationError):
        mds.add_destination("aeron-spy:aeron:udp?endpoint=127.0.0.1:notaport")
    mds.add_destination("aeron:ipc")  # the driver is fine after all that
    pub = aeron.add_publication("aeron:ipc", 2008)
    wait_for(lambda: mds.image_count == 1 and pub.is_connected, message="image after the errors")


def _spawn(*args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "src"), ROOT]))
    return subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def test_multi_process_ipc_and_spy_destinations(aeron_dir: str, client_factory: Callable[..., Any]) -> None:
    """Driver, an IPC publisher and a UDP publisher in their own processes; the MDS subscriber
    here gets both streams through its IPC and spy destinations."""
    driver = _spawn("-m", "aeronpy", "driver", "--dir", aeron_dir, "-D", "aeron.threading.mode=SHARED",
                    "-D", "aeron.ipc.term.buffer.length=64k", "-D", "aeron.term.buffer.length=64k")
    procs = [driver]
    try:
        assert driver.stdout is not None
        line = driver.stdout.readline()
        assert line.startswith("aeronpy media driver running"), line
        aeron = client_factory()
        sub = aeron.add_subscription(MDS, 2010)
        sub.add_destination("aeron:ipc")
        udp_channel = f"aeron:udp?endpoint=127.0.0.1:{free_port()}|ssc=true"
        sub.add_destination(f"aeron-spy:{udp_channel}")
        count = 2000
        procs.append(_spawn(WORKER, "pub", aeron_dir, "aeron:ipc", "2010", "1", str(count)))
        procs.append(_spawn(WORKER, "pub", aeron_dir, udp_channel, "2010", "2", str(count)))
        seen: dict[int, list[int]] = {1: [], 2: []}

        def on_fragment(buffer: Any, offset: int, length: int, header: Any) -> None:
            publisher_id, seq = struct.unpack_from("<iq", buffer.get_bytes(offset, 12))
            seen[publisher_id].append(seq)

        deadline = time.monotonic() + 60
        while min(len(v) for v in seen.values()) < count and time.monotonic() < deadline:
            if not sub.poll(on_fragment, 64):
                time.sleep(0.001)
        assert seen[1] == list(range(count))
        assert seen[2] == list(range(count))
        for p in procs[1:]:
            out, _ = p.communicate(timeout=60)
            assert p.returncode == 0, out
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        driver.wait(timeout=30)
