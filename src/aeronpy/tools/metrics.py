"""OpenMetrics for every counter in cnc.dat, using ``prometheus_client`` for the exposition.

:class:`AeronCollector` reads a fresh snapshot on every scrape.  Names are ``aeron_<name>``
from metric_names.py; every per-resource metric carries the labels ``type``, ``stream``,
``session``, ``channel`` and ``registration_id`` (empty where the key has no such field), and
counters of types aeronpy does not know become ``aeron_counter`` with ``type_id`` and
``label``.  ``aeron_driver_up`` is 1 while a live driver is mapped, else 0 (the collector
re-opens the directory on the next scrape).  ``aeronpy stat --serve HOST:PORT`` serves it.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from typing import Any, TextIO

from aeronpy.cnc import CncFile
from aeronpy.concurrent.stop_flag import stop_on_termination_signals
from aeronpy.tools import snapshot as snap
from aeronpy.tools.cnc_access import DRIVER_TIMEOUT_MS, ToolError, open_cnc
from aeronpy.tools.metric_names import CUMULATIVE_TYPES, SYSTEM_COUNTERS, TYPE_METRICS

__all__ = ["AeronCollector", "DriverReader", "parse_host_port", "make_registry", "serve", "serve_forever"]

PREFIX = "aeron_"
LABELS = ["type", "stream", "session", "channel", "registration_id"]


def _require() -> Any:
    try:
        import prometheus_client
    except ImportError:  # pragma: no cover - depends on the installation
        raise ToolError("OpenMetrics needs prometheus_client: pip install 'aeronpy[metrics]'") from None
    return prometheus_client


class DriverReader:
    """Keeps ``cnc.dat`` of ``aeron_dir`` mapped while its driver lives; reopens when it returns."""

    def __init__(self, aeron_dir: str) -> None:
        self.aeron_dir = aeron_dir
        self._cnc: CncFile | None = None
        self._inode: int | None = None
        self._lock = threading.Lock()
        self.last_error = ""

    def snapshot(self) -> snap.Snapshot | None:
        """A snapshot of the live driver, or ``None`` (reason in :attr:`last_error`)."""
        with self._lock:
            if self._cnc is not None and self._inode != _inode(self.aeron_dir):
                self._drop("cnc.dat was replaced or removed")  # a new driver, or none: look again
            if self._cnc is None:
                inode = _inode(self.aeron_dir)
                try:
                    self._cnc = open_cnc(self.aeron_dir)
                except ToolError as e:
                    self.last_error = str(e)
                    return None
                self._inode = inode
            try:
                s = snap.take(self._cnc)
            except (ValueError, IndexError) as e:
                self._drop(f"cnc.dat unreadable: {e}")
                return None
            if s.heartbeat_age_ms is None or s.heartbeat_age_ms > DRIVER_TIMEOUT_MS:
                self._drop(f"driver not running: heartbeat in {self.aeron_dir}/cnc.dat stopped")
                return None
            self.last_error = ""
            return s

    def errors(self, limit: int = 50) -> list[tuple[int, int, int, str]]:
        """Distinct errors ``(count, first_ms, last_ms, text)``, most recent first (empty when down)."""
        from aeronpy.concurrent.error_log import read_error_log

        found: list[tuple[int, int, int, str]] = []
        with self._lock:
            if self._cnc is None:
                return []
            try:
                read_error_log(self._cnc.error_log_buffer, lambda n, a, b, t: found.append((n, a, b, t)))
            except (ValueError, IndexError):
                return []
        found.sort(key=lambda e: -e[2])
        return found[:limit]

    def _drop(self, reason: str) -> None:
        if self._cnc is not None:
            self._cnc.close()
        self._cnc = None
        self.last_error = reason

    def close(self) -> None:
        """Unmap cnc.dat."""
        with self._lock:
            self._drop("closed")


class AeronCollector:
    """A prometheus_client collector exposing one snapshot per scrape."""

    def __init__(self, reader: DriverReader) -> None:
        self.reader = reader

    def describe(self) -> list[Any]:
        """No fixed description: the counters come and go with streams."""
        return []

    def collect(self) -> Iterator[Any]:
        """Metric families of the current snapshot."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        s = self.reader.snapshot()
        up = GaugeMetricFamily(PREFIX + "driver_up", "1 while a live media driver is mapped")
        up.add_metric([], 1 if s is not None else 0)
        yield up
        if s is None:
            return
        beat = GaugeMetricFamily(PREFIX + "driver_heartbeat_age_ms", "milliseconds since the driver's heartbeat")
        beat.add_metric([], s.heartbeat_age_ms or 0)
        yield beat
        families: dict[str, Any] = {}

        def family(name: str, cumulative: bool, doc: str, labels: list[str]) -> Any:
            if name not in families:
                kind = CounterMetricFamily if cumulative else GaugeMetricFamily
                families[name] = kind(PREFIX + name, doc, labels=labels)
            return families[name]

        for x in s.counters:
            if x.type_id == 0 and x.system_id in SYSTEM_COUNTERS:
                name, cumulative = SYSTEM_COUNTERS[x.system_id]
                family(name, cumulative, x.label.split(":")[0], ["type"]).add_metric(["system"], x.value)
            elif x.type_id in TYPE_METRICS:
                values = [x.type_name, _s(x.stream_id), _s(x.session_id), x.channel or "", str(x.registration_id)]
                labels = list(LABELS)
                if x.type_id == 11:
                    labels, values = ["type", "client_id"], [x.type_name, _s(x.client_id)]
                elif x.type_id == 14:
                    labels, values = ["type", "registration_id", "counter_id"], [
                        x.type_name, str(x.registration_id), str(x.counter_id)]
                family(TYPE_METRICS[x.type_id], x.type_id in CUMULATIVE_TYPES, f"Aeron {x.type_name} counters",
                       labels).add_metric(values, x.value)
            else:
                family("counter", False, "other counters (client and extension types)",
                       ["type_id", "counter_id", "label"]).add_metric(
                    [str(x.type_id), str(x.counter_id), x.label], x.value)
        yield from families.values()


def _inode(aeron_dir: str) -> int | None:
    try:
        return os.stat(os.path.join(aeron_dir, "cnc.dat")).st_ino
    except OSError:
        return None


def _s(value: int | None) -> str:
    return "" if value is None else str(value)


def parse_host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``:PORT`` means 127.0.0.1; ``[v6]:PORT`` for IPv6) → (host, port)."""
    host, sep, port_text = text.rpartition(":")
    if not sep:
        raise ToolError(f"--serve expects HOST:PORT, got {text!r}")
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        raise ToolError(f"--serve: port must be a number, got {port_text!r}") from None
    if not 0 <= port <= 65535:
        raise ToolError(f"--serve: port must be in 0..65535, got {port}")
    return host, port


def make_registry(reader: DriverReader) -> Any:
    """A fresh registry holding only the Aeron collector."""
    prometheus_client = _require()
    registry = prometheus_client.CollectorRegistry(auto_describe=False)
    registry.register(AeronCollector(reader))
    return registry


def serve(aeron_dir: str, address: str) -> tuple[Any, DriverReader]:
    """Start serving ``/metrics`` on ``address`` in a daemon thread: (server, reader)."""
    prometheus_client = _require()
    host, port = parse_host_port(address)
    reader = DriverReader(aeron_dir)
    try:
        server, _ = prometheus_client.start_http_server(port, addr=host, registry=make_registry(reader))
    except OSError as e:
        raise ToolError(f"cannot serve on {host}:{port}: {e.strerror or e}") from None
    return server, reader


def serve_forever(aeron_dir: str, address: str, out: TextIO | None = None) -> int:
    """``aeronpy stat --serve``: serve until Ctrl-C or SIGTERM (main thread: it takes both
    signals' handlers, so it stops whatever disposition it inherited)."""
    out = out or sys.stdout
    stop = stop_on_termination_signals()
    server, reader = serve(aeron_dir, address)
    host, port = server.server_address[:2]
    out.write(f"serving OpenMetrics for {aeron_dir} at http://{host}:{port}/metrics (Ctrl-C to stop)\n")
    out.flush()
    try:
        while not stop.wait(0.2):
            pass
        return 0
    finally:
        server.shutdown()
        reader.close()
