"""``CounterService``: one replicated 64-bit counter.

Request ``op u8 · correlationId i64 · delta i64`` (op 1 ADD, 2 GET; GET ignores delta);
response ``correlationId i64 · value i64`` (the value after the request)."""

from __future__ import annotations

import struct
from typing import Any

from aeronpy.client import results
from aeronpy.cluster.service.client_session import ClientSession
from aeronpy.cluster.service.cluster import Cluster
from aeronpy.cluster.service.clustered_service import ClusteredService
from aeronpy.cluster.service.snapshot_loader import read_snapshot_message
from aeronpy.cluster.service.snapshot_taker import SnapshotTaker

__all__ = ["CounterService", "ADD", "GET", "encode_request", "decode_response"]

ADD = 1
GET = 2
REQUEST = struct.Struct("<Bqq")
RESPONSE = struct.Struct("<qq")
STATE = struct.Struct("<4sq")
_MAGIC = b"CNT1"
_MASK = (1 << 64) - 1


def encode_request(op: int, correlation_id: int, delta: int = 0) -> bytes:
    return REQUEST.pack(op, correlation_id, delta)


def decode_response(data: bytes) -> tuple[int, int]:
    """``(correlation_id, value)``."""
    correlation_id, value = RESPONSE.unpack(data)
    return int(correlation_id), int(value)


def _wrap(v: int) -> int:
    v &= _MASK
    return v - (1 << 64) if v >= 1 << 63 else v


class CounterService(ClusteredService):
    """Adds deltas to ``value`` (wrapping as a signed 64-bit integer) and reports it."""

    def __init__(self) -> None:
        self.cluster: Cluster | None = None
        self.value = 0

    def on_start(self, cluster: Cluster, snapshot_image: Any | None) -> None:
        self.cluster = cluster
        if snapshot_image is not None:
            magic, self.value = STATE.unpack(read_snapshot_message(snapshot_image, cluster.idle_strategy))
            if magic != _MAGIC:
                raise ValueError(f"not a counter snapshot: {magic!r}")

    def on_session_message(self, session: ClientSession | None, timestamp: int, buffer: Any, offset: int,
                           length: int, header: Any) -> None:
        if length != REQUEST.size:
            return
        op, correlation_id, delta = REQUEST.unpack(buffer.get_bytes(offset, length))
        if op == ADD:
            self.value = _wrap(self.value + delta)
        elif op != GET:
            return
        if session is not None and self.cluster is not None:
            reply = RESPONSE.pack(correlation_id, self.value)
            idle = self.cluster.idle_strategy
            idle.reset()
            for _ in range(10_000):
                result = session.offer(reply)
                if result > 0 or result in (results.NOT_CONNECTED, results.CLOSED, results.MAX_POSITION_EXCEEDED):
                    break
                idle.idle()

    def on_take_snapshot(self, snapshot_publication: Any) -> None:
        assert self.cluster is not None
        SnapshotTaker(snapshot_publication, self.cluster.idle_strategy).offer(STATE.pack(_MAGIC, self.value))
