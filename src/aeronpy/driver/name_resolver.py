"""The driver name resolver: drivers gossip their names and addresses in RES frames over UDP.

As Aeron's ``DriverNameResolver`` (``aeron.driver.resolver.*``): each driver binds a UDP socket
on ``aeron.driver.resolver.interface`` and

* every ``self.resolution.interval`` (1 s) sends a SELF entry (its name, address, resolver
  port) to its bootstrap neighbours and to every neighbour it knows;
* every ``neighbor.resolution.interval`` (2 s) sends its whole cache (what others told it,
  with the entries' ages) to every neighbour, packed into MTU-sized RES frames;
* learns a cache entry and a neighbour from every entry it receives (a SELF entry with a
  wildcard address takes the datagram's source address); entries time out after
  ``neighbor.timeout`` (10 s) without news, neighbours after the same time without a SELF entry;
* re-resolves bootstrap neighbours that are not (or no longer) neighbours every
  ``bootstrap.neighbor.resolution.interval`` (10 s).

:meth:`DriverNameResolver.resolve` answers host names for channels: the cache first, then its
own name, then the delegate (DNS).  Sans-IO apart from the injected transport: time is a
parameter (epoch milliseconds), the transport is anything with ``send(datagram, address)`` and
``recv_into(buffer)``.  Runs on the conductor thread (``do_work`` from its duty cycle).

:class:`TimeTrackingResolver` measures every resolution for system counters 32/33.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aeronpy.concurrent import counters as ctr
from aeronpy.concurrent.bit_util import INT32_MAX, INT32_MIN
from aeronpy.concurrent.counters import AtomicCounter, CountersManager
from aeronpy.driver.context import DriverContext
from aeronpy.driver.media.udp_channel import Address, Resolver, UdpChannel, default_resolver, resolve_host_and_port
from aeronpy.driver.media.udp_transport import TRANSIENT_ERRNOS
from aeronpy.driver.system_counters import SystemCounterId
from aeronpy.errors import AeronError, ConfigurationError
from aeronpy.protocol import frames
from aeronpy.protocol.frames import (
    FRAME_HEADER_LAYOUT,
    FRAME_HEADER_LENGTH,
    HDR_TYPE_RES,
    RES_SELF_FLAG,
    RES_TYPE_NAME_TO_IP4_MD,
    RES_TYPE_NAME_TO_IP6_MD,
    MalformedFrameError,
    ResolutionEntry,
    ResolutionFrame,
)
from aeronpy.uri import parse_interface

__all__ = [
    "BOOTSTRAP_NEIGHBOR_LABEL",
    "CacheEntry",
    "DriverNameResolver",
    "MAX_BOOTSTRAP_NEIGHBORS",
    "NameResolverCache",
    "Neighbor",
    "ResolverCounters",
    "ResolverFullError",
    "TimeTrackingResolver",
    "WORK_INTERVAL_MS",
    "bootstrap_neighbor_label",
    "cache_entries_label",
    "is_enabled",
    "neighbors_label",
    "open_driver_name_resolver",
]

WORK_INTERVAL_MS = 10
"""The resolver does its work at most this often (as Aeron)."""
MAX_BOOTSTRAP_NEIGHBORS = 20
MAX_DATAGRAMS_PER_WORK = 16
MAX_CACHE_ENTRIES = 4096
MAX_NEIGHBORS = 1024
"""Caps (aeronpy's, Aeron has none) so that a flood of invented names or addresses on the
resolver port cannot exhaust memory; beyond them new names/neighbours are dropped and reported."""
RECV_BUFFER_LENGTH = 65536
BOOTSTRAP_NEIGHBOR_LABEL = "Bootstrap neighbor"
NEIGHBORS_LABEL = "Resolver neighbors"
CACHE_ENTRIES_LABEL = "Resolver cache entries"

_INT32 = struct.Struct("<i")
_FAMILY = {RES_TYPE_NAME_TO_IP4_MD: socket.AF_INET, RES_TYPE_NAME_TO_IP6_MD: socket.AF_INET6}


class _Counter(Protocol):
    def set(self, value: int) -> None: ...


class _Incrementable(Protocol):
    def increment(self) -> int: ...


class ResolverTransport(Protocol):
    """What the resolver needs of its socket (``UdpChannelTransport`` or an in-memory one)."""

    def send(self, datagram: Any, address: Any = None) -> int: ...

    def recv_into(self, buffer: Any) -> tuple[int, Any] | None: ...

    def close(self) -> None: ...


def _format(address: Address) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def neighbors_label(bound: Address) -> str:
    return f"{NEIGHBORS_LABEL}: bound {_format(bound)}"


def cache_entries_label(name: str) -> str:
    return f"{CACHE_ENTRIES_LABEL}: name={name}"


def bootstrap_neighbor_label(neighbor: str, resolved: Address | None) -> str:
    return f"{BOOTSTRAP_NEIGHBOR_LABEL}: name={neighbor} resolved={'' if resolved is None else _format(resolved)}"


def _pack_host(host: str) -> tuple[int, bytes]:
    """``(res_type, raw address bytes)`` of a literal IPv4/IPv6 host (scope dropped)."""
    host = host.partition("%")[0]
    if ":" in host:
        return RES_TYPE_NAME_TO_IP6_MD, socket.inet_pton(socket.AF_INET6, host)
    return RES_TYPE_NAME_TO_IP4_MD, socket.inet_pton(socket.AF_INET, host)


def _unpack_host(res_type: int, raw: bytes) -> str:
    return socket.inet_ntop(_FAMILY[res_type], raw)


def _clamp_int32(value: int) -> int:
    return max(INT32_MIN, min(INT32_MAX, value))


# ------------------------------------------------------------------------------------ cache


@dataclass
class CacheEntry:
    """What some driver said about ``name``: its resolver address and when it was last heard of."""

    name: bytes
    res_type: int
    address: bytes
    port: int
    time_of_last_activity_ms: int
    deadline_ms: int

    @property
    def host(self) -> str:
        return _unpack_host(self.res_type, self.address)


class NameResolverCache:
    """Entries by ``(name, res_type)``, each expiring ``timeout_ms`` after its last activity.
    ``counter`` (``Resolver cache entries``) follows the number of entries."""

    def __init__(self, timeout_ms: int, counter: _Counter | None = None, capacity: int = MAX_CACHE_ENTRIES) -> None:
        self.timeout_ms = timeout_ms
        self.counter = counter
        self.capacity = capacity
        self._entries: dict[tuple[bytes, int], CacheEntry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[CacheEntry]:
        return iter(list(self._entries.values()))

    def _update_counter(self) -> None:
        if self.counter is not None:
            self.counter.set(len(self._entries))

    def add_or_update(
        self, name: bytes, res_type: int, address: bytes, port: int, time_of_last_activity_ms: int
    ) -> bool | None:
        """Record the entry; True when it is new, False when updated, None when the cache is
        full (``capacity`` entries) and the name new: then nothing is recorded."""
        key = (bytes(name), res_type)
        deadline = time_of_last_activity_ms + self.timeout_ms
        entry = self._entries.get(key)
        if entry is None:
            if len(self._entries) >= self.capacity:
                return None
            self._entries[key] = CacheEntry(key[0], res_type, bytes(address), port, time_of_last_activity_ms, deadline)
            self._update_counter()
            return True
        entry.address = bytes(address)
        entry.port = port
        entry.time_of_last_activity_ms = time_of_last_activity_ms
        entry.deadline_ms = deadline
        return False

    def lookup(self, name: bytes, res_type: int) -> CacheEntry | None:
        return self._entries.get((name, res_type))

    def timeout_old_entries(self, now_ms: int) -> int:
        """Drop entries whose deadline has come; returns how many."""
        expired = [key for key, entry in self._entries.items() if entry.deadline_ms <= now_ms]
        for key in expired:
            del self._entries[key]
        if expired:
            self._update_counter()
        return len(expired)


# ------------------------------------------------------------------------------------ resolver


class ResolverFullError(AeronError):
    """The resolver's cache or neighbour list is at its cap (reported, never raised out)."""


@dataclass
class Neighbor:
    """A driver's resolver this one gossips with."""

    address: Address
    res_type: int
    raw_address: bytes
    time_of_last_activity_ms: int


@dataclass
class ResolverCounters:
    """The counters the resolver keeps up to date (all optional: unit tests pass none)."""

    neighbors: _Counter | None = None
    cache_entries: _Counter | None = None
    bootstrap_neighbors: Sequence[_Counter] = ()
    """One per bootstrap neighbour: 1 while it is a neighbour, else 0."""
    relabel_bootstrap_neighbor: Callable[[int, str], None] | None = None
    """``(index, label)``: the bootstrap neighbour counter's label after each (re)resolution."""
    invalid_packets: _Incrementable | None = None
    short_sends: _Incrementable | None = None


@dataclass
class _Bootstrap:
    text: str
    address: Address | None = None


class DriverNameResolver:
    """One driver's name resolver (see the module docstring).

    ``local_address`` is the address the transport is bound to (its port is the resolver port
    announced to others); ``now_ms`` starts the intervals.  ``error_handler`` receives what goes
    wrong (a bootstrap neighbour that does not resolve, a failed send); nothing raises out of
    :meth:`do_work` or :meth:`on_frame`.
    """

    def __init__(
        self,
        name: str,
        transport: ResolverTransport,
        local_address: Address,
        now_ms: int,
        *,
        bootstrap_neighbors: Sequence[str] = (),
        delegate: Resolver = default_resolver,
        neighbor_timeout_ms: int = 10_000,
        self_resolution_interval_ms: int = 1_000,
        neighbor_resolution_interval_ms: int = 2_000,
        bootstrap_resolution_interval_ms: int = 10_000,
        mtu_length: int = 1408,
        counters: ResolverCounters | None = None,
        error_handler: Callable[[BaseException], None] | None = None,
    ) -> None:
        if len(bootstrap_neighbors) > MAX_BOOTSTRAP_NEIGHBORS:
            raise ValueError(f"bootstrap_neighbors: at most {MAX_BOOTSTRAP_NEIGHBORS}, got {len(bootstrap_neighbors)}")
        self.name = name
        self.name_bytes = name.encode("utf-8")
        if len(self.name_bytes) > frames.RES_MAX_NAME_LENGTH:
            raise ValueError(f"name: longer than {frames.RES_MAX_NAME_LENGTH} bytes: {name!r}")
        self.transport = transport
        self.local_address = (str(local_address[0]).partition("%")[0], int(local_address[1]))
        self.local_res_type, self.local_raw_address = _pack_host(self.local_address[0])
        self.delegate = delegate
        self.counters = counters if counters is not None else ResolverCounters()
        self.error_handler = error_handler
        self.neighbor_timeout_ms = neighbor_timeout_ms
        self.self_resolution_interval_ms = self_resolution_interval_ms
        self.neighbor_resolution_interval_ms = neighbor_resolution_interval_ms
        self.bootstrap_resolution_interval_ms = bootstrap_resolution_interval_ms
        self.mtu_length = mtu_length
        self.cache = NameResolverCache(neighbor_timeout_ms, self.counters.cache_entries)
        self.neighbors: list[Neighbor] = []
        self.bootstrap = [_Bootstrap(text.strip()) for text in bootstrap_neighbors]
        self._work_deadline_ms = 0
        self._self_resolution_deadline_ms = 0
        self._neighbor_resolution_deadline_ms = now_ms + neighbor_resolution_interval_ms
        self._bootstrap_resolution_deadline_ms = now_ms + bootstrap_resolution_interval_ms
        self._buffer = bytearray(RECV_BUFFER_LENGTH)
        self._next_full_report_ms = INT32_MIN
        self._self_frame = ResolutionFrame((ResolutionEntry(
            self.local_res_type, self.local_address[1], 0, self.local_raw_address, self.name_bytes, RES_SELF_FLAG,
        ),)).encode()
        for index in range(len(self.bootstrap)):
            self._resolve_bootstrap(index)

    # ------------------------------------------------------------------ resolution (channels)
    def resolve(self, name: str, family: int) -> str:
        """A literal address for host ``name``: the cache, our own name, then the delegate."""
        res_type = RES_TYPE_NAME_TO_IP6_MD if family == socket.AF_INET6 else RES_TYPE_NAME_TO_IP4_MD
        entry = self.cache.lookup(name.encode("utf-8", "surrogateescape"), res_type)
        if entry is not None:
            return entry.host
        if name == self.name:
            return self.local_address[0]
        return self.delegate(name, family)

    # ------------------------------------------------------------------ duty cycle
    def do_work(self, now_ms: int) -> int:
        """Poll, expire, gossip when due (at most every :data:`WORK_INTERVAL_MS`)."""
        if now_ms < self._work_deadline_ms:
            return 0
        self._work_deadline_ms = now_ms + WORK_INTERVAL_MS
        work = self.poll(now_ms)
        work += self.cache.timeout_old_entries(now_ms)
        work += self._timeout_neighbors(now_ms)
        if self._self_resolution_deadline_ms <= now_ms:
            work += self.send_self_resolutions()
            self._self_resolution_deadline_ms = now_ms + self.self_resolution_interval_ms
        if self._neighbor_resolution_deadline_ms <= now_ms:
            work += self.send_neighbor_resolutions(now_ms)
            self._neighbor_resolution_deadline_ms = now_ms + self.neighbor_resolution_interval_ms
        if self.bootstrap and self._bootstrap_resolution_deadline_ms <= now_ms:
            self._reresolve_bootstrap_neighbors()
            self._bootstrap_resolution_deadline_ms = now_ms + self.bootstrap_resolution_interval_ms
        return work

    def poll(self, now_ms: int) -> int:
        """Read and handle up to :data:`MAX_DATAGRAMS_PER_WORK` datagrams."""
        work = 0
        view = memoryview(self._buffer)
        for _ in range(MAX_DATAGRAMS_PER_WORK):
            try:
                received = self.transport.recv_into(view)
            except OSError as e:
                if e.errno not in TRANSIENT_ERRNOS:
                    self._report(e)
                break
            if received is None:
                break
            length, source = received
            work += self.on_frame(view[:length], source, now_ms)
        return work

    def on_frame(self, data: Any, source: Any, now_ms: int) -> int:
        """Handle one datagram from ``source``; returns the number of entries taken in.

        A datagram that is not a well-formed RES frame (or whose entries run past its end, or
        carry a name longer than 512 bytes) is counted in "Invalid packets"; the entries before
        the bad one are kept, as Aeron does."""
        mv = memoryview(data).cast("B") if not isinstance(data, memoryview) else data
        length = len(mv)
        if length < FRAME_HEADER_LENGTH:
            self._invalid()
            return 0
        _, version, _, frame_type = FRAME_HEADER_LAYOUT.unpack_from(mv, 0)
        if version != frames.CURRENT_VERSION or frame_type != HDR_TYPE_RES:
            self._invalid()
            return 0
        offset = FRAME_HEADER_LENGTH
        work = 0
        while offset < length:
            try:
                entry = ResolutionEntry.decode(mv, offset)
            except MalformedFrameError:
                self._invalid()
                break
            if len(entry.name) > frames.RES_MAX_NAME_LENGTH:  # no Aeron driver sends one
                self._invalid()
                break
            offset += entry.encoded_length
            try:
                self._on_entry(entry, source, now_ms)
            except (OSError, ValueError) as e:  # an address that cannot be used
                self._report(e)
                continue
            work += 1
        return work

    def _on_entry(self, entry: ResolutionEntry, source: Any, now_ms: int) -> None:
        res_type, raw = entry.res_type, entry.address
        if entry.is_self and not any(raw):
            res_type, raw = _pack_host(str(source[0]))
        if entry.udp_port == self.local_address[1] and entry.name == self.name_bytes:
            return  # our own entry, echoed back by a neighbour
        time_of_last_activity = now_ms - entry.age_in_ms
        if self.cache.add_or_update(entry.name, res_type, raw, entry.udp_port, time_of_last_activity) is None:
            self._report_full(f"name resolver cache full ({self.cache.capacity} entries): new names dropped", now_ms)
            return
        neighbor = self._find_neighbor(res_type, raw, entry.udp_port)
        if neighbor is None:
            if len(self.neighbors) >= MAX_NEIGHBORS:
                self._report_full(f"name resolver has {MAX_NEIGHBORS} neighbors: new neighbors dropped", now_ms)
                return
            address = (_unpack_host(res_type, raw), entry.udp_port)
            self.neighbors.append(Neighbor(address, res_type, raw, time_of_last_activity))
            self._set(self.counters.neighbors, len(self.neighbors))
        elif entry.is_self:
            neighbor.time_of_last_activity_ms = time_of_last_activity

    def _find_neighbor(self, res_type: int, raw: bytes, port: int) -> Neighbor | None:
        for neighbor in self.neighbors:
            if neighbor.res_type == res_type and neighbor.raw_address == raw and neighbor.address[1] == port:
                return neighbor
        return None

    def _timeout_neighbors(self, now_ms: int) -> int:
        before = len(self.neighbors)
        self.neighbors = [n for n in self.neighbors if n.time_of_last_activity_ms + self.neighbor_timeout_ms > now_ms]
        removed = before - len(self.neighbors)
        if removed:
            self._set(self.counters.neighbors, len(self.neighbors))
        return removed

    # ------------------------------------------------------------------ sending
    def send_self_resolutions(self) -> int:
        """Our SELF entry to the bootstrap neighbours and every other neighbour; updates the
        bootstrap neighbour counters (1 = that neighbour is a known neighbour)."""
        if not self.bootstrap and not self.neighbors:
            return 0
        work = 0
        for bootstrap in self.bootstrap:
            if bootstrap.address is not None:
                work += self._send(self._self_frame, bootstrap.address)
        connected = [False] * len(self.bootstrap)
        for neighbor in self.neighbors:
            is_bootstrap = False
            for index, bootstrap in enumerate(self.bootstrap):
                if bootstrap.address is not None and _same(bootstrap.address, neighbor.address):
                    is_bootstrap = connected[index] = True
            if not is_bootstrap:
                work += self._send(self._self_frame, neighbor.address)
        for index, counter in enumerate(self.counters.bootstrap_neighbors):
            if index < len(connected):
                counter.set(1 if connected[index] else 0)
        return work

    def neighbor_resolution_frames(self, now_ms: int) -> list[bytes]:
        """The cache as RES frames of at most ``mtu_length`` bytes each (ages as of ``now_ms``)."""
        result: list[bytes] = []
        batch: list[ResolutionEntry] = []
        size = FRAME_HEADER_LENGTH
        for cached in self.cache:
            entry = ResolutionEntry(
                cached.res_type, cached.port, _clamp_int32(now_ms - cached.time_of_last_activity_ms),
                cached.address, cached.name,
            )
            if size + entry.encoded_length > self.mtu_length and batch:
                result.append(ResolutionFrame(tuple(batch)).encode())
                batch, size = [], FRAME_HEADER_LENGTH
            if size + entry.encoded_length > self.mtu_length:
                continue  # an entry larger than the MTU on its own: never sent
            batch.append(entry)
            size += entry.encoded_length
        if batch:
            result.append(ResolutionFrame(tuple(batch)).encode())
        return result

    def send_neighbor_resolutions(self, now_ms: int) -> int:
        """Everything in the cache to every neighbour."""
        work = 0
        if not self.neighbors:
            return 0
        for frame in self.neighbor_resolution_frames(now_ms):
            for neighbor in self.neighbors:
                work += self._send(frame, neighbor.address)
        return work

    def _send(self, datagram: bytes, address: Address) -> int:
        try:
            sent = self.transport.send(datagram, address)
        except OSError as e:
            if e.errno not in TRANSIENT_ERRNOS:
                self._report(OSError(e.errno, f"failed to send resolution frames to neighbor {_format(address)}: {e.strerror}"))
            return 0
        if 0 <= sent < len(datagram) and self.counters.short_sends is not None:
            self.counters.short_sends.increment()
        return 1

    # ------------------------------------------------------------------ bootstrap neighbours
    def _resolve_bootstrap(self, index: int) -> None:
        bootstrap = self.bootstrap[index]
        try:
            bootstrap.address = resolve_host_and_port(bootstrap.text, "bootstrap_neighbor", self.delegate)
        except (AeronError, OSError, ValueError) as e:
            bootstrap.address = None
            self._report(e)
        if self.counters.relabel_bootstrap_neighbor is not None:
            self.counters.relabel_bootstrap_neighbor(index, bootstrap_neighbor_label(bootstrap.text, bootstrap.address))

    def _reresolve_bootstrap_neighbors(self) -> None:
        for index, bootstrap in enumerate(self.bootstrap):
            known = bootstrap.address is not None and any(_same(bootstrap.address, n.address) for n in self.neighbors)
            if not known:
                self._resolve_bootstrap(index)

    # ------------------------------------------------------------------ helpers
    def _invalid(self) -> None:
        if self.counters.invalid_packets is not None:
            self.counters.invalid_packets.increment()

    def _report_full(self, message: str, now_ms: int) -> None:
        """At most once a second: a flood must not turn into a flood of error records."""
        if now_ms >= self._next_full_report_ms:
            self._next_full_report_ms = now_ms + 1_000
            self._report(ResolverFullError(message))

    def _report(self, ex: BaseException) -> None:
        if self.error_handler is not None:
            self.error_handler(ex)

    @staticmethod
    def _set(counter: _Counter | None, value: int) -> None:
        if counter is not None:
            counter.set(value)

    def close(self) -> None:
        self.transport.close()


def _same(a: Address, b: Address) -> bool:
    if a[1] != b[1]:
        return False
    try:
        return _pack_host(a[0]) == _pack_host(b[0])
    except (OSError, ValueError):
        return a[0] == b[0]


# ------------------------------------------------------------------------------------ timing


@dataclass
class TimeTrackingResolver:
    """Wraps a :data:`Resolver`, measuring each call: the longest goes to ``max_time`` (system
    counter 32, "NameResolver max time in ns"), each longer than ``threshold_ns`` counts in
    ``exceeded`` (33), as the C driver's time-tracking resolver does."""

    delegate: Resolver
    nano_clock: Callable[[], int]
    max_time: Any = None
    exceeded: Any = None
    threshold_ns: int = 5_000_000_000
    calls: int = field(default=0, compare=False)

    def __call__(self, name: str, family: int) -> str:
        start = self.nano_clock()
        try:
            return self.delegate(name, family)
        finally:
            self.calls += 1
            elapsed = self.nano_clock() - start
            if self.max_time is not None:
                self.max_time.propose_max(elapsed)
            if elapsed > self.threshold_ns and self.exceeded is not None:
                self.exceeded.increment()


# ------------------------------------------------------------------------------------ driver wiring


def is_enabled(ctx: DriverContext) -> bool:
    """The driver name resolver runs when ``aeron.driver.resolver.interface`` is set (Java) or
    ``aeron.name.resolver.supplier=driver`` (C; validation then requires the interface)."""
    return ctx.resolver_interface is not None or ctx.name_resolver_supplier == "driver"


def open_driver_name_resolver(
    ctx: DriverContext,
    counters: CountersManager,
    system_counters: dict[int, AtomicCounter],
    now_ms: int,
    delegate: Resolver = default_resolver,
    error_handler: Callable[[BaseException], None] | None = None,
) -> DriverNameResolver:
    """Bind the resolver's socket on ``aeron.driver.resolver.interface`` (through
    ``ctx.transport_factory``), allocate its counters and start it.  Raises
    :class:`ConfigurationError` when the interface does not resolve or cannot be bound."""
    interface_prop = DriverContext.PROPERTY_NAMES["resolver_interface"]
    interface = ctx.resolver_interface
    if interface is None or not ctx.resolver_name:
        raise ConfigurationError(
            f"{interface_prop} and {DriverContext.PROPERTY_NAMES['resolver_name']} are required by the driver name resolver"
        )
    spec = parse_interface(interface, interface_prop)
    if spec.host is None:
        raise ConfigurationError(f"{interface_prop}={interface}: must be host[:port], not an interface name")
    host = spec.host.partition("%")[0]
    try:
        literal = resolve_host_and_port(f"[{host}]:0" if spec.is_ipv6 else f"{host}:0", interface_prop, delegate)[0]
        channel = UdpChannel.parse(f"aeron:udp?endpoint={_format((literal, spec.port))}", resolve=delegate)
        transport = ctx.transport_factory.open_receive(
            channel, so_rcvbuf=ctx.socket_rcvbuf, so_sndbuf=ctx.socket_sndbuf, multicast_ttl=0
        )
    except (AeronError, OSError) as e:
        raise ConfigurationError(f"{interface_prop}={interface}: driver name resolver cannot bind: {e}") from None
    bound = transport.local_address
    local = (str(bound[0]).partition("%")[0], int(bound[1]))
    neighbor_texts = ctx.resolver_bootstrap_neighbor.split(",") if ctx.resolver_bootstrap_neighbor else []
    allocated: list[AtomicCounter] = []
    try:
        neighbors = counters.new_counter(neighbors_label(local), ctr.NAME_RESOLVER_NEIGHBORS_TYPE_ID)
        allocated.append(neighbors)
        cache_entries = counters.new_counter(cache_entries_label(ctx.resolver_name), ctr.NAME_RESOLVER_CACHE_ENTRIES_TYPE_ID)
        allocated.append(cache_entries)
        bootstrap: list[AtomicCounter] = []
        for index, text in enumerate(neighbor_texts):
            counter = counters.new_counter(
                bootstrap_neighbor_label(text.strip(), None)[: ctr.MAX_LABEL_LENGTH],
                ctr.NAME_RESOLVER_BOOTSTRAP_NEIGHBOR_TYPE_ID, _INT32.pack(index),
            )
            allocated.append(counter)
            bootstrap.append(counter)

        def relabel(index: int, label: str) -> None:
            counters.set_counter_label(bootstrap[index].id, label[: ctr.MAX_LABEL_LENGTH])

        resolver_counters = ResolverCounters(
            neighbors=neighbors,
            cache_entries=cache_entries,
            bootstrap_neighbors=bootstrap,
            relabel_bootstrap_neighbor=relabel,
            invalid_packets=system_counters.get(SystemCounterId.INVALID_PACKETS),
            short_sends=system_counters.get(SystemCounterId.SHORT_SENDS),
        )
        return DriverNameResolver(
            ctx.resolver_name, transport, local, now_ms,
            bootstrap_neighbors=neighbor_texts,
            delegate=delegate,
            neighbor_timeout_ms=ctx.resolver_neighbor_timeout_ns // 1_000_000,
            self_resolution_interval_ms=ctx.resolver_self_resolution_interval_ns // 1_000_000,
            neighbor_resolution_interval_ms=ctx.resolver_neighbor_resolution_interval_ns // 1_000_000,
            bootstrap_resolution_interval_ms=ctx.resolver_bootstrap_neighbor_resolution_interval_ns // 1_000_000,
            mtu_length=ctx.mtu_length,
            counters=resolver_counters,
            error_handler=error_handler,
        )
    except BaseException:
        for counter in allocated:
            counter.close()
        transport.close()
        raise
