"""MDS local destinations and frame timestamps against the REAL Aeron 1.53 C driver and client.

* The C client's multi-destination subscription on the aeronpy driver, with ``aeron:ipc`` and
  ``aeron-spy:`` destinations added through ``aeron_subscription_async_add_destination``: it
  gets every message of an IPC publisher and of a local UDP publisher; and the aeronpy client
  doing the same on the C driver (the reference behaviour).
* ``channel-snd-ts-offset``: a C sender stamps, the aeronpy receiver sees the stamps (and its own
  ``media-rcv-ts-offset`` / ``channel-rcv-ts-offset`` stamps next to them); an aeronpy sender
  stamps, a C receiver with receive timestamps sees all three.

Timestamps are wall-clock nanoseconds; "plausible" means within a few seconds of the test's
clock (both drivers run on this host).  A datagram carrying several frames has only its first
stamped by the sender (as C), so the senders here pace their messages and the checks require
the stamped ones to be plausible and most of them to be stamped.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

import pytest

from tests.interop.procs import ProcessFailure, ProcessGroup, c_client_command, free_udp_port
from tests.interop.test_udp_interop import (
    CLIENT_TIMEOUT_S,
    RUN_TIMEOUT_S,
    aeronpy_command,
    assert_no_aeronpy_errors,
    start_aeronpy_driver,
    start_c_driver,
)

pytestmark = pytest.mark.interop

ROOT = str(Path(__file__).resolve().parents[2])
COUNT = 200

# A C client subscriber: "mds" adds an MDS subscription and its destinations, "ts" a plain one
# whose messages must carry plausible timestamps at the given payload offsets.
C_SUB_SCRIPT = r"""
import ctypes, struct, sys, time
sys.path.insert(0, sys.argv[1])
from tests.interop import reference
from tests.interop.c_client import Client, ClientFailure, BackoffIdle

mode, aeron_dir, channel, stream, count = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
extra = sys.argv[7:]
deadline = time.monotonic() + 40
client = Client(aeron_dir, "aeronpy-interop-mds-ts")
lib = client.lib
for name, restype, argtypes in (
    ("aeron_subscription_async_add_destination", ctypes.c_int,
     (ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p)),
    ("aeron_subscription_async_destination_poll", ctypes.c_int, (ctypes.c_void_p,)),
):
    fn = getattr(lib, name)
    fn.restype, fn.argtypes = restype, argtypes
handle = ctypes.c_void_p()
if lib.aeron_async_add_subscription(ctypes.byref(handle), client.aeron, channel.encode(), stream, None, None, None, None) < 0:
    sys.exit("add subscription: " + reference.errmsg(lib))
sub = client.await_async("add subscription", lib.aeron_async_add_subscription_poll, handle, deadline)
if mode == "mds":
    for destination in extra:
        pending = ctypes.c_void_p()
        if lib.aeron_subscription_async_add_destination(ctypes.byref(pending), client.aeron, sub, destination.encode()) < 0:
            sys.exit("add destination: " + reference.errmsg(lib))
        while True:
            rc = lib.aeron_subscription_async_destination_poll(pending)
            if rc > 0:
                break
            if rc < 0:
                sys.exit("destination " + destination + ": " + reference.errmsg(lib))
            if time.monotonic() > deadline:
                sys.exit("destination " + destination + " timed out")
            time.sleep(0.001)
offsets = [int(o) for o in extra] if mode == "ts" else []
received = 0
stamped = [0] * len(offsets)
problems = []

def on_fragment(clientd, buffer, length, header):
    global received
    payload = ctypes.string_at(buffer, length)
    now = time.time_ns()
    for i, offset in enumerate(offsets):
        (value,) = struct.unpack_from("<q", payload, offset)
        if value:
            stamped[i] += 1
            if not now - 10_000_000_000 < value <= now + 1_000_000_000:
                problems.append(f"offset {offset}: {value} is not near {now}")
    received += 1

handler = reference.FRAGMENT_HANDLER(on_fragment)
print("READY", flush=True)
idle = BackoffIdle()
while received < count:
    fragments = lib.aeron_subscription_poll(sub, ctypes.cast(handler, ctypes.c_void_p), None, 64)
    client.check_errors()
    if time.monotonic() > deadline:
        sys.exit(f"timeout: received {received} of {count}, images={lib.aeron_subscription_image_count(sub)}")
    idle.idle(fragments)
print("received", received, "stamped", *stamped, flush=True)
if problems:
    sys.exit("; ".join(problems[:5]))
lib.aeron_subscription_close(sub, None, None)
client.close()
"""

# A C client publisher pacing COUNT zero-filled messages of SIZE bytes (one per datagram, mostly).
C_PUB_SCRIPT = r"""
import ctypes, sys, time
sys.path.insert(0, sys.argv[1])
from tests.interop import reference
from tests.interop.c_client import Client

aeron_dir, channel, stream, count, size = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
deadline = time.monotonic() + 40
client = Client(aeron_dir, "aeronpy-interop-ts-pub")
lib = client.lib
handle = ctypes.c_void_p()
if lib.aeron_async_add_publication(ctypes.byref(handle), client.aeron, channel.encode(), stream) < 0:
    sys.exit("add publication: " + reference.errmsg(lib))
pub = client.await_async("add publication", lib.aeron_async_add_publication_poll, handle, deadline)
while not lib.aeron_publication_is_connected(pub):
    if time.monotonic() > deadline:
        sys.exit("never connected")
    time.sleep(0.001)
message = bytes(size)
sent = 0
while sent < count:
    if lib.aeron_publication_offer(pub, message, size, None, None) > 0:
        sent += 1
        time.sleep(0.002)
    elif time.monotonic() > deadline:
        sys.exit(f"offer timed out at {sent}")
print("sent", sent, flush=True)
time.sleep(0.5)
client.close()
"""

# The aeronpy counterparts.
PY_SUB_SCRIPT = r"""
import sys, time
from aeronpy.client.aeron import Aeron
from aeronpy.client.context import Context

aeron_dir, channel, stream, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
offsets = sys.argv[5:]  # payload offsets, or "reserved"
problems, stamped, received = [], [0] * len(offsets), 0

def on_fragment(buffer, offset, length, header):
    global received
    now = time.time_ns()
    for i, where in enumerate(offsets):
        value = header.reserved_value if where == "reserved" else buffer.get_int64(offset + int(where))
        if value:
            stamped[i] += 1
            if not now - 10_000_000_000 < value <= now + 1_000_000_000:
                problems.append(f"{where}: {value} is not near {now}")
    received += 1

with Aeron.connect(Context.from_properties(env={}, aeron_dir=aeron_dir)) as aeron:
    sub = aeron.add_subscription(channel, stream)
    print("READY", flush=True)
    deadline = time.monotonic() + 40
    while received < count:
        if not sub.poll(on_fragment, 64):
            if time.monotonic() > deadline:
                sys.exit(f"timeout: received {received} of {count}")
            time.sleep(0.0005)
print("received", received, "stamped", *stamped, flush=True)
if problems:
    sys.exit("; ".join(problems[:5]))
"""

PY_MDS_SUB_SCRIPT = r"""
import sys, time
from aeronpy.client.aeron import Aeron
from aeronpy.client.context import Context

aeron_dir, stream, count, destinations = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
received = 0

def on_fragment(buffer, offset, length, header):
    global received
    received += 1

with Aeron.connect(Context.from_properties(env={}, aeron_dir=aeron_dir)) as aeron:
    sub = aeron.add_subscription("aeron:udp?control-mode=manual", stream)
    for destination in destinations:
        sub.add_destination(destination)
    print("READY", flush=True)
    deadline = time.monotonic() + 40
    while received < count:
        if not sub.poll(on_fragment, 64):
            if time.monotonic() > deadline:
                sys.exit(f"timeout: received {received} of {count}, images={sub.image_count}")
            time.sleep(0.0005)
    identities = sorted(i.source_identity for i in sub.images)
print("received", received, "images", *identities, flush=True)
"""

PY_PUB_SCRIPT = r"""
import sys, time
from aeronpy.client.aeron import Aeron
from aeronpy.client.context import Context

aeron_dir, channel, stream, count, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
with Aeron.connect(Context.from_properties(env={}, aeron_dir=aeron_dir)) as aeron:
    pub = aeron.add_publication(channel, stream)
    deadline = time.monotonic() + 40
    while not pub.is_connected:
        if time.monotonic() > deadline:
            sys.exit("never connected")
        time.sleep(0.001)
    sent = 0
    while sent < count:
        if pub.offer(bytes(size)) > 0:
            sent += 1
            time.sleep(0.002)
        elif time.monotonic() > deadline:
            sys.exit(f"offer timed out at {sent}")
    print("sent", sent, flush=True)
    time.sleep(0.5)
"""


def _env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH", "")
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (path, ROOT) if p))


def _stamped_counts(proc: object) -> list[int]:
    line = next(line for line in proc.stdout_lines if line.startswith("received "))  # type: ignore[attr-defined]
    words = line.split()
    return [int(w) for w in words[words.index("stamped") + 1:]]


def _finish(*procs: object) -> None:
    rcs = [p.wait(RUN_TIMEOUT_S) for p in procs]  # type: ignore[attr-defined]
    if any(rcs):
        raise ProcessFailure(f"rcs={rcs}\n" + "\n".join(p.describe() for p in procs))  # type: ignore[attr-defined]


def test_c_client_mds_with_ipc_and_spy_destinations_on_the_aeronpy_driver(c_reference: ctypes.CDLL, procs: ProcessGroup) -> None:
    py_dir = procs.new_aeron_dir()
    py_driver = start_aeronpy_driver(procs, py_dir)
    udp = f"aeron:udp?endpoint=127.0.0.1:{free_udp_port()}|ssc=true"
    sub = procs.start_subscriber(
        [sys.executable, "-c", C_SUB_SCRIPT, ROOT, "mds", str(py_dir), "aeron:udp?control-mode=manual", "5301",
         str(2 * COUNT), "aeron:ipc", f"aeron-spy:{udp}"],
        name="c-mds-sub", env=_env(),
    )
    pubs = [
        procs.start(aeronpy_command("pub", "--dir", str(py_dir), "--channel", channel, "--stream", "5301",
                                    "--count", str(COUNT), "--size", "64", "--timeout", str(CLIENT_TIMEOUT_S)),
                    name=f"aeronpy-pub-{i}")
        for i, channel in enumerate(("aeron:ipc", udp))
    ]
    _finish(sub, *pubs)
    assert_no_aeronpy_errors(procs, py_driver, py_dir)
    procs.stop_driver(py_driver)


def test_aeronpy_client_mds_with_ipc_and_spy_destinations_on_the_c_driver(c_reference: ctypes.CDLL, procs: ProcessGroup) -> None:
    """The reference: the aeronpy client's ADD_RCV_DESTINATION for local destinations as the C
    driver serves it (C publishers)."""
    c_dir = procs.new_aeron_dir()
    c_driver = start_c_driver(procs, c_dir)
    udp = f"aeron:udp?endpoint=127.0.0.1:{free_udp_port()}|ssc=true"
    sub = procs.start_subscriber(
        [sys.executable, "-c", PY_MDS_SUB_SCRIPT, str(c_dir), "5304", str(2 * COUNT), "aeron:ipc", f"aeron-spy:{udp}"],
        name="aeronpy-mds-sub", env=_env(),
    )
    pubs = [
        procs.start(c_client_command("pub", c_dir, channel, 5304, COUNT, 64, timeout=CLIENT_TIMEOUT_S), name=f"c-pub-{i}")
        for i, channel in enumerate(("aeron:ipc", udp))
    ]
    _finish(sub, *pubs)
    line = next(line for line in sub.stdout_lines if line.startswith("received "))
    assert line.split()[3:] == ["aeron:ipc", "aeron:ipc"], line
    procs.stop_driver(c_driver)


def test_c_sender_timestamps_reach_the_aeronpy_receiver(c_reference: ctypes.CDLL, procs: ProcessGroup) -> None:
    py_dir, c_dir = procs.new_aeron_dir(), procs.new_aeron_dir()
    py_driver = start_aeronpy_driver(procs, py_dir)
    c_driver = start_c_driver(procs, c_dir)
    endpoint = f"127.0.0.1:{free_udp_port()}"
    sub = procs.start_subscriber(
        [sys.executable, "-c", PY_SUB_SCRIPT, str(py_dir),
         f"aeron:udp?endpoint={endpoint}|media-rcv-ts-offset=0|channel-rcv-ts-offset=8", "5302", str(COUNT),
         "reserved", "0", "8"],
        name="aeronpy-ts-sub", env=_env(),
    )
    pub = procs.start(
        [sys.executable, "-c", C_PUB_SCRIPT, ROOT, str(c_dir), f"aeron:udp?endpoint={endpoint}|channel-snd-ts-offset=reserved",
         "5302", str(COUNT), "32"],
        name="c-ts-pub", env=_env(),
    )
    _finish(pub, sub)
    snd, media, channel = _stamped_counts(sub)
    assert media == channel == COUNT  # every message is a BEGIN frame: receive stamps on each
    assert snd > COUNT // 2, f"only {snd} of {COUNT} messages carried the C sender's stamp"
    assert_no_aeronpy_errors(procs, py_driver, py_dir)
    procs.stop_driver(py_driver)
    procs.stop_driver(c_driver)


def test_aeronpy_sender_timestamps_reach_the_c_receiver(c_reference: ctypes.CDLL, procs: ProcessGroup) -> None:
    py_dir, c_dir = procs.new_aeron_dir(), procs.new_aeron_dir()
    py_driver = start_aeronpy_driver(procs, py_dir)
    c_driver = start_c_driver(procs, c_dir)
    endpoint = f"127.0.0.1:{free_udp_port()}"
    sub = procs.start_subscriber(
        [sys.executable, "-c", C_SUB_SCRIPT, ROOT, "ts", str(c_dir),
         f"aeron:udp?endpoint={endpoint}|media-rcv-ts-offset=0|channel-rcv-ts-offset=8", "5303", str(COUNT),
         "0", "8", "16"],
        name="c-ts-sub", env=_env(),
    )
    pub = procs.start(
        [sys.executable, "-c", PY_PUB_SCRIPT, str(py_dir), f"aeron:udp?endpoint={endpoint}|channel-snd-ts-offset=16",
         "5303", str(COUNT), "32"],
        name="aeronpy-ts-pub", env=_env(),
    )
    _finish(pub, sub)
    media, channel, snd = _stamped_counts(sub)
    assert media == channel == COUNT
    assert snd > COUNT // 2, f"only {snd} of {COUNT} messages carried the aeronpy sender's stamp"
    assert_no_aeronpy_errors(procs, py_driver, py_dir)
    procs.stop_driver(py_driver)
    procs.stop_driver(c_driver)
