"""Tiny aeronpy client used by the multi-host UDP tests to observe connection state changes.

watch-sub DIR CHANNEL STREAM TIMEOUT
    Subscribes with available/unavailable image handlers and polls (messages in the
    ``tests/e2e/worker.py`` format are checked for per-publisher order).  Prints
    ``READY``, then ``AVAILABLE <session> <source>``, ``RECEIVING <count>`` once 1,000
    messages have arrived, and ``UNAVAILABLE <session> <monotonic time> received=<n>
    in_order=<bool>`` when the image goes away (then exits 0).  Exits 1 on timeout.

watch-pub DIR CHANNEL STREAM TIMEOUT
    Adds a publication and keeps offering worker-format messages.  Prints ``CONNECTED``
    once ``is_connected``, ``SENDING <count>`` after 1,000 successful offers, and then
    ``NOT_CONNECTED <monotonic time> sent=<n>`` as soon as ``is_connected`` turns false
    (then exits 0).  Exits 1 on timeout.

``time.monotonic()`` is CLOCK_MONOTONIC, the same clock in every network namespace, so
the test can compare the printed times with its own.
"""

from __future__ import annotations

import os
import struct
import sys
import time

from aeronpy.client.aeron import Aeron
from aeronpy.client.context import Context

MSG = struct.Struct("<iq20s")  # same layout as tests/e2e/worker.py


def _say(*parts: object) -> None:
    print(*parts, flush=True)


def watch_sub(aeron: Aeron, channel: str, stream: int, timeout: float) -> int:
    available: list[tuple[int, str]] = []
    unavailable: list[tuple[int, float]] = []
    # Handlers run on the client conductor; they only append (list.append is atomic).
    subscription = aeron.add_subscription(
        channel,
        stream,
        available_image_handler=lambda image: available.append((image.session_id, image.source_identity)),
        unavailable_image_handler=lambda image: unavailable.append((image.session_id, time.monotonic())),
    )
    _say("READY")
    expected: dict[int, int] = {}
    state = {"received": 0, "in_order": True}
    unpack_from = MSG.unpack_from

    def handler(buffer: object, offset: int, length: int, header: object) -> None:
        pid, seq, _ = unpack_from(memoryview(buffer), offset)  # type: ignore[arg-type]
        if length != MSG.size or seq != expected.get(pid, 0):
            state["in_order"] = False
        expected[pid] = seq + 1
        state["received"] += 1

    reported_available = 0
    receiving = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if subscription.poll(handler, 256) == 0:
            os.sched_yield()
        while reported_available < len(available):
            session, source = available[reported_available]
            reported_available += 1
            _say("AVAILABLE", session, source)
        if not receiving and state["received"] >= 1000:
            receiving = True
            _say("RECEIVING", state["received"])
        if unavailable:
            session, when = unavailable[0]
            _say("UNAVAILABLE", session, f"{when:.6f}", f"received={state['received']}", f"in_order={state['in_order']}")
            return 0
    _say("TIMEOUT", f"received={state['received']}")
    return 1


def watch_pub(aeron: Aeron, channel: str, stream: int, timeout: float) -> int:
    publication = aeron.add_publication(channel, stream)
    deadline = time.monotonic() + timeout
    while not publication.is_connected:
        if time.monotonic() > deadline:
            _say("TIMEOUT never connected")
            return 1
        time.sleep(0.001)
    _say("CONNECTED")
    buf = bytearray(MSG.size)
    filler = b"p" * 20
    sent = 0
    sending = False
    while time.monotonic() < deadline:
        if not publication.is_connected:
            _say("NOT_CONNECTED", f"{time.monotonic():.6f}", f"sent={sent}")
            return 0
        MSG.pack_into(buf, 0, 0, sent, filler)
        if publication.offer(buf) > 0:
            sent += 1
            if not sending and sent >= 1000:
                sending = True
                _say("SENDING", sent)
        else:
            time.sleep(0.0005)  # back pressured / not connected: retry paced (not a sync sleep)
    _say("TIMEOUT still connected", f"sent={sent}")
    return 1


def main(argv: list[str]) -> int:
    mode, aeron_dir, channel, stream, timeout = argv[0], argv[1], argv[2], int(argv[3]), float(argv[4])
    aeron = Aeron.connect(Context.from_properties(aeron_dir=aeron_dir))
    try:
        if mode == "watch-sub":
            return watch_sub(aeron, channel, stream, timeout)
        if mode == "watch-pub":
            return watch_pub(aeron, channel, stream, timeout)
        raise SystemExit(f"unknown mode {mode}")
    finally:
        aeron.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
