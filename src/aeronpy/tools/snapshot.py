"""A point-in-time copy of every counter in ``cnc.dat``, decoded, and the streams they describe.

:func:`take` reads all allocated counters (value, ids, decoded key) in one pass; the stat,
backlog, streams, metrics and dashboard tools all work from these snapshots so that a tool
can compute rates from two of them.  :func:`streams` groups the position counters by
(session id, stream id) like Aeron's StreamStat/BacklogStat.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field

from aeronpy.cnc import CncFile
from aeronpy.concurrent import counters as c
from aeronpy.concurrent.clock import epoch_ms
from aeronpy.tools.cnc_access import heartbeat_age_ms

__all__ = [
    "STREAM_KEY_TYPES",
    "CHANNEL_KEY_TYPES",
    "TYPE_NAMES",
    "Counter",
    "Snapshot",
    "take",
    "Stream",
    "streams",
    "rates",
]

STREAM_KEY_TYPES = frozenset({
    c.PUBLISHER_LIMIT_TYPE_ID, c.SENDER_POSITION_TYPE_ID, c.RECEIVER_HWM_TYPE_ID,
    c.SUBSCRIBER_POSITION_TYPE_ID, c.RECEIVER_POSITION_TYPE_ID, c.SENDER_LIMIT_TYPE_ID,
    c.PER_IMAGE_TYPE_ID, c.PUBLISHER_POSITION_TYPE_ID, c.SENDER_BPE_TYPE_ID,
    c.FLOW_CONTROL_RECEIVERS_TYPE_ID, c.SENDER_NAKS_RECEIVED_TYPE_ID, c.RECEIVER_NAKS_SENT_TYPE_ID,
})
CHANNEL_KEY_TYPES = frozenset({c.SEND_CHANNEL_STATUS_TYPE_ID, c.RECEIVE_CHANNEL_STATUS_TYPE_ID,
                               c.MDC_DESTINATIONS_TYPE_ID})

TYPE_NAMES: dict[int, str] = {
    c.SYSTEM_COUNTER_TYPE_ID: "system",
    c.PUBLISHER_LIMIT_TYPE_ID: "pub-lmt",
    c.SENDER_POSITION_TYPE_ID: "snd-pos",
    c.RECEIVER_HWM_TYPE_ID: "rcv-hwm",
    c.SUBSCRIBER_POSITION_TYPE_ID: "sub-pos",
    c.RECEIVER_POSITION_TYPE_ID: "rcv-pos",
    c.SEND_CHANNEL_STATUS_TYPE_ID: "snd-channel",
    c.RECEIVE_CHANNEL_STATUS_TYPE_ID: "rcv-channel",
    c.SENDER_LIMIT_TYPE_ID: "snd-lmt",
    c.PER_IMAGE_TYPE_ID: "per-image",
    c.CLIENT_HEARTBEAT_TYPE_ID: "client-heartbeat",
    c.PUBLISHER_POSITION_TYPE_ID: "pub-pos",
    c.SENDER_BPE_TYPE_ID: "snd-bpe",
    c.LOCAL_SOCKADDR_TYPE_ID: "local-sockaddr",
    c.NAME_RESOLVER_NEIGHBORS_TYPE_ID: "name-resolver-neighbors",
    c.NAME_RESOLVER_CACHE_ENTRIES_TYPE_ID: "name-resolver-cache-entries",
    c.FLOW_CONTROL_RECEIVERS_TYPE_ID: "fc-receivers",
    c.MDC_DESTINATIONS_TYPE_ID: "mdc-num-dest",
    c.SENDER_NAKS_RECEIVED_TYPE_ID: "snd-naks-received",
    c.RECEIVER_NAKS_SENT_TYPE_ID: "rcv-naks-sent",
    c.NAME_RESOLVER_BOOTSTRAP_NEIGHBOR_TYPE_ID: "name-resolver-bootstrap-neighbor",
}

_STREAM_KEY = struct.Struct("<qiii")


@dataclass(frozen=True)
class Counter:
    """One allocated counter: value, ids, label and the fields decoded from its key."""

    counter_id: int
    type_id: int
    value: int
    label: str
    registration_id: int
    owner_id: int
    reference_id: int
    session_id: int | None = None
    stream_id: int | None = None
    channel: str | None = None
    system_id: int | None = None
    client_id: int | None = None

    @property
    def type_name(self) -> str:
        """Aeron's short name for the type (``pub-pos``, ``rcv-hwm``, ...; ``type-<id>`` if unknown)."""
        return TYPE_NAMES.get(self.type_id, f"type-{self.type_id}")


@dataclass(frozen=True)
class Snapshot:
    """All counters at one instant plus the driver's identity and heartbeat."""

    monotonic_s: float
    epoch_ms: int
    pid: int
    cnc_version: int
    heartbeat_age_ms: int | None
    counters: tuple[Counter, ...]

    def by_id(self) -> dict[int, Counter]:
        """Counters keyed by counter id."""
        return {x.counter_id: x for x in self.counters}

    def system(self, system_id: int) -> int:
        """The value of system counter ``system_id`` (0 when absent)."""
        for x in self.counters:
            if x.type_id == c.SYSTEM_COUNTER_TYPE_ID and x.system_id == system_id:
                return x.value
        return 0


def _decode(raw: bytes, limit: int) -> str:
    return raw[:max(0, min(limit, len(raw)))].decode("ascii", errors="replace")


def take(cnc: CncFile) -> Snapshot:
    """Read every allocated counter of ``cnc`` once."""
    reader = c.CountersReader(cnc.counters_metadata_buffer, cnc.counters_values_buffer)
    found: list[Counter] = []

    def add(counter_id: int, type_id: int, key: bytes, label: str) -> None:
        extra: dict[str, object] = {}
        if type_id in STREAM_KEY_TYPES:
            _, session, stream, length = _STREAM_KEY.unpack_from(key, 0)
            extra = {"session_id": session, "stream_id": stream,
                     "channel": _decode(key[20:], min(length, c.STREAM_KEY_CHANNEL_MAX))}
        elif type_id in CHANNEL_KEY_TYPES:
            (length,) = struct.unpack_from("<i", key, 0)
            extra = {"channel": _decode(key[4:], min(length, c.CHANNEL_KEY_CHANNEL_MAX))}
        elif type_id == c.SYSTEM_COUNTER_TYPE_ID:
            extra = {"system_id": struct.unpack_from("<i", key, 0)[0]}
        elif type_id == c.CLIENT_HEARTBEAT_TYPE_ID:
            extra = {"client_id": struct.unpack_from("<q", key, 0)[0]}
        found.append(Counter(
            counter_id, type_id, reader.get_counter_value(counter_id), label,
            reader.get_counter_registration_id(counter_id), reader.get_counter_owner_id(counter_id),
            reader.get_counter_reference_id(counter_id), **extra,  # type: ignore[arg-type]
        ))

    reader.for_each(add)
    return Snapshot(time.monotonic(), epoch_ms(), cnc.pid, cnc.cnc_version, heartbeat_age_ms(cnc), tuple(found))


@dataclass
class Stream:
    """The position counters of one (session id, stream id): publisher, sender, receiver, subscribers."""

    session_id: int
    stream_id: int
    channels: list[str] = field(default_factory=list)
    counters: list[Counter] = field(default_factory=list)

    @property
    def channel(self) -> str:
        """The first channel seen (publisher side when there is one)."""
        return self.channels[0] if self.channels else ""

    def first(self, type_id: int) -> Counter | None:
        """The first counter of ``type_id`` in this stream."""
        return next((x for x in self.counters if x.type_id == type_id), None)

    def all(self, type_id: int) -> list[Counter]:
        """Every counter of ``type_id`` in this stream."""
        return [x for x in self.counters if x.type_id == type_id]

    def value(self, type_id: int) -> int | None:
        """Value of the first counter of ``type_id`` (``None`` when absent)."""
        x = self.first(type_id)
        return None if x is None else x.value

    @property
    def is_ipc(self) -> bool:
        """True for an IPC stream (no sender or receiver positions)."""
        return self.channel.startswith("aeron:ipc")


_ORDER = {t: i for i, t in enumerate([
    c.PUBLISHER_POSITION_TYPE_ID, c.PUBLISHER_LIMIT_TYPE_ID, c.SENDER_POSITION_TYPE_ID,
    c.SENDER_LIMIT_TYPE_ID, c.SENDER_BPE_TYPE_ID, c.SENDER_NAKS_RECEIVED_TYPE_ID,
    c.FLOW_CONTROL_RECEIVERS_TYPE_ID, c.RECEIVER_HWM_TYPE_ID, c.RECEIVER_POSITION_TYPE_ID,
    c.RECEIVER_NAKS_SENT_TYPE_ID, c.PER_IMAGE_TYPE_ID, c.SUBSCRIBER_POSITION_TYPE_ID])}


def streams(snapshot: Snapshot) -> list[Stream]:
    """Group the stream-keyed counters by (session id, stream id), sorted by stream then session."""
    groups: dict[tuple[int, int], Stream] = {}
    for x in snapshot.counters:
        if x.type_id not in STREAM_KEY_TYPES or x.session_id is None or x.stream_id is None:
            continue
        s = groups.setdefault((x.session_id, x.stream_id), Stream(x.session_id, x.stream_id))
        s.counters.append(x)
    for s in groups.values():
        s.counters.sort(key=lambda x: (_ORDER.get(x.type_id, 99), x.counter_id))
        for x in s.counters:
            if x.channel is not None and x.channel not in s.channels:
                s.channels.append(x.channel)
    return sorted(groups.values(), key=lambda s: (s.stream_id, s.session_id))


def rates(before: Snapshot | None, after: Snapshot) -> dict[int, float]:
    """Per-second change of each counter between two snapshots, keyed by counter id.

    A counter whose id was reused for another registration in between gets no rate."""
    if before is None:
        return {}
    elapsed = after.monotonic_s - before.monotonic_s
    if elapsed <= 0:
        return {}
    old = before.by_id()
    out: dict[int, float] = {}
    for x in after.counters:
        prev = old.get(x.counter_id)
        if prev is not None and prev.type_id == x.type_id and prev.registration_id == x.registration_id:
            out[x.counter_id] = (x.value - prev.value) / elapsed
    return out
