"""The driver name resolver (sans-IO: a fake transport and a manual clock), the time-tracking
resolver, and two whole drivers on an in-memory network resolving each other by name,
including re-resolution of a host name whose address changes."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import time
import uuid
from collections import deque
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.concurrent import counters as ctr
from aeronpy.concurrent.error_log import read_error_log
from aeronpy.driver.name_resolver import (
    MAX_BOOTSTRAP_NEIGHBORS,
    MAX_NEIGHBORS,
    WORK_INTERVAL_MS,
    DriverNameResolver,
    NameResolverCache,
    ResolverCounters,
    ResolverFullError,
    TimeTrackingResolver,
    bootstrap_neighbor_label,
)
from aeronpy.driver.media.udp_channel import UnknownHostError
from aeronpy.driver.system_counters import SystemCounterId
from aeronpy.errors import ConfigurationError, RegistrationError
from aeronpy.protocol import frames as f
from tests.conftest import SHM, wait_for
from tests.driver.test_in_memory_driver import STREAM, Host, World, exchange
from tests.fakes import free_udp_port

ALPHA = ("10.0.0.1", 8050)
BETA = ("10.0.0.2", 8050)
GAMMA = ("10.0.0.3", 8060)


class FakeTransport:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, tuple[str, int]]] = []
        self.inbox: deque[tuple[bytes, Any]] = deque()
        self.closed = False
        self.fail_with: OSError | None = None

    def send(self, datagram: Any, address: Any = None) -> int:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append((bytes(datagram), address))
        return len(datagram)

    def recv_into(self, buffer: Any) -> tuple[int, Any] | None:
        if not self.inbox:
            return None
        data, source = self.inbox.popleft()
        memoryview(buffer)[: len(data)] = data
        return len(data), source

    def close(self) -> None:
        self.closed = True

    def take(self) -> list[tuple[f.ResolutionFrame, tuple[str, int]]]:
        out = [(f.ResolutionFrame.decode(d), a) for d, a in self.sent]
        self.sent.clear()
        return out


class Value:
    def __init__(self) -> None:
        self.value = 0

    def set(self, value: int) -> None:
        self.value = value

    def increment(self) -> int:
        self.value += 1
        return self.value - 1

    def propose_max(self, value: int) -> bool:
        if value > self.value:
            self.value = value
            return True
        return False


def no_dns(name: str, family: int) -> str:
    raise UnknownHostError(f"unable to resolve host={name}: no DNS in this test")


def counters(bootstrap: int = 0) -> ResolverCounters:
    labels: dict[int, str] = {}
    result = ResolverCounters(
        neighbors=Value(), cache_entries=Value(), bootstrap_neighbors=[Value() for _ in range(bootstrap)],
        relabel_bootstrap_neighbor=labels.__setitem__, invalid_packets=Value(), short_sends=Value(),
    )
    result.labels = labels  # type: ignore[attr-defined]
    return result


def resolver(name: str = "alpha", local: tuple[str, int] = ALPHA, now_ms: int = 0, **kw: Any) -> tuple[DriverNameResolver, FakeTransport]:
    transport = FakeTransport()
    kw.setdefault("delegate", no_dns)
    kw.setdefault("counters", counters(len(kw.get("bootstrap_neighbors", ()))))
    return DriverNameResolver(name, transport, local, now_ms, **kw), transport


def self_frame(name: str, address: tuple[str, int], age_ms: int = 0) -> bytes:
    raw = socket.inet_pton(socket.AF_INET, address[0])
    return f.ResolutionFrame((f.ResolutionEntry(1, address[1], age_ms, raw, name.encode(), f.RES_SELF_FLAG),)).encode()


def entry_frame(*entries: tuple[str, tuple[str, int], int]) -> bytes:
    return f.ResolutionFrame(tuple(
        f.ResolutionEntry(1, addr[1], age, socket.inet_pton(socket.AF_INET, addr[0]), name.encode())
        for name, addr, age in entries
    )).encode()


# ------------------------------------------------------------------------------------ cache


def test_cache_adds_updates_and_times_out_entries() -> None:
    counter = Value()
    cache = NameResolverCache(10_000, counter)
    assert cache.add_or_update(b"a", 1, b"\x0a\0\0\x01", 8050, 1_000)
    assert not cache.add_or_update(b"a", 1, b"\x0a\0\0\x02", 8051, 2_000)
    assert cache.add_or_update(b"a", 2, bytes(16), 8050, 1_000)  # same name, other type: its own entry
    assert counter.value == 2 and len(cache) == 2
    entry = cache.lookup(b"a", 1)
    assert entry is not None and entry.host == "10.0.0.2" and entry.port == 8051 and entry.deadline_ms == 12_000
    assert cache.timeout_old_entries(11_999) == 1  # the IPv6 one (deadline 11 000)
    assert cache.timeout_old_entries(11_999) == 0
    assert cache.timeout_old_entries(12_000) == 1
    assert counter.value == 0 and cache.lookup(b"a", 1) is None


# ------------------------------------------------------------------------------------ receiving


def test_self_entry_makes_a_neighbor_and_a_cache_entry_that_channels_resolve() -> None:
    r, _ = resolver()
    c = r.counters
    assert r.on_frame(self_frame("beta", BETA), BETA, 1_000) == 1
    assert r.resolve("beta", socket.AF_UNSPEC) == "10.0.0.2"
    assert r.resolve("beta", socket.AF_INET) == "10.0.0.2"
    assert [n.address for n in r.neighbors] == [BETA]
    assert c.neighbors.value == 1 and c.cache_entries.value == 1  # type: ignore[union-attr]


def test_wildcard_self_address_is_replaced_by_the_datagram_source() -> None:
    r, _ = resolver()
    r.on_frame(self_frame("beta", ("0.0.0.0", 8050)), ("10.0.0.9", 8050), 0)
    assert r.resolve("beta", socket.AF_INET) == "10.0.0.9"
    assert r.neighbors[0].address == ("10.0.0.9", 8050)


def test_wildcard_in_a_non_self_entry_is_kept() -> None:
    r, _ = resolver()
    r.on_frame(entry_frame(("gamma", ("0.0.0.0", 8060), 0)), BETA, 0)
    assert r.resolve("gamma", socket.AF_INET) == "0.0.0.0"


def test_own_entry_echoed_back_is_ignored() -> None:
    r, _ = resolver()
    assert r.on_frame(entry_frame(("alpha", ALPHA, 5)), BETA, 0) == 1
    assert len(r.cache) == 0 and not r.neighbors
    # same name on another port is another driver (Aeron matches on name and port)
    r.on_frame(entry_frame(("alpha", ("10.0.0.7", 9999), 5)), BETA, 0)
    assert len(r.cache) == 1


def test_resolve_falls_back_to_own_name_then_the_delegate() -> None:
    asked: list[str] = []

    def delegate(name: str, family: int) -> str:
        asked.append(name)
        return "192.0.2.1"

    r, _ = resolver(delegate=delegate)
    assert r.resolve("alpha", socket.AF_UNSPEC) == "10.0.0.1"
    assert r.resolve("example.org", socket.AF_UNSPEC) == "192.0.2.1"
    assert asked == ["example.org"]
    r2, _ = resolver()
    with pytest.raises(UnknownHostError):
        r2.resolve("nobody", socket.AF_UNSPEC)


def test_gossiped_entry_uses_its_age() -> None:
    r, _ = resolver()
    r.on_frame(entry_frame(("gamma", GAMMA, 4_000)), BETA, 10_000)
    entry = r.cache.lookup(b"gamma", 1)
    assert entry is not None and entry.time_of_last_activity_ms == 6_000
    # learnt neighbours (not from a SELF entry) start with the entry's activity time too
    assert [(n.address, n.time_of_last_activity_ms) for n in r.neighbors] == [(GAMMA, 6_000)]


def test_neighbors_and_entries_time_out() -> None:
    r, _ = resolver(neighbor_timeout_ms=10_000)
    r.on_frame(self_frame("beta", BETA), BETA, 0)
    r.do_work(9_999)
    assert len(r.neighbors) == 1 and len(r.cache) == 1
    r.on_frame(self_frame("beta", BETA), BETA, 5_000)  # refreshes both
    r.do_work(14_990)
    assert len(r.neighbors) == 1
    r.do_work(15_000)  # the next work interval
    assert not r.neighbors and len(r.cache) == 0
    assert r.counters.neighbors.value == 0 and r.counters.cache_entries.value == 0  # type: ignore[union-attr]
    with pytest.raises(UnknownHostError):
        r.resolve("beta", socket.AF_INET)


def test_non_self_entries_do_not_keep_a_neighbor_alive() -> None:
    r, _ = resolver(neighbor_timeout_ms=10_000)
    r.on_frame(self_frame("beta", BETA), BETA, 0)
    r.on_frame(entry_frame(("beta", BETA, 0)), GAMMA, 8_000)  # gossip about beta refreshes the cache only
    r.do_work(10_000)
    assert all(n.address != BETA for n in r.neighbors)
    assert r.resolve("beta", socket.AF_INET) == "10.0.0.2"


@pytest.mark.parametrize(
    "datagram",
    [
        b"",
        b"\x16\0\0\0",  # shorter than a header
        struct.pack("<ibBh", 8, 1, 0, f.HDR_TYPE_RES) + bytes(16),  # version 1
        struct.pack("<ibBh", 40, 0, 0, f.HDR_TYPE_SM) + bytes(32),  # not RES
        struct.pack("<ibBh", 24, 0, 0, f.HDR_TYPE_RES) + bytes([9]) + bytes(15),  # unknown res_type
        struct.pack("<ibBh", 24, 0, 0, f.HDR_TYPE_RES) + struct.pack("<bBHi4sh", 1, 0, 1, 0, bytes(4), 600) + bytes(2),
        struct.pack("<ibBh", 24, 0, 0, f.HDR_TYPE_RES) + struct.pack("<bBHi4sh", 1, 0, 1, 0, bytes(4), -1) + bytes(2),
        struct.pack("<ibBh", 8 + 528, 0, 0, f.HDR_TYPE_RES) + struct.pack("<bBHi4sh", 1, 0, 1, 0, bytes(4), 513) + bytes(514),
    ],
)
def test_malformed_datagrams_are_counted_invalid(datagram: bytes) -> None:
    r, _ = resolver()
    assert r.on_frame(datagram, BETA, 0) == 0
    assert r.counters.invalid_packets.value == 1  # type: ignore[union-attr]
    assert len(r.cache) == 0


def test_entries_before_a_bad_one_are_kept() -> None:
    r, _ = resolver()
    good = entry_frame(("gamma", GAMMA, 0))
    assert r.on_frame(good + bytes([1, 0, 0, 0]), BETA, 0) == 1
    assert r.counters.invalid_packets.value == 1  # type: ignore[union-attr]
    assert r.resolve("gamma", socket.AF_INET) == "10.0.0.3"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    r, _ = resolver()
    r.on_frame(data, BETA, 0)
    r.on_frame(struct.pack("<ibBh", 8 + len(data), 0, 0, f.HDR_TYPE_RES) + data, BETA, 0)
    r.do_work(0)


names = st.binary(min_size=1, max_size=40).filter(lambda n: n != b"alpha")
ipv4_entries = st.builds(
    f.ResolutionEntry, st.just(1), st.integers(1, 65535), st.integers(0, 5_000),
    st.binary(min_size=4, max_size=4).filter(any), names,
)
ipv6_entries = st.builds(
    f.ResolutionEntry, st.just(2), st.integers(1, 65535), st.integers(0, 5_000),
    st.binary(min_size=16, max_size=16).filter(any), names,
)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(ipv4_entries, ipv6_entries), min_size=1, max_size=12))
def test_every_encoded_entry_is_cached(entries: list[f.ResolutionEntry]) -> None:
    r, _ = resolver()
    datagram = f.ResolutionFrame(tuple(entries)).encode()
    assert r.on_frame(datagram, BETA, 10_000) == len(entries)
    last: dict[tuple[bytes, int], f.ResolutionEntry] = {(e.name, e.res_type): e for e in entries}
    assert len(r.cache) == len(last)
    for (name, res_type), e in last.items():
        cached = r.cache.lookup(name, res_type)
        assert cached is not None
        assert (cached.address, cached.port, cached.time_of_last_activity_ms) == (e.address, e.udp_port, 10_000 - e.age_in_ms)
    assert r.counters.invalid_packets.value == 0  # type: ignore[union-attr]


def test_a_flood_of_names_is_capped_and_reported_once_a_second() -> None:
    errors: list[BaseException] = []
    r, _ = resolver(error_handler=errors.append)
    r.cache.capacity = 100
    for i in range(300):
        r.on_frame(entry_frame((f"n{i}", ("10.2.0.1", 1000 + i), 0)), BETA, 0)
    assert len(r.cache) == 100 and len(r.neighbors) == 100
    assert len(errors) == 1 and isinstance(errors[0], ResolverFullError)
    r.on_frame(entry_frame(("n5", ("10.2.0.9", 1005), 0)), BETA, 0)  # known names still update
    assert r.resolve("n5", socket.AF_INET) == "10.2.0.9"
    r.on_frame(entry_frame(("late", GAMMA, 0)), BETA, 1_000)
    assert len(errors) == 2


def test_neighbor_list_is_capped() -> None:
    errors: list[BaseException] = []
    r, _ = resolver(error_handler=errors.append)
    for i in range(MAX_NEIGHBORS + 10):
        r.on_frame(entry_frame((f"n{i}", (f"10.3.{i // 250}.{i % 250 + 1}", 9000), 0)), BETA, 0)
    assert len(r.neighbors) == MAX_NEIGHBORS
    assert errors and "neighbors" in str(errors[0])


# ------------------------------------------------------------------------------------ sending


def test_nothing_is_sent_without_neighbors_or_bootstrap() -> None:
    r, t = resolver()
    for now in range(0, 5_000, WORK_INTERVAL_MS):
        r.do_work(now)
    assert t.sent == []


def test_self_resolution_goes_to_bootstrap_neighbor_every_interval() -> None:
    r, t = resolver(bootstrap_neighbors=["10.0.0.2:8050"])
    assert r.counters.labels == {0: bootstrap_neighbor_label("10.0.0.2:8050", BETA)}  # type: ignore[attr-defined]
    r.do_work(0)
    sent = t.take()
    assert [a for _, a in sent] == [BETA]
    (entry,) = sent[0][0].entries
    assert (entry.name, entry.udp_port, entry.address, entry.is_self, entry.age_in_ms) == (
        b"alpha", 8050, bytes([10, 0, 0, 1]), True, 0,
    )
    r.do_work(5)  # within the work interval: nothing
    r.do_work(990)
    assert t.take() == []
    r.do_work(1_000)
    assert len(t.take()) == 1
    # not yet connected
    assert r.counters.bootstrap_neighbors[0].value == 0  # type: ignore[attr-defined]


def test_bootstrap_neighbor_counter_is_set_once_it_answers_and_not_sent_to_twice() -> None:
    r, t = resolver(bootstrap_neighbors=["10.0.0.2:8050"])
    t.inbox.append((self_frame("beta", BETA), BETA))
    r.do_work(0)
    sent = t.take()
    assert [a for _, a in sent] == [BETA]  # once, though beta is both bootstrap and neighbour
    assert r.counters.bootstrap_neighbors[0].value == 1  # type: ignore[attr-defined]


def test_neighbor_resolutions_gossip_the_cache_with_ages() -> None:
    r, t = resolver(now_ms=0)
    r.on_frame(self_frame("beta", BETA), BETA, 0)
    r.on_frame(entry_frame(("gamma", GAMMA, 300)), BETA, 0)
    r.do_work(1)  # self resolutions to both neighbours
    selfs = t.take()
    assert sorted(a for _, a in selfs) == [BETA, GAMMA]
    r.do_work(2_000)  # neighbour resolutions (and self again)
    frames = [(fr, a) for fr, a in t.take() if not fr.entries[0].is_self]
    assert sorted(a for _, a in frames) == [BETA, GAMMA]
    by_name = {e.name: e for e in frames[0][0].entries}
    assert set(by_name) == {b"beta", b"gamma"}
    assert by_name[b"gamma"].age_in_ms == 2_300 and by_name[b"beta"].age_in_ms == 2_000
    assert by_name[b"gamma"].udp_port == 8060 and not by_name[b"gamma"].is_self


def test_neighbor_resolutions_are_split_at_the_mtu() -> None:
    r, t = resolver(mtu_length=256)
    r.on_frame(self_frame("beta", BETA), BETA, 0)
    for i in range(40):
        r.on_frame(entry_frame((f"host-{i:02d}-{'x' * 20}", ("10.1.0.1", 9000 + i), 0)), BETA, 0)
    frames = r.neighbor_resolution_frames(0)
    assert len(frames) > 1 and all(len(fr) <= 256 for fr in frames)
    names = [e.name for fr in frames for e in f.ResolutionFrame.decode(fr).entries]
    assert len(names) == len(set(names)) == 41
    assert t.sent == []


def test_unresolvable_bootstrap_neighbor_is_reported_and_retried() -> None:
    errors: list[BaseException] = []
    answers = {"beta.example": None}

    def delegate(name: str, family: int) -> str:
        answer = answers.get(name)
        if answer is None:
            raise UnknownHostError(f"unable to resolve host={name}")
        return answer

    r, t = resolver(bootstrap_neighbors=["beta.example:8050"], delegate=delegate, error_handler=errors.append,
                    bootstrap_resolution_interval_ms=10_000)
    assert len(errors) == 1 and "beta.example" in str(errors[0])
    assert r.counters.labels[0] == "Bootstrap neighbor: name=beta.example:8050 resolved="  # type: ignore[attr-defined]
    r.do_work(0)
    assert t.sent == []
    answers["beta.example"] = "10.0.0.2"
    r.do_work(9_990)
    assert t.sent == []
    r.do_work(10_000)  # re-resolved at the bootstrap interval, sent at the next self resolution
    assert r.counters.labels[0] == "Bootstrap neighbor: name=beta.example:8050 resolved=10.0.0.2:8050"  # type: ignore[attr-defined]
    r.do_work(11_000)
    assert [a for _, a in t.take()] == [BETA]


def test_send_errors_are_reported_not_raised() -> None:
    errors: list[BaseException] = []
    r, t = resolver(bootstrap_neighbors=["10.0.0.2:8050"], error_handler=errors.append)
    t.fail_with = OSError(101, "Network is unreachable")
    assert r.do_work(0) == 0
    assert errors and "10.0.0.2:8050" in str(errors[0])


def test_too_many_bootstrap_neighbors_and_long_names_are_refused() -> None:
    with pytest.raises(ValueError, match="bootstrap_neighbors"):
        resolver(bootstrap_neighbors=[f"10.0.0.{i}:1" for i in range(MAX_BOOTSTRAP_NEIGHBORS + 1)])
    with pytest.raises(ValueError, match="name"):
        resolver(name="n" * 513)


def test_close_closes_the_transport() -> None:
    r, t = resolver()
    r.close()
    assert t.closed


# ------------------------------------------------------------------------------------ timing


def test_time_tracking_resolver_counts_max_time_and_slow_resolutions() -> None:
    now = [0]
    durations = iter([30, 7_000, 10])

    def clock() -> int:
        return now[0]

    def slow(name: str, family: int) -> str:
        now[0] += next(durations)
        if name == "bad":
            raise UnknownHostError("no")
        return "10.0.0.1"

    max_time, exceeded = Value(), Value()
    tracker = TimeTrackingResolver(slow, clock, max_time, exceeded, threshold_ns=5_000)
    assert tracker("a", socket.AF_UNSPEC) == "10.0.0.1"
    assert tracker("b", socket.AF_UNSPEC) == "10.0.0.1"
    with pytest.raises(UnknownHostError):
        tracker("bad", socket.AF_UNSPEC)
    assert max_time.value == 7_000 and exceeded.value == 1 and tracker.calls == 3


# ------------------------------------------------------------------------------------ whole drivers


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """Drivers on an in-memory network and a manual clock; no socket may be opened."""
    w = World()

    def no_sockets(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a socket was opened in an in-memory test")

    monkeypatch.setattr(socket, "socket", no_sockets)
    yield w
    for h in w.hosts:
        h.close()


def _counters_of_type(host: Host, type_id: int) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []

    def collect(counter_id: int, t: int, key: bytes, label: str) -> None:
        if t == type_id:
            found.append((host.aeron.counters_reader.get_counter_value(counter_id), label))

    host.aeron.counters_reader.for_each(collect)
    return found


def _resolver_host(world: World, name: str, ip: str, bootstrap: str | None = None, **props: str) -> Host:
    properties = {
        "aeron.driver.resolver.name": name,
        "aeron.driver.resolver.interface": f"{ip}:8050",
        **props,
    }
    if bootstrap is not None:
        properties["aeron.driver.resolver.bootstrap.neighbor"] = bootstrap
    return world.host(name, properties=properties, name_resolver=no_dns)


def _pump_for(world: World, ms: int) -> None:
    for _ in range(ms):
        for h in world.hosts:
            h.pump()
        world.clock.advance_ns(1_000_000)


def test_drivers_resolve_each_other_by_name_and_stream_over_it(world: World) -> None:
    alpha = _resolver_host(world, "alpha", "10.0.0.1")
    beta = _resolver_host(world, "beta", "10.0.0.2", bootstrap="10.0.0.1:8050")
    gamma = _resolver_host(world, "gamma", "10.0.0.3", bootstrap="10.0.0.1:8050")
    _pump_for(world, 2_500)  # self resolutions (1 s) and one round of neighbour gossip (2 s)

    # alpha heard beta and gamma themselves; gamma learnt beta from alpha's gossip (and v.v.)
    assert _counters_of_type(alpha, 15) == [(2, "Resolver neighbors: bound 10.0.0.1:8050")]
    assert _counters_of_type(alpha, 16) == [(2, "Resolver cache entries: name=alpha")]
    assert _counters_of_type(gamma, 16) == [(2, "Resolver cache entries: name=gamma")]
    assert _counters_of_type(beta, 21) == [(1, "Bootstrap neighbor: name=10.0.0.1:8050 resolved=10.0.0.1:8050")]
    assert _counters_of_type(alpha, 21) == []

    _, _, got = exchange(world, gamma, beta, 50, channel="aeron:udp?endpoint=beta:40456|term-length=64k")
    assert got == list(range(50))
    # the subscription resolved beta's own name to its resolver interface address
    assert any(d.destination == ("10.0.0.2", 40456) for d in world.network.sent)
    assert gamma.counter(SystemCounterId.NAME_RESOLVER_MAX_TIME) >= 0


def test_system_counter_labels_name_the_resolver_and_its_threshold(world: World) -> None:
    alpha = _resolver_host(world, "alpha", "10.0.0.1", **{"aeron.name.resolver.threshold": "2s"})
    labels = alpha.aeron.counters_reader.get_counter_label
    assert labels(SystemCounterId.RESOLUTION_CHANGES) == "Resolution changes: driverName=alpha"
    assert labels(SystemCounterId.NAME_RESOLVER_TIME_THRESHOLD_EXCEEDED) == (
        "NameResolver exceeded threshold count: threshold=2s"
    )


def test_an_unknown_name_is_an_unresolved_channel_error(world: World) -> None:
    alpha = _resolver_host(world, "alpha", "10.0.0.1")
    registration = alpha.aeron.async_add_publication("aeron:udp?endpoint=nobody:40456", STREAM)
    with pytest.raises(RegistrationError, match="nobody"):
        world.run(lambda: alpha.aeron.get_publication(registration) is not None, "error")


def test_a_silent_neighbor_times_out(world: World) -> None:
    alpha = _resolver_host(world, "alpha", "10.0.0.1", **{"aeron.driver.resolver.neighbor.timeout": "3s"})
    beta = _resolver_host(world, "beta", "10.0.0.2", bootstrap="10.0.0.1:8050")
    _pump_for(world, 1_100)
    assert _counters_of_type(alpha, 15)[0][0] == 1
    world.hosts.remove(beta)
    beta.close()
    _pump_for(world, 3_100)
    assert _counters_of_type(alpha, 15)[0][0] == 0
    assert _counters_of_type(alpha, 16)[0][0] == 0


def test_resolver_interface_that_cannot_be_bound_fails_the_driver_start(world: World) -> None:
    _resolver_host(world, "alpha", "10.0.0.1")
    with pytest.raises(ConfigurationError, match="aeron.driver.resolver.interface=10.0.0.1:8050"):
        _resolver_host(world, "alpha2", "10.0.0.1")


def _vanish(world: World, host: Host) -> None:
    """The host stops (its driver does no more work); the fixture still closes it."""
    host.pump = lambda: None  # type: ignore[method-assign]


class MovingHost:
    """A host name whose address the test changes (what DNS would say)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.lookups = 0

    def __call__(self, name: str, family: int) -> str:
        if name != "mover":
            raise UnknownHostError(f"unable to resolve host={name}")
        self.lookups += 1
        return self.address


def test_send_endpoint_re_resolves_its_endpoint_when_sms_stop(world: World) -> None:
    dns = MovingHost("10.0.0.2")
    alpha = world.host("alpha", name_resolver=dns)
    old = world.host("old")
    new = world.host("new")
    channel = "aeron:udp?endpoint=mover:40456|term-length=64k"
    old_sub = world.add(old, "subscription", "aeron:udp?endpoint=10.0.0.2:40456|term-length=64k", STREAM)
    pub = world.add(alpha, "publication", channel, STREAM)
    world.run(lambda: pub.is_connected and old_sub.image_count == 1, "first connection")
    lookups = dns.lookups
    assert alpha.counter(SystemCounterId.RESOLUTION_CHANGES) == 0

    # the host moves: the old receiver goes away, a new one listens at the new address
    _vanish(world, old)
    dns.address = "10.0.0.3"
    new_sub = world.add(new, "subscription", "aeron:udp?endpoint=10.0.0.3:40456|term-length=64k", STREAM)
    world.run(lambda: new_sub.image_count == 1, "re-resolution and a new image", step_us=1_000, cycles=30_000)
    assert dns.lookups > lookups
    assert alpha.counter(SystemCounterId.RESOLUTION_CHANGES) == 1
    got: list[int] = []
    sent = 0

    def step() -> bool:
        nonlocal sent
        while sent < 20 and pub.offer(struct.pack("<q", sent)) > 0:
            sent += 1
        new_sub.poll(lambda b, o, n, h: got.append(b.get_int64(o)), 100)
        return len(got) >= 20

    world.run(step, "messages at the new address", step_us=1_000)
    assert got == list(range(20))


def test_no_re_resolution_while_status_messages_arrive(world: World) -> None:
    dns = MovingHost("10.0.0.2")
    alpha = world.host("alpha", name_resolver=dns)
    beta = world.host("beta")
    sub = world.add(beta, "subscription", "aeron:udp?endpoint=10.0.0.2:40456|term-length=64k", STREAM)
    pub = world.add(alpha, "publication", "aeron:udp?endpoint=mover:40456|term-length=64k", STREAM)
    world.run(lambda: pub.is_connected and sub.image_count == 1, "connection")
    lookups = dns.lookups
    _pump_for(world, 8_000)
    assert dns.lookups == lookups and alpha.counter(SystemCounterId.RESOLUTION_CHANGES) == 0


def test_re_resolution_check_interval_zero_disables_it(world: World) -> None:
    dns = MovingHost("10.0.0.2")
    alpha = world.host("alpha", name_resolver=dns, properties={"aeron.driver.reresolution.check.interval": "0"})
    world.add(alpha, "publication", "aeron:udp?endpoint=mover:40456|term-length=64k", STREAM)
    lookups = dns.lookups
    _pump_for(world, 8_000)
    assert dns.lookups == lookups


def test_failed_re_resolution_is_logged_and_the_old_address_kept(world: World) -> None:
    dns = MovingHost("10.0.0.2")
    alpha = world.host("alpha", name_resolver=dns)
    world.add(alpha, "publication", "aeron:udp?endpoint=mover:40456|term-length=64k", STREAM)
    dns.address = "not an address"
    _pump_for(world, 7_000)
    assert alpha.counter(SystemCounterId.ERRORS) >= 1
    assert alpha.counter(SystemCounterId.RESOLUTION_CHANGES) == 0
    texts: list[str] = []
    read_error_log(alpha.driver.cnc.error_log_buffer, lambda c, first, last, text: texts.append(text))
    assert any("re-resolution of endpoint=mover:40456" in t for t in texts), texts


def test_manual_mdc_destination_is_re_resolved(world: World) -> None:
    dns = MovingHost("10.0.0.2")
    alpha = world.host("alpha", name_resolver=dns)
    old = world.host("old")
    new = world.host("new")
    old_sub = world.add(old, "subscription", "aeron:udp?endpoint=10.0.0.2:40456|term-length=64k", STREAM)
    pub = world.add(alpha, "publication", "aeron:udp?control-mode=manual|term-length=64k", STREAM)
    correlation_id = pub.async_add_destination("aeron:udp?endpoint=mover:40456")
    world.run(lambda: not alpha.aeron.is_command_active(correlation_id), "destination added")
    world.run(lambda: pub.is_connected and old_sub.image_count == 1, "first connection")
    _vanish(world, old)
    dns.address = "10.0.0.3"
    new_sub = world.add(new, "subscription", "aeron:udp?endpoint=10.0.0.3:40456|term-length=64k", STREAM)
    world.run(lambda: new_sub.image_count == 1, "re-resolved destination", step_us=1_000, cycles=30_000)
    assert alpha.counter(SystemCounterId.RESOLUTION_CHANGES) == 1


def test_receive_control_address_is_re_resolved(world: World) -> None:
    """An MDC subscriber (``control=mover:port``) whose publisher moves: SEND_SETUPs follow."""
    dns = MovingHost("10.0.0.1")
    sub_host = world.host("sub", name_resolver=dns)
    old = world.host("old")
    new = world.host("new")
    old_pub = world.add(old, "publication", "aeron:udp?control=10.0.0.1:40600|control-mode=dynamic|term-length=64k", STREAM)
    sub = world.add(sub_host, "subscription", "aeron:udp?endpoint=10.0.0.5:40457|control=mover:40600|term-length=64k", STREAM)
    world.run(lambda: old_pub.is_connected and sub.image_count == 1, "first connection")
    _vanish(world, old)
    dns.address = "10.0.0.4"
    new_pub = world.add(new, "publication", "aeron:udp?control=10.0.0.4:40600|control-mode=dynamic|term-length=64k", STREAM)
    world.run(lambda: new_pub.is_connected, "re-resolved control address", step_us=1_000, cycles=30_000)
    assert sub_host.counter(SystemCounterId.RESOLUTION_CHANGES) == 1


# ------------------------------------------------------------------------------------ real sockets


def test_two_drivers_on_loopback_resolve_each_other_by_name_over_udp() -> None:
    """Real UDP: each driver's resolver on its own loopback port; a stream to ``endpoint=beta:port``."""
    from aeronpy.client.aeron import Aeron
    from aeronpy.client.context import Context
    from aeronpy.driver.context import DriverContext
    from aeronpy.driver.media_driver import MediaDriver

    dirs = [os.path.join(SHM, f"aeronpy-res-{uuid.uuid4().hex[:10]}") for _ in range(2)]
    ports = [free_udp_port(), free_udp_port()]

    def launch(index: int, name: str) -> MediaDriver:
        return MediaDriver.launch(DriverContext.from_properties(
            env={}, aeron_dir=dirs[index], threading_mode="SHARED", term_buffer_sparse_file=True,
            dir_delete_on_shutdown=True, properties={
                "aeron.driver.resolver.name": name,
                "aeron.driver.resolver.interface": f"127.0.0.1:{ports[index]}",
                "aeron.driver.resolver.bootstrap.neighbor": f"127.0.0.1:{ports[1 - index]}",
            },
        ))

    channel = f"aeron:udp?endpoint=beta:{free_udp_port()}|term-length=64k"
    try:
        with launch(0, "alpha"), launch(1, "beta"):
            with Aeron.connect(Context.from_properties(env={}, aeron_dir=dirs[0])) as alpha, \
                    Aeron.connect(Context.from_properties(env={}, aeron_dir=dirs[1])) as beta:

                def cache_entries(aeron: Aeron) -> int:
                    values: list[int] = []

                    def visit(counter_id: int, type_id: int, key: bytes, label: str) -> None:
                        if type_id == ctr.NAME_RESOLVER_CACHE_ENTRIES_TYPE_ID:
                            values.append(int(aeron.counters_reader.get_counter_value(counter_id)))

                    aeron.counters_reader.for_each(visit)
                    return values[0] if values else -1

                wait_for(lambda: cache_entries(alpha) == 1 and cache_entries(beta) == 1, timeout=20, message="gossip")
                sub = beta.add_subscription(channel, STREAM)
                pub = alpha.add_publication(channel, STREAM)
                wait_for(lambda: pub.is_connected and sub.image_count == 1, timeout=20, message="connection")
                got: list[int] = []
                sent = 0
                deadline = time.monotonic() + 30
                while len(got) < 500 and time.monotonic() < deadline:
                    if sent < 500 and pub.offer(struct.pack("<q", sent)) > 0:
                        sent += 1
                    if sub.poll(lambda b, o, n, h: got.append(b.get_int64(o)), 100) == 0:
                        time.sleep(0.0005)
                assert got == list(range(500))
                assert alpha.counters_reader.get_counter_value(SystemCounterId.INVALID_PACKETS) == 0
    finally:
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"aeron.name.resolver.supplier": "driver"}, r"^aeron\.name\.resolver\.supplier=driver: requires aeron\.driver\.resolver\.interface"),
        ({"aeron.name.resolver.supplier": "dns"}, r"^aeron\.name\.resolver\.supplier=dns: must be one of default, driver"),
        ({"aeron.driver.resolver.bootstrap.neighbor": "localhost"}, r"^aeron\.driver\.resolver\.bootstrap\.neighbor=localhost: missing port"),
        ({"aeron.driver.resolver.bootstrap.neighbor": ",".join(f"h{i}:1" for i in range(21))}, "at most 20 neighbors"),
        ({"aeron.driver.resolver.name": "a", "aeron.driver.resolver.interface": "{eth0}"}, "not an interface name"),
        ({"aeron.driver.resolver.name": "n" * 513}, r"^aeron\.driver\.resolver\.name=n+: longer than 512 bytes"),
        ({"aeron.driver.resolver.self.resolution.interval": "999us"}, r"^aeron\.driver\.resolver\.self\.resolution\.interval="),
    ],
)
def test_resolver_settings_are_validated(properties: dict[str, str], message: str) -> None:
    from aeronpy.driver.context import DriverContext

    with pytest.raises(ConfigurationError, match=message):
        DriverContext.from_properties(env={}, properties=properties)


def test_resolver_settings_defaults_and_env() -> None:
    from aeronpy.driver.context import DriverContext

    ctx = DriverContext.from_properties(env={
        "AERON_NAME_RESOLVER_SUPPLIER": "driver", "AERON_DRIVER_RESOLVER_NAME": "n1",
        "AERON_DRIVER_RESOLVER_INTERFACE": "127.0.0.1:0",
        "AERON_DRIVER_RESOLVER_NEIGHBOR_RESOLUTION_INTERVAL": "3s",
    })
    assert (ctx.name_resolver_supplier, ctx.resolver_name, ctx.resolver_interface) == ("driver", "n1", "127.0.0.1:0")
    assert ctx.resolver_neighbor_resolution_interval_ns == 3_000_000_000
    defaults = DriverContext.from_properties(env={})
    assert defaults.resolver_self_resolution_interval_ns == 1_000_000_000
    assert defaults.resolver_bootstrap_neighbor_resolution_interval_ns == 10_000_000_000
    assert defaults.resolver_neighbor_timeout_ns == 10_000_000_000
    assert defaults.reresolution_check_interval_ns == 1_000_000_000
    assert defaults.name_resolver_supplier == "default" and defaults.name_resolver is None


# ------------------------------------------------------------------------------------ endpoints (sans-IO)


class Recorder:
    def __init__(self) -> None:
        self.endpoint_calls: list[tuple[str, Any]] = []
        self.control_calls: list[tuple[str, Any]] = []

    def on_re_resolve_endpoint(self, name: str, endpoint: Any, existing: Any) -> None:
        self.endpoint_calls.append((name, existing))

    def on_re_resolve_control(self, name: str, endpoint: Any, destination: Any, existing: Any) -> None:
        self.control_calls.append((name, existing))


def _send_endpoint(uri: str, tracker: Any = None) -> Any:
    from aeronpy.driver.endpoints import SendChannelEndpoint
    from aeronpy.driver.media.udp_channel import UdpChannel

    channel = UdpChannel.parse(uri, resolve=lambda name, family: "10.0.0.2")
    resolution_changes = Value()
    endpoint = SendChannelEndpoint(
        channel, FakeTransport(), channel.remote_data, None, {SystemCounterId.RESOLUTION_CHANGES: resolution_changes},  # type: ignore[dict-item]
        tracker,
    )
    endpoint.resolution_changes_counter = resolution_changes
    return endpoint


def test_unicast_send_endpoint_asks_every_check_until_a_status_message_arrives() -> None:
    from aeronpy.driver.endpoints import SEND_ENDPOINT_RE_RESOLUTION_TIMEOUT_NS as TIMEOUT

    endpoint = _send_endpoint("aeron:udp?endpoint=mover:40456")
    proxy = Recorder()
    endpoint.time_of_last_sm_ns = 0
    endpoint.check_for_re_resolution(TIMEOUT, proxy)
    assert proxy.endpoint_calls == []  # not yet: strictly more than the timeout
    endpoint.check_for_re_resolution(TIMEOUT + 1, proxy)
    endpoint.check_for_re_resolution(TIMEOUT + 2, proxy)
    assert proxy.endpoint_calls == [("mover:40456", ("10.0.0.2", 40456))] * 2
    endpoint.time_of_last_sm_ns = TIMEOUT + 2  # an SM came
    endpoint.check_for_re_resolution(TIMEOUT + 3, proxy)
    assert len(proxy.endpoint_calls) == 2

    endpoint.resolution_change("mover:40456", ("10.0.0.3", 40456))
    assert endpoint.destination == ("10.0.0.3", 40456)
    assert endpoint.resolution_changes_counter.value == 1


@pytest.mark.parametrize("uri", ["aeron:udp?endpoint=239.255.1.1:40456|interface=127.0.0.1", "aeron:udp?control=10.0.0.9:40457|control-mode=dynamic"])
def test_multicast_and_dynamic_mdc_send_endpoints_never_re_resolve(uri: str) -> None:
    from aeronpy.driver.destination_tracker import DestinationTracker
    from aeronpy.driver.media.udp_channel import UdpChannel

    tracker = DestinationTracker(False) if UdpChannel.parse(uri, resolve=no_dns).is_multidestination else None
    try:
        endpoint = _send_endpoint(uri, tracker)
    except Exception as e:  # the multicast interface may not exist here
        pytest.skip(f"channel not usable on this host: {e}")
    proxy = Recorder()
    endpoint.check_for_re_resolution(10**12, proxy)
    assert proxy.endpoint_calls == []


def test_manual_mdc_destination_is_asked_about_once_per_timeout() -> None:
    from aeronpy.driver.destination_tracker import DestinationTracker

    tracker = DestinationTracker(True, 5_000)
    endpoint = _send_endpoint("aeron:udp?control-mode=manual", tracker)
    tracker.add_destination(("10.0.0.2", 40456), 0, 7, "aeron:udp?endpoint=mover:40456")
    tracker.add_destination(("10.0.0.5", 40457), 0, 8, "aeron:udp?endpoint=10.0.0.5:40457")
    proxy = Recorder()
    endpoint.check_for_re_resolution(5_001, proxy)
    endpoint.check_for_re_resolution(5_002, proxy)  # activity was reset at 5 001
    assert proxy.endpoint_calls == [("mover:40456", ("10.0.0.2", 40456)), ("10.0.0.5:40457", ("10.0.0.5", 40457))]
    endpoint.resolution_change("mover:40456", ("10.0.0.3", 40456))
    assert [d.address for d in tracker.destinations] == [("10.0.0.3", 40456), ("10.0.0.5", 40457)]
