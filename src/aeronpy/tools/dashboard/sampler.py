"""The dashboard's model: one sample of the driver per interval, kept for the last minutes.

A background thread takes a counters snapshot every ``interval`` seconds (sleeping between),
derives per-stream rates, lag and hwm-vs-position, and the driver-wide rates of NAKs,
retransmits, gap fills, back pressure and errors, and appends them to a bounded history.
:meth:`Sampler.state` is what ``/api/state`` returns.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

from aeronpy.concurrent import counters as c
from aeronpy.concurrent.clock import epoch_ms
from aeronpy.tools import snapshot as snap
from aeronpy.tools.dashboard.messages import MessageCounter
from aeronpy.tools.metrics import DriverReader

__all__ = ["Sampler", "SYSTEM_RATES"]

SYSTEM_RATES: dict[str, int] = {
    "bytes_sent": 0,
    "bytes_received": 1,
    "naks_sent": 5,
    "naks_received": 6,
    "retransmits_sent": 11,
    "errors": 15,
    "back_pressure": 18,
    "loss_gap_fills": 23,
    "invalid_packets": 14,
}
"""Driver-wide counters shown as per-second rates (name → system counter id)."""


def _stream_view(s: snap.Stream, per_s: dict[int, float], msgs: float | None) -> dict[str, Any]:
    pub, rcv = s.first(c.PUBLISHER_POSITION_TYPE_ID), s.first(c.RECEIVER_POSITION_TYPE_ID)
    hwm = s.value(c.RECEIVER_HWM_TYPE_ID)
    subs = s.all(c.SUBSCRIBER_POSITION_TYPE_ID)
    source = pub if pub is not None else rcv
    lag = None
    if source is not None and subs:
        lag = max(0, source.value - min(x.value for x in subs))  # pub-pos may trail a fast reader
    bpe = s.first(c.SENDER_BPE_TYPE_ID)
    naks_rx = s.first(c.SENDER_NAKS_RECEIVED_TYPE_ID)
    naks_tx = s.first(c.RECEIVER_NAKS_SENT_TYPE_ID)
    return {
        "key": f"{s.session_id}:{s.stream_id}",
        "session": s.session_id,
        "stream": s.stream_id,
        "channel": s.channel,
        "kind": "ipc" if s.is_ipc else "udp",
        "pub_pos": None if pub is None else pub.value,
        "pub_lmt": s.value(c.PUBLISHER_LIMIT_TYPE_ID),
        "snd_pos": s.value(c.SENDER_POSITION_TYPE_ID),
        "snd_lmt": s.value(c.SENDER_LIMIT_TYPE_ID),
        "rcv_hwm": hwm,
        "rcv_pos": None if rcv is None else rcv.value,
        "sub_pos": [x.value for x in subs],
        "lag": lag,
        "hwm_gap": None if hwm is None or rcv is None else hwm - rcv.value,
        "byte_rate": None if source is None else per_s.get(source.counter_id),
        "msg_rate": msgs,
        "back_pressure": None if bpe is None else bpe.value,
        "back_pressure_rate": None if bpe is None else per_s.get(bpe.counter_id),
        "naks_received": None if naks_rx is None else naks_rx.value,
        "naks_sent": None if naks_tx is None else naks_tx.value,
    }


class Sampler:
    """Samples the driver in ``aeron_dir`` every ``interval`` seconds, keeping ``history_s`` of it."""

    def __init__(self, aeron_dir: str, interval: float = 1.0, history_s: float = 300.0) -> None:
        self.aeron_dir = aeron_dir
        self.interval = interval
        self.reader = DriverReader(aeron_dir)
        self._messages = MessageCounter(aeron_dir)
        self._history: collections.deque[dict[str, Any]] = collections.deque(
            maxlen=max(2, int(history_s / interval)))
        self._previous: snap.Snapshot | None = None
        self._current: dict[str, Any] = {"driver": {"up": False, "error": "not sampled yet"}, "streams": []}
        self._errors: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> None:
        """Take one sample now (the thread calls this every interval)."""
        s = self.reader.snapshot()
        now = epoch_ms()
        if s is None:
            self._previous = None
            self._messages.close()
            current: dict[str, Any] = {"driver": {"up": False, "error": self.reader.last_error}, "streams": []}
            with self._lock:
                self._current = current
                self._history.append({"t": now, "up": False})
            return
        per_s = snap.rates(self._previous, s)
        views = []
        seen: set[tuple[str, int]] = set()
        for stream in snap.streams(s):
            pub, rcv = stream.first(c.PUBLISHER_POSITION_TYPE_ID), stream.first(c.RECEIVER_POSITION_TYPE_ID)
            log = ("publications", pub) if pub is not None else ("images", rcv) if rcv is not None else None
            msgs = None
            if log is not None and log[1] is not None:
                seen.add((log[0], log[1].registration_id))
                per_message = self._messages.bytes_per_message(log[1].registration_id, log[1].value, log[0])
                byte_rate = per_s.get(log[1].counter_id)
                if per_message and byte_rate is not None:
                    msgs = byte_rate / per_message
            views.append(_stream_view(stream, per_s, msgs))
        self._messages.retain(seen)
        system = {name: s.system(sid) for name, sid in SYSTEM_RATES.items()}
        by_sid = {x.system_id: x.counter_id for x in s.counters if x.type_id == c.SYSTEM_COUNTER_TYPE_ID}
        system_rates = {name: per_s.get(by_sid.get(sid, -1)) for name, sid in SYSTEM_RATES.items()}
        clients = [x for x in s.counters if x.type_id == c.CLIENT_HEARTBEAT_TYPE_ID and x.value > 0]
        errors = [{"count": n, "first_ms": a, "last_ms": b, "text": t} for n, a, b, t in self.reader.errors()]
        current = {
            "driver": {"up": True, "error": "", "pid": s.pid, "heartbeat_age_ms": s.heartbeat_age_ms,
                       "clients": len(clients), "counters": len(s.counters), "dir": self.aeron_dir},
            "system": system,
            "system_rates": system_rates,
            "streams": views,
            "errors": errors,
        }
        point = {
            "t": now, "up": True, "heartbeat_age_ms": s.heartbeat_age_ms, "clients": len(clients),
            "system_rates": system_rates,
            "streams": {v["key"]: {k: v[k] for k in ("byte_rate", "msg_rate", "lag", "hwm_gap",
                                                     "back_pressure_rate", "pub_pos", "rcv_hwm", "rcv_pos")}
                        for v in views},
        }
        self._previous = s
        with self._lock:
            self._current = current
            self._history.append(point)

    def state(self) -> dict[str, Any]:
        """The latest sample and the history (oldest first)."""
        with self._lock:
            return dict(self._current, history=list(self._history), interval_s=self.interval)

    def start(self) -> None:
        """Sample in a daemon thread until :meth:`stop`."""
        def loop() -> None:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    self.sample()
                except Exception as e:  # keep serving whatever the driver does
                    with self._lock:
                        self._current = {"driver": {"up": False, "error": f"sampling failed: {e}"}, "streams": []}
                self._stop.wait(max(0.05, self.interval - (time.monotonic() - started)))

        self._thread = threading.Thread(target=loop, name="dashboard-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and unmap everything."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._messages.close()
        self.reader.close()
