"""A lossy, duplicating, reordering UDP proxy for tests.

::

    client (e.g. Aeron sender) --forward-->  [listen | proxy | egress] --forward--> target (receiver)
    client                     <--reverse--  [listen | proxy | egress] <--reverse-- target

Datagrams arriving on the ``listen`` socket are sent from the ``egress`` socket to
``target``; datagrams arriving on ``egress`` from ``target`` are sent from ``listen``
back to the last seen client.  For Aeron, data flows forward and status messages /
NAKs (sent by the receiver to the data's source address, i.e. the egress socket) flow
in reverse.

Each direction has its own :class:`Impairment` (drop / duplicate / reorder rates, an
``enabled`` switch that blocks the direction entirely) and its own ``random.Random``
derived from ``seed``, so decisions in one direction do not depend on the interleaving
with the other.  Three random numbers are drawn per received datagram, whatever the
rates, so a given seed and datagram sequence always yields the same decisions.

Reordering holds one datagram back and releases it right after the next forwarded
datagram (or after ``reorder_hold`` seconds if nothing follows, so it is late but not
lost).  Addresses are restricted to loopback and the test namespace range
(:data:`tests.net.netns.NETNS_SUPERNET`); with ``netns=`` the sockets are created
inside that network namespace (the proxy thread itself stays in the process).
"""

from __future__ import annotations

import ipaddress
import random
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Literal

from .netns import NETNS_SUPERNET, in_netns

Address = tuple[str, int]
_SO_RCVBUFFORCE: int = getattr(socket, "SO_RCVBUFFORCE", 33)  # not exported by Python; Linux value
DirectionName = Literal["forward", "reverse"]


def _check_address(addr: Address, what: str) -> None:
    ip = ipaddress.ip_address(addr[0])
    if ip.is_loopback or (isinstance(ip, ipaddress.IPv4Address) and ip in NETNS_SUPERNET):
        return
    raise ValueError(f"{what} {addr[0]} is neither loopback nor a test-namespace address ({NETNS_SUPERNET})")


@dataclass
class Impairment:
    """What happens to one direction. Rates are probabilities in [0, 1]."""

    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    reorder_rate: float = 0.0
    enabled: bool = True  # False: every datagram in this direction is discarded (counted as blocked)

    def __post_init__(self) -> None:
        for name in ("drop_rate", "duplicate_rate", "reorder_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")


@dataclass
class ProxyCounters:
    """Per-direction counters.

    ``received == forwarded + dropped + blocked + (1 if a datagram is currently held else 0)``;
    ``duplicated`` counts extra copies sent; ``reordered`` counts datagrams that were held
    back and sent after a later one; ``send_errors`` counts failed ``sendto`` calls.
    """

    received: int = 0
    forwarded: int = 0
    dropped: int = 0
    duplicated: int = 0
    reordered: int = 0
    blocked: int = 0
    send_errors: int = 0

    def copy(self) -> ProxyCounters:
        return ProxyCounters(**self.__dict__)


@dataclass
class _Direction:
    name: DirectionName
    impairment: Impairment
    rng: random.Random
    counters: ProxyCounters = field(default_factory=ProxyCounters)
    held: tuple[bytes, bool] | None = None  # (payload, duplicate?)
    held_since: float = 0.0


class LossyUdpProxy:
    """See module docstring. Starts its thread in ``__init__``; use as a context manager or call ``close()``."""

    def __init__(
        self,
        listen: Address,
        target: Address,
        *,
        drop_rate: float = 0.0,
        duplicate_rate: float = 0.0,
        reorder_rate: float = 0.0,
        seed: int = 0,
        impair: tuple[DirectionName, ...] = ("forward",),
        forward: Impairment | None = None,
        reverse: Impairment | None = None,
        egress: Address | None = None,
        netns: str | None = None,
        lifetime: float = 60.0,
        reorder_hold: float = 0.05,
    ) -> None:
        """``drop_rate``/``duplicate_rate``/``reorder_rate`` apply to the directions named in
        ``impair``; pass ``forward=``/``reverse=`` :class:`Impairment` objects for full control.
        ``listen`` port 0 picks a free port (see :attr:`listen_address`). ``egress`` is the
        local address for the target-facing socket (default: same IP as ``listen``, any port).
        ``lifetime`` bounds how long the thread runs even if ``close()`` is never called.
        """
        _check_address(listen, "listen address")
        _check_address(target, "target address")
        if egress is not None:
            _check_address(egress, "egress address")
        shared = Impairment(drop_rate, duplicate_rate, reorder_rate)
        self._dirs: dict[DirectionName, _Direction] = {}
        names: tuple[DirectionName, DirectionName] = ("forward", "reverse")
        for index, (name, explicit) in enumerate(zip(names, (forward, reverse))):
            imp = explicit if explicit is not None else (shared if name in impair else Impairment())
            # Documented contract (tests replay it): direction i uses Random(seed * 2 + i).
            self._dirs[name] = _Direction(name, Impairment(**imp.__dict__), random.Random(seed * 2 + index))
        self.target: Address = target
        self.client: Address | None = None
        self.lifetime = lifetime
        self.reorder_hold = reorder_hold
        self._lock = threading.Lock()
        self._stop_r, self._stop_w = socket.socketpair()
        family = socket.AF_INET6 if ":" in listen[0] else socket.AF_INET
        if netns is not None:
            with in_netns(netns):
                self._listen, self._egress = self._make_sockets(family, listen, egress)
        else:
            self._listen, self._egress = self._make_sockets(family, listen, egress)
        self.listen_address: Address = self._listen.getsockname()[:2]
        self.egress_address: Address = self._egress.getsockname()[:2]
        self.deadline = time.monotonic() + lifetime
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"LossyUdpProxy{self.listen_address}", daemon=True)
        self._thread.start()

    @staticmethod
    def _make_sockets(family: int, listen: Address, egress: Address | None) -> tuple[socket.socket, socket.socket]:
        a = socket.socket(family, socket.SOCK_DGRAM)
        b = socket.socket(family, socket.SOCK_DGRAM)
        try:
            a.bind(listen)
            b.bind(egress if egress is not None else (listen[0], 0))
            for s in (a, b):
                s.setblocking(False)
                try:  # root may exceed net.core.rmem_max; fall back to the capped option
                    s.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, 4 * 1024 * 1024)
                except OSError:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        except BaseException:
            a.close()
            b.close()
            raise
        return a, b

    # -- control

    def __enter__(self) -> LossyUdpProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def set_impairment(self, direction: DirectionName, impairment: Impairment) -> None:
        """Replace a direction's behaviour while running (counters and RNG are kept)."""
        with self._lock:
            self._dirs[direction].impairment = Impairment(**impairment.__dict__)

    def set_enabled(self, direction: DirectionName, enabled: bool) -> None:
        with self._lock:
            self._dirs[direction].impairment.enabled = enabled

    def counters(self, direction: DirectionName = "forward") -> ProxyCounters:
        with self._lock:
            return self._dirs[direction].counters.copy()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread (held datagrams are discarded), close sockets; idempotent."""
        try:
            self._stop_w.send(b"x")
        except OSError:
            pass
        self._thread.join(timeout)
        for s in (self._listen, self._egress, self._stop_r, self._stop_w):
            s.close()
        if self.error is not None:
            raise RuntimeError("proxy thread failed") from self.error

    # -- thread

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as e:  # surfaced by close()
            self.error = e

    def _loop(self) -> None:
        fwd, rev = self._dirs["forward"], self._dirs["reverse"]
        while True:
            now = time.monotonic()
            if now >= self.deadline:
                return
            timeout = self.deadline - now
            for d in (fwd, rev):
                if d.held is not None:
                    timeout = min(timeout, max(0.0, d.held_since + self.reorder_hold - now))
            readable, _, _ = select.select([self._listen, self._egress, self._stop_r], [], [], timeout)
            if self._stop_r in readable:
                return
            if self._listen in readable:
                self._drain(self._listen, fwd)
            if self._egress in readable:
                self._drain(self._egress, rev)
            now = time.monotonic()
            with self._lock:
                for d in (fwd, rev):
                    if d.held is not None and now >= d.held_since + self.reorder_hold:
                        payload, dup = d.held
                        d.held = None
                        self._send(d, payload, dup)  # late, not lost

    def _drain(self, sock: socket.socket, d: _Direction) -> None:
        for _ in range(256):  # bounded per wakeup so the other direction is not starved
            try:
                payload, source = sock.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionRefusedError:  # ICMP port unreachable from an earlier send
                continue
            with self._lock:
                if d.name == "forward":
                    self.client = source[:2]
                elif source[:2] != self.target:
                    continue  # not from the target: ignore
                self._on_datagram(d, payload)

    def _on_datagram(self, d: _Direction, payload: bytes) -> None:
        c = d.counters
        c.received += 1
        imp = d.impairment
        r_drop, r_dup, r_reorder = d.rng.random(), d.rng.random(), d.rng.random()
        if not imp.enabled:
            c.blocked += 1
            return
        if r_drop < imp.drop_rate:
            c.dropped += 1
            return
        dup = r_dup < imp.duplicate_rate
        if d.held is None and r_reorder < imp.reorder_rate:
            d.held = (payload, dup)
            d.held_since = time.monotonic()
            return
        self._send(d, payload, dup)
        if d.held is not None:
            held, held_dup = d.held
            d.held = None
            c.reordered += 1
            self._send(d, held, held_dup)

    def _send(self, d: _Direction, payload: bytes, dup: bool) -> None:
        dest: Address | None
        if d.name == "forward":
            sock, dest = self._egress, self.target
        else:
            sock, dest = self._listen, self.client
        d.counters.forwarded += 1
        if dest is None:
            d.counters.send_errors += 1
            return
        for _ in range(2 if dup else 1):
            try:
                sock.sendto(payload, dest)
            except OSError:
                d.counters.send_errors += 1
        if dup:
            d.counters.duplicated += 1
