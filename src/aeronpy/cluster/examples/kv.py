"""``KeyValueService``: a replicated key-value store (read / write / compare-and-set) and the
request/response payload codec its clients use (the cluster client, the Jepsen-style run).

Payloads (little-endian), inside cluster session messages:

* request: ``op u8 · correlationId i64 · key`` then per op — READ: nothing; WRITE: ``value``;
  CAS: ``hasExpected u8 · expected · value`` (``hasExpected`` 0 = the key must be absent).
  ``key``/``value``/``expected`` are each ``u32 length + bytes``.
* response: ``correlationId i64 · status u8 · hasValue u8 · value`` — READ: the value (status
  NOT_FOUND if absent); WRITE: OK; CAS: OK, or CAS_FAILED with the current value (if any);
  BAD_REQUEST for an undecodable request (correlationId -1 if even that was unreadable).

Deterministic: state changes only from the log, responses depend only on state and request;
the snapshot is the sorted entries."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from aeronpy.client import results
from aeronpy.cluster.service.client_session import ClientSession
from aeronpy.cluster.service.cluster import Cluster
from aeronpy.cluster.service.clustered_service import ClusteredService
from aeronpy.cluster.service.snapshot_loader import read_snapshot_blob
from aeronpy.cluster.service.snapshot_taker import SnapshotTaker

__all__ = [
    "Op",
    "Status",
    "Request",
    "Response",
    "KeyValueService",
    "encode_read",
    "encode_write",
    "encode_cas",
    "decode_request",
    "encode_response",
    "decode_response",
    "KvCodecError",
    "MAX_FIELD_LENGTH",
]

REQUEST_HEAD = struct.Struct("<Bq")
RESPONSE_HEAD = struct.Struct("<qBB")
FIELD_LENGTH = struct.Struct("<I")
FLAG = struct.Struct("<B")
SNAPSHOT_HEAD = struct.Struct("<4sqq")
SNAPSHOT_MAGIC = b"KVS1"
#: Longest key or value accepted (bytes).
MAX_FIELD_LENGTH = 1 << 20
#: Give up answering one request after this many back-pressured offers (the client is gone).
MAX_REPLY_ATTEMPTS = 10_000


class Op(IntEnum):
    READ = 1
    WRITE = 2
    CAS = 3


class Status(IntEnum):
    OK = 0
    NOT_FOUND = 1
    CAS_FAILED = 2
    BAD_REQUEST = 3


class KvCodecError(ValueError):
    """Bytes that are not a valid key-value request or response."""


@dataclass(frozen=True)
class Request:
    op: Op
    correlation_id: int
    key: bytes
    value: bytes = b""
    expected: bytes | None = None  # CAS only; None = key must be absent


@dataclass(frozen=True)
class Response:
    correlation_id: int
    status: Status
    value: bytes | None = None


def _field(data: bytes) -> bytes:
    if len(data) > MAX_FIELD_LENGTH:
        raise KvCodecError(f"field of {len(data)} bytes exceeds {MAX_FIELD_LENGTH}")
    return FIELD_LENGTH.pack(len(data)) + data


def _as_bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


def encode_read(correlation_id: int, key: bytes | str) -> bytes:
    return REQUEST_HEAD.pack(Op.READ, correlation_id) + _field(_as_bytes(key))


def encode_write(correlation_id: int, key: bytes | str, value: bytes | str) -> bytes:
    return REQUEST_HEAD.pack(Op.WRITE, correlation_id) + _field(_as_bytes(key)) + _field(_as_bytes(value))


def encode_cas(correlation_id: int, key: bytes | str, expected: bytes | str | None, value: bytes | str) -> bytes:
    head = REQUEST_HEAD.pack(Op.CAS, correlation_id) + _field(_as_bytes(key))
    if expected is None:
        return head + FLAG.pack(0) + _field(b"") + _field(_as_bytes(value))
    return head + FLAG.pack(1) + _field(_as_bytes(expected)) + _field(_as_bytes(value))


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, s: struct.Struct) -> tuple[Any, ...]:
        if self.at + s.size > len(self.data):
            raise KvCodecError(f"truncated at byte {self.at} of {len(self.data)}")
        values = s.unpack_from(self.data, self.at)
        self.at += s.size
        return values

    def field(self) -> bytes:
        (n,) = self.take(FIELD_LENGTH)
        if n > MAX_FIELD_LENGTH or self.at + n > len(self.data):
            raise KvCodecError(f"field length {n} at byte {self.at - 4} exceeds the {len(self.data) - self.at} bytes left")
        out = self.data[self.at:self.at + n]
        self.at += n
        return out

    def end(self) -> None:
        if self.at != len(self.data):
            raise KvCodecError(f"{len(self.data) - self.at} trailing bytes")


def decode_request(data: bytes) -> Request:
    """A request; :class:`KvCodecError` if ``data`` is not one."""
    r = _Reader(bytes(data))
    op_code, correlation_id = r.take(REQUEST_HEAD)
    try:
        op = Op(op_code)
    except ValueError:
        raise KvCodecError(f"unknown op {op_code}") from None
    key = r.field()
    if op == Op.READ:
        r.end()
        return Request(op, correlation_id, key)
    if op == Op.WRITE:
        value = r.field()
        r.end()
        return Request(op, correlation_id, key, value)
    (has_expected,) = r.take(FLAG)
    expected = r.field()
    value = r.field()
    r.end()
    if has_expected not in (0, 1):
        raise KvCodecError(f"hasExpected must be 0 or 1, got {has_expected}")
    return Request(op, correlation_id, key, value, expected if has_expected else None)


def encode_response(correlation_id: int, status: Status, value: bytes | None = None) -> bytes:
    head = RESPONSE_HEAD.pack(correlation_id, status, 0 if value is None else 1)
    return head + _field(b"" if value is None else value)


def decode_response(data: bytes) -> Response:
    r = _Reader(bytes(data))
    correlation_id, status_code, has_value = r.take(RESPONSE_HEAD)
    value = r.field()
    r.end()
    try:
        status = Status(status_code)
    except ValueError:
        raise KvCodecError(f"unknown status {status_code}") from None
    return Response(correlation_id, status, value if has_value else None)


def apply(store: dict[bytes, bytes], request: Request) -> Response:
    """Apply one request to ``store`` (the state machine, pure and deterministic)."""
    current = store.get(request.key)
    if request.op == Op.READ:
        if current is None:
            return Response(request.correlation_id, Status.NOT_FOUND)
        return Response(request.correlation_id, Status.OK, current)
    if request.op == Op.WRITE:
        store[request.key] = request.value
        return Response(request.correlation_id, Status.OK)
    if current == request.expected:  # None == None: absent as expected
        store[request.key] = request.value
        return Response(request.correlation_id, Status.OK)
    return Response(request.correlation_id, Status.CAS_FAILED, current)


def encode_state(store: dict[bytes, bytes], applied: int) -> bytes:
    parts = [SNAPSHOT_HEAD.pack(SNAPSHOT_MAGIC, applied, len(store))]
    for key in sorted(store):
        parts.append(_field(key))
        parts.append(_field(store[key]))
    return b"".join(parts)


def decode_state(data: bytes) -> tuple[dict[bytes, bytes], int]:
    r = _Reader(data)
    magic, applied, count = r.take(SNAPSHOT_HEAD)
    if magic != SNAPSHOT_MAGIC:
        raise KvCodecError(f"not a key-value snapshot: {magic!r}")
    store: dict[bytes, bytes] = {}
    for _ in range(count):
        key = r.field()
        store[key] = r.field()
    r.end()
    return store, applied


class KeyValueService(ClusteredService):
    """The replicated store: ``store`` (bytes -> bytes), ``applied`` (requests applied)."""

    def __init__(self) -> None:
        self.cluster: Cluster | None = None
        self.store: dict[bytes, bytes] = {}
        self.applied = 0
        self.bad_requests = 0
        self.unanswered = 0

    def on_start(self, cluster: Cluster, snapshot_image: Any | None) -> None:
        self.cluster = cluster
        if snapshot_image is not None:
            self.store, self.applied = decode_state(read_snapshot_blob(snapshot_image, cluster.idle_strategy))

    def on_session_message(self, session: ClientSession | None, timestamp: int, buffer: Any, offset: int,
                           length: int, header: Any) -> None:
        data = buffer.get_bytes(offset, length)
        try:
            request = decode_request(data)
        except KvCodecError:
            self.bad_requests += 1
            correlation_id = REQUEST_HEAD.unpack_from(data)[1] if len(data) >= REQUEST_HEAD.size else -1
            response = Response(correlation_id, Status.BAD_REQUEST)
        else:
            response = apply(self.store, request)
            self.applied += 1
        if session is not None:
            self._reply(session, encode_response(response.correlation_id, response.status, response.value))

    def _reply(self, session: ClientSession, payload: bytes) -> None:
        assert self.cluster is not None
        idle = self.cluster.idle_strategy
        idle.reset()
        for _ in range(MAX_REPLY_ATTEMPTS):
            result = session.offer(payload)
            if result > 0 or result in (results.NOT_CONNECTED, results.CLOSED, results.MAX_POSITION_EXCEEDED):
                return
            idle.idle()
        self.unanswered += 1

    def on_take_snapshot(self, snapshot_publication: Any) -> None:
        assert self.cluster is not None
        SnapshotTaker(snapshot_publication, self.cluster.idle_strategy).offer_blob(
            encode_state(self.store, self.applied))
