"""``aeronpy cluster-client``: send sample messages to the bundled echo service and check every echo.

Each payload is ``seq`` (little-endian int64) + a pattern (byte i holds ``(seq + i) & 0xFF``)
+ a CRC-32 of everything before it (little-endian u32), so any client can build and check
it.  Up to ``--window`` messages are in flight; the run succeeds (exit 0) only when every echo
came back intact, in order, and exactly once — except for messages the client itself resent
after a leader change (their second echo is counted, not an error).  On ``on_new_leader`` (or a
new session after the old one closed) everything not yet echoed is sent again.

Exit codes: 0 every echo back; 1 failure (bad echo, timeout, refused or lost session); 2 bad
arguments or configuration (``--size`` too large for the ingress term, invalid property).
"""

from __future__ import annotations

import argparse
import functools
import os
import struct
import sys
import time
import zlib
from typing import Any

from aeronpy.cluster.client.listener import EgressListener
from aeronpy.cluster.codecs import EventCode

__all__ = ["add_command", "EchoTracker", "make_payload", "check_payload", "MIN_SIZE"]

MIN_SIZE = 12
DEFAULT_INGRESS_CHANNEL = "aeron:udp?term-length=128k"
DEFAULT_EGRESS_CHANNEL = "aeron:udp?endpoint=localhost:0|term-length=128k"
KEEPALIVE_INTERVAL_S = 1.0
MIN_IDLE_SLEEP_S = 50e-6
MAX_IDLE_SLEEP_S = 1e-3
_SEQ = struct.Struct("<q")
_CRC = struct.Struct("<I")


@functools.lru_cache(maxsize=8)
def _pattern(body_length: int) -> bytes:
    return bytes(range(256)) * (body_length // 256 + 2)


def make_payload(seq: int, size: int) -> bytes:
    """The sample message ``seq`` of ``size`` bytes (>= 12)."""
    start = (seq + 8) & 0xFF
    body_length = size - 12
    head = _SEQ.pack(seq) + _pattern(body_length)[start : start + body_length]
    return head + _CRC.pack(zlib.crc32(head))


def check_payload(data: bytes, size: int, count: int) -> tuple[int, str | None]:
    """``(seq, problem)``: the message's sequence number and what is wrong with it (or None)."""
    if len(data) != size:
        seq = _SEQ.unpack_from(data)[0] if len(data) >= 8 else -1
        return seq, f"echo of {len(data)} bytes, expected {size}"
    seq = _SEQ.unpack_from(data)[0]
    if zlib.crc32(data[:-4]) != _CRC.unpack_from(data, size - 4)[0]:
        return seq, f"echo of message {seq}: checksum mismatch (corrupt payload)"
    if not 0 <= seq < count:
        return seq, f"echo of message {seq}, which was never sent (count {count})"
    if data != make_payload(seq, size):
        return seq, f"echo of message {seq}: pattern differs"
    return seq, None


class EchoTracker:
    """Which messages are due, in flight and echoed; checks echoes (no I/O, time passed in)."""

    def __init__(self, count: int, size: int, window: int) -> None:
        self.count = count
        self.size = size
        self.window = window
        self.next_to_send = 0
        self.next_expected = 0
        self.send_counts = bytearray(count)
        self.sent_at: dict[int, float] = {}
        self.rtts: list[float] = []
        self.resent = 0
        self.duplicates = 0
        self.failure: str | None = None
        self.last_echo_at: float | None = None
        self.longest_gap = 0.0  # the longest wait between two in-order echoes (a failover's stall)

    @property
    def done(self) -> bool:
        return self.next_expected >= self.count

    def want_send(self) -> int | None:
        """The next sequence number to send, if the window allows one."""
        if self.next_to_send < self.count and self.next_to_send - self.next_expected < self.window:
            return self.next_to_send
        return None

    def on_sent(self, seq: int, now: float) -> None:
        if self.send_counts[seq] > 0:
            self.resent += 1
        self.send_counts[seq] = min(self.send_counts[seq] + 1, 255)
        self.sent_at[seq] = now
        self.next_to_send = seq + 1

    def rewind(self) -> None:
        """A leader change: resend everything not echoed yet."""
        self.next_to_send = self.next_expected

    def on_echo(self, data: bytes, now: float) -> None:
        if self.failure is not None:
            return
        seq, problem = check_payload(data, self.size, self.count)
        if problem is not None:
            self.failure = problem
        elif seq == self.next_expected:
            self.rtts.append(now - self.sent_at.pop(seq))
            if self.last_echo_at is not None:
                self.longest_gap = max(self.longest_gap, now - self.last_echo_at)
            self.last_echo_at = now
            self.next_expected += 1
            self.next_to_send = max(self.next_to_send, self.next_expected)
        elif seq < self.next_expected:
            if self.send_counts[seq] > 1:
                self.duplicates += 1
            else:
                self.failure = f"message {seq} echoed twice"
        else:
            self.failure = f"echo of message {seq} arrived before message {self.next_expected} (lost or reordered)"

    def percentile_ms(self, p: float) -> float:
        if not self.rtts:
            return 0.0
        ordered = sorted(self.rtts)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1e3


class _Listener(EgressListener):
    def __init__(self, tracker: EchoTracker) -> None:
        self.tracker = tracker
        self.leader_changes = 0
        self.closed_detail: str | None = None
        self.last_echo = time.monotonic()

    def on_message(self, cluster_session_id: int, timestamp: int, buffer: Any, offset: int, length: int,
                   header: Any) -> None:
        now = time.monotonic()
        self.last_echo = now
        self.tracker.on_echo(buffer.get_bytes(offset, length), now)

    def on_session_event(self, correlation_id: int, cluster_session_id: int, leadership_term_id: int,
                         leader_member_id: int, code: EventCode, detail: str) -> None:
        if code == EventCode.CLOSED:
            self.closed_detail = detail

    def on_new_leader(self, cluster_session_id: int, leadership_term_id: int, leader_member_id: int,
                      ingress_endpoints: str) -> None:
        self.leader_changes += 1
        self.tracker.rewind()


def _fail(message: str, code: int = 1) -> int:
    print(f"aeronpy cluster-client: {message}", file=sys.stderr, flush=True)
    return code


def _context(args: argparse.Namespace, listener: _Listener, aeron: Any) -> Any:
    from aeronpy.cli import _properties
    from aeronpy.cluster.client.context import ClusterClientContext
    from aeronpy.config import PropertySource

    props = _properties(args.define)
    if args.ingress_endpoints:
        props["aeron.cluster.ingress.endpoints"] = args.ingress_endpoints
    if args.ingress_channel:
        props["aeron.cluster.ingress.channel"] = args.ingress_channel
    if args.egress_channel:
        props["aeron.cluster.egress.channel"] = args.egress_channel
    source = PropertySource(props, os.environ, args.properties)
    if source.get("aeron.cluster.ingress.channel") is None:
        props["aeron.cluster.ingress.channel"] = DEFAULT_INGRESS_CHANNEL
    if source.get("aeron.cluster.egress.channel") is None:
        props["aeron.cluster.egress.channel"] = DEFAULT_EGRESS_CHANNEL
    overrides: dict[str, Any] = {"egress_listener": listener, "aeron": aeron}
    if args.dir:
        overrides["aeron_dir"] = args.dir
    return ClusterClientContext.from_properties(properties=props, properties_file=args.properties, **overrides)


def cmd_cluster_client(args: argparse.Namespace) -> int:
    from aeronpy.errors import ConfigurationError, InvalidChannelError

    tracker = EchoTracker(args.count, args.size, args.window)
    listener = _Listener(tracker)
    driver = None
    try:
        try:
            _context(args, listener, aeron=object())  # validate settings before touching a driver
        except (ConfigurationError, InvalidChannelError) as e:
            return _fail(str(e), 2)
        except SystemExit as e:  # a malformed -D pair
            return _fail(str(e.code).removeprefix("aeronpy: "), 2)
        if args.embedded_driver:
            import tempfile

            from aeronpy.driver.context import DriverContext
            from aeronpy.driver.media_driver import MediaDriver

            args.dir = tempfile.mkdtemp(prefix="aeronpy-cluster-client-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
            driver = MediaDriver.launch(DriverContext.from_properties(env={}, aeron_dir=args.dir, dir_delete_on_shutdown=True, dir_mode=0o700, file_mode=0o600))
        return _run(args, tracker, listener)
    finally:
        if driver is not None:
            driver.close()


def _run(args: argparse.Namespace, tracker: EchoTracker, listener: _Listener) -> int:
    from aeronpy.client.aeron import Aeron
    from aeronpy.client.context import Context
    from aeronpy.cluster.client.aeron_cluster import AeronCluster
    from aeronpy.cluster.client.errors import AuthenticationError, ClusterError, ClusterTimeoutError

    from aeronpy.cli import _properties

    probe = _context(args, listener, aeron=object())
    aeron = Aeron.connect(Context.from_properties(  # -D aeron.* client settings apply too
        properties=_properties(args.define), properties_file=args.properties, aeron_dir=probe.aeron_dir,
        client_name=probe.aeron_client_name,
    ))
    cluster: AeronCluster | None = None
    sessions = 0
    try:
        ctx = _context(args, listener, aeron)
        started = time.monotonic()
        listener.last_echo = started
        last_sent = started
        idle_sleep = MIN_IDLE_SLEEP_S
        while not tracker.done:
            now = time.monotonic()
            if tracker.failure is not None:
                return _fail(tracker.failure)
            if aeron.is_closed:
                cause = aeron.termination_cause
                return _fail(f"the Aeron client closed{f': {cause}' if cause is not None else ''} "
                             f"({tracker.next_expected} of {tracker.count} echoed)")
            if now - listener.last_echo > args.timeout:
                state = "not connected" if cluster is None else f"session {cluster.state.name}"
                return _fail(f"no echo for {args.timeout:g}s ({tracker.next_expected} of {tracker.count} echoed, {state})")
            if cluster is None or cluster.is_closed:
                if cluster is not None:
                    cluster = None
                    tracker.rewind()
                try:
                    cluster = AeronCluster.connect(ctx)
                except ClusterTimeoutError:
                    continue  # no leader yet: try again until --timeout passes without progress
                except AuthenticationError as e:
                    return _fail(f"authentication rejected: {e}")
                except ClusterError as e:
                    return _fail(f"connect refused: {e}")
                sessions += 1
                limit = cluster.ingress_publication.max_message_length - 32
                if args.size > limit:
                    return _fail(f"--size {args.size} exceeds the ingress max message length {limit} "
                                 f"(term length / 8 minus the 32-byte session header)", 2)
                listener.last_echo = max(listener.last_echo, time.monotonic())
            work = cluster.poll_egress()
            if cluster.is_closed:
                continue
            seq = tracker.want_send()
            while seq is not None:
                if cluster.offer(make_payload(seq, tracker.size)) < 0:
                    break
                now = time.monotonic()
                tracker.on_sent(seq, now)
                last_sent = now
                work += 1
                seq = tracker.want_send()
            if work == 0:
                if time.monotonic() - last_sent > KEEPALIVE_INTERVAL_S and cluster.send_keep_alive():
                    last_sent = time.monotonic()
                time.sleep(idle_sleep)
                idle_sleep = min(idle_sleep * 2, MAX_IDLE_SLEEP_S)
            else:
                idle_sleep = MIN_IDLE_SLEEP_S
        elapsed = max(time.monotonic() - started, 1e-9)
        leader = f"leader {cluster.leader_member_id} term {cluster.leadership_term_id}" if cluster else "no leader"
        print(
            f"cluster-client: {tracker.count} of {tracker.count} echoes back intact and in order "
            f"(resent {tracker.resent}, duplicates {tracker.duplicates}) in {elapsed:.3f}s: "
            f"{tracker.count / elapsed:,.0f} msgs/s, rtt p50 {tracker.percentile_ms(0.5):.2f} ms "
            f"p99 {tracker.percentile_ms(0.99):.2f} ms, longest echo gap {tracker.longest_gap * 1e3:.0f} ms; "
            f"sessions {sessions}, leader changes {listener.leader_changes}, {leader}",
            flush=True,
        )
        return 0
    finally:
        if cluster is not None:
            cluster.close()
        aeron.close()


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from aeronpy.cli import _int_in, _non_empty, _seconds

    p = sub.add_parser(
        "cluster-client", help="send sample messages to the bundled echo service and check every echo",
        description="Connect a cluster session, send --count sample payloads (seq + pattern + CRC-32) to the "
                    "echo service and check each echo comes back once, in order and intact, resending after a "
                    "leader change.  Exit 0 ok, 1 failed, 2 bad arguments.",
    )
    p.add_argument("--ingress-endpoints", type=_non_empty, metavar="ID=HOST:PORT,...",
                   help="members' ingress endpoints (aeron.cluster.ingress.endpoints)")
    p.add_argument("--ingress-channel", type=_non_empty, help=f"ingress channel (default {DEFAULT_INGRESS_CHANNEL})")
    p.add_argument("--egress-channel", type=_non_empty, help=f"egress channel (default {DEFAULT_EGRESS_CHANNEL})")
    p.add_argument("--count", type=_int_in(0, 2**31 - 1), default=100, help="messages to send (>= 0)")
    p.add_argument("--size", type=_int_in(MIN_SIZE, 16 * 1024 * 1024), default=64, help=f"payload bytes (>= {MIN_SIZE})")
    p.add_argument("--window", type=_int_in(1, 1 << 20), default=32, help="messages in flight at most")
    p.add_argument("--timeout", type=_seconds(False), default=30.0,
                   help="give up after this many seconds without an echo (connecting included)")
    p.add_argument("--dir", type=_non_empty, help="Aeron directory of the driver to use (default AERON_DIR)")
    p.add_argument("--embedded-driver", action="store_true", help="run a media driver in this process")
    p.add_argument("-D", dest="define", action="append", default=[], metavar="KEY=VALUE",
                   help="aeron.cluster.* client property")
    p.add_argument("--properties", type=_non_empty, metavar="FILE_OR_URL", help="properties file")
    p.set_defaults(func=cmd_cluster_client)
