"""LossyUdpProxy: exact, seed-reproducible impairment on loopback, plus one hop across namespaces."""

from __future__ import annotations

import random
import select
import socket
import struct
import subprocess
import time
from typing import Iterator

import pytest

from ._scripts import UDP_ECHO, UDP_PING, finish, read_line
from .netns import NetNamespaces, require_netns
from .udp_proxy import Impairment, LossyUdpProxy, ProxyCounters

LO = "127.0.0.1"


def simulate(seed: int, n: int, drop: float, dup: float, reorder: float) -> tuple[list[int], list[int], ProxyCounters]:
    """Replay the documented decision contract: (delivered seqs, delivered-count after each input, counters)."""
    rng = random.Random(seed * 2)  # forward direction
    out: list[int] = []
    after: list[int] = []
    c = ProxyCounters()
    held: tuple[int, bool] | None = None
    for seq in range(n):
        c.received += 1
        r_drop, r_dup, r_reorder = rng.random(), rng.random(), rng.random()
        if r_drop < drop:
            c.dropped += 1
        else:
            d = r_dup < dup
            if held is None and r_reorder < reorder:
                held = (seq, d)
            else:
                out.extend([seq] * (2 if d else 1))
                c.forwarded += 1
                c.duplicated += d
                if held is not None:
                    out.extend([held[0]] * (2 if held[1] else 1))
                    c.forwarded += 1
                    c.duplicated += held[1]
                    c.reordered += 1
                    held = None
        after.append(len(out))
    return out, after, c


@pytest.fixture
def sink() -> Iterator[socket.socket]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((LO, 0))
    yield s
    s.close()


def recv_n(sock: socket.socket, have: list[bytes], want: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while len(have) < want:
        r, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            raise AssertionError(f"got {len(have)} of {want} datagrams within {timeout}s")
        have.append(sock.recv(65536))


def run_forward(seed: int, n: int, drop: float, dup: float, reorder: float, sink: socket.socket) -> tuple[list[int], ProxyCounters]:
    """Send n numbered datagrams through a proxy in windows; wait for each window's expected output."""
    _, after, _ = simulate(seed, n, drop, dup, reorder)
    got: list[bytes] = []
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with client, LossyUdpProxy(
        (LO, 0), sink.getsockname(), drop_rate=drop, duplicate_rate=dup, reorder_rate=reorder,
        seed=seed, reorder_hold=30.0, lifetime=20.0,
    ) as proxy:  # fmt: skip
        for start in range(0, n, 100):
            for seq in range(start, min(n, start + 100)):
                client.sendto(struct.pack("!I", seq), proxy.listen_address)
            recv_n(sink, got, after[min(n, start + 100) - 1])
        # a trailing dropped datagram produces no output: wait until the proxy has seen them all
        deadline = time.monotonic() + 5.0
        while proxy.counters("forward").received < n and time.monotonic() < deadline:
            select.select([], [], [], 0.001)
        counters = proxy.counters("forward")
    r, _, _ = select.select([sink], [], [], 0.05)  # nothing beyond the expected (bounded check)
    assert not r
    return [struct.unpack("!I", g)[0] for g in got], counters


def test_no_loss_when_rates_are_zero(sink: socket.socket) -> None:
    seqs, c = run_forward(seed=1, n=1000, drop=0.0, dup=0.0, reorder=0.0, sink=sink)
    assert seqs == list(range(1000))
    assert c == ProxyCounters(received=1000, forwarded=1000)


@pytest.mark.parametrize("seed", [7, 12345])
def test_mixed_impairment_matches_seeded_replay(seed: int, sink: socket.socket) -> None:
    n, drop, dup, reorder = 3000, 0.1, 0.05, 0.08
    seqs, c = run_forward(seed, n, drop, dup, reorder, sink)
    expected, _, expected_c = simulate(seed, n, drop, dup, reorder)
    assert seqs == expected and c == expected_c
    # Statistics: each within ~5 sigma of the binomial mean.
    for count, p in ((c.dropped, drop), (c.duplicated, dup * (1 - drop))):
        assert abs(count - n * p) < 5 * (n * p * (1 - p)) ** 0.5, (count, p)
    assert c.received == c.forwarded + c.dropped + (1 if c.received - c.forwarded - c.dropped else 0)
    # Observable effects.
    assert len(seqs) - len(set(seqs)) == c.duplicated > 0
    inversions = sum(1 for a, b in zip(seqs, seqs[1:]) if b < a)
    assert inversions == c.reordered > 0
    assert set(range(n)) - set(seqs) and len(set(seqs)) == c.forwarded


def test_same_seed_same_outcome_different_seed_differs() -> None:
    outcomes = []
    for seed in (3, 3, 4):  # a fresh sink per run: nothing late from one run can reach the next
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
            sink.bind((LO, 0))
            outcomes.append(run_forward(seed, 500, 0.2, 0.1, 0.1, sink))
    a, b, c = outcomes
    assert a == b and a != c


def test_reverse_direction_and_enable_switch(sink: socket.socket) -> None:
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind((LO, 0))
    with client, LossyUdpProxy(
        (LO, 0), sink.getsockname(), reverse=Impairment(duplicate_rate=1.0), lifetime=20.0
    ) as proxy:
        client.sendto(b"data", proxy.listen_address)
        got: list[bytes] = []
        recv_n(sink, got, 1)
        # The target sees the proxy's egress socket as the source and replies to it ...
        assert got == [b"data"]
        sink.sendto(b"status", proxy.egress_address)
        replies: list[bytes] = []
        recv_n(client, replies, 2)  # ... and the reply reaches the client, duplicated
        assert replies == [b"status", b"status"]
        assert proxy.counters("reverse") == ProxyCounters(received=1, forwarded=1, duplicated=1)
        proxy.set_enabled("forward", False)
        client.sendto(b"blocked", proxy.listen_address)
        client.sendto(b"blocked", proxy.listen_address)
        r, _, _ = select.select([sink], [], [], 0.2)
        assert not r
        proxy.set_enabled("forward", True)
        client.sendto(b"again", proxy.listen_address)
        recv_n(sink, got, 2)
        assert got[1] == b"again"
        assert proxy.counters("forward") == ProxyCounters(received=4, forwarded=2, blocked=2)


def test_held_datagram_is_released_late_not_lost(sink: socket.socket) -> None:
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with client, LossyUdpProxy((LO, 0), sink.getsockname(), reorder_rate=1.0, reorder_hold=0.05) as proxy:
        t0 = time.monotonic()
        client.sendto(b"only", proxy.listen_address)
        got: list[bytes] = []
        recv_n(sink, got, 1, timeout=2.0)
        assert got == [b"only"] and time.monotonic() - t0 >= 0.05
        assert proxy.counters() == ProxyCounters(received=1, forwarded=1)


def test_rejects_non_test_addresses() -> None:
    for bad in ("8.8.8.8", "0.0.0.0", "192.168.1.1"):
        with pytest.raises(ValueError):
            LossyUdpProxy((bad, 0), (LO, 9))
        with pytest.raises(ValueError):
            LossyUdpProxy((LO, 0), (bad, 9))


def test_lifetime_bounds_the_thread() -> None:
    proxy = LossyUdpProxy((LO, 0), (LO, 9), lifetime=0.1)
    deadline = time.monotonic() + 5.0
    while proxy.alive and time.monotonic() < deadline:
        select.select([], [], [], 0.01)
    assert not proxy.alive
    proxy.close()


def test_proxy_inside_namespace_between_hosts() -> None:
    """h1 -> proxy (sockets in h2, thread in this process) -> echo in h3, and back."""
    require_netns()
    with NetNamespaces(3) as net:
        h1, h2, h3 = net.hosts
        echo = h3.python(UDP_ECHO, h3.address, "10", "5", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        port = int(read_line(echo, 5.0))
        with LossyUdpProxy((h2.address, 0), (h3.address, port), netns=h2.name, lifetime=20.0) as proxy:
            ping = h1.python(
                UDP_PING, h2.address, str(proxy.listen_address[1]), "via-proxy", "0.5", "6",
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )  # fmt: skip
            rc, out, err = finish(ping)
            assert (rc, out.strip()) == (0, "pong via-proxy"), err
            assert read_line(echo, 5.0) == f"from {h2.address}"  # h3 only ever saw the proxy
            assert proxy.client is not None and proxy.client[0] == h1.address
            assert proxy.counters("forward").forwarded >= 1 and proxy.counters("reverse").forwarded >= 1
        echo.kill()
        finish(echo)
