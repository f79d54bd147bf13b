"""UDP unicast and multicast between network-namespace "hosts"; harness lifecycle."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Iterator

import pytest

from . import netns as netns_mod
from ._scripts import IDLE, MCAST_RECV, MCAST_SEND, UDP_ECHO, UDP_PING, finish, read_line
from .netns import NETNS_PREFIX, Host, NetNamespaces, cleanup_stale_namespaces, list_namespaces, require_netns

GROUP = "239.255.90.1"
PIPE = subprocess.PIPE


@pytest.fixture
def net() -> Iterator[NetNamespaces]:
    require_netns()
    with NetNamespaces(3) as n:
        yield n


def start_echo(host: Host, timeout: float = 10.0, replies: int = 100) -> tuple[subprocess.Popen[bytes], int]:
    proc = host.python(UDP_ECHO, host.address, str(timeout), str(replies), stdout=PIPE, stderr=PIPE)
    return proc, int(read_line(proc, 5.0))


def ping(src: Host, dest: str, port: int, msg: str, per_try: float = 0.5, tries: int = 6) -> tuple[int, str]:
    rc, out, err = finish(src.python(UDP_PING, dest, str(port), msg, str(per_try), str(tries), stdout=PIPE, stderr=PIPE))
    assert not err, err
    return rc, out.strip()


def test_topology(net: NetNamespaces) -> None:
    assert [h.label for h in net.hosts] == ["h1", "h2", "h3"]
    assert len({h.address for h in net.hosts}) == 3
    for h in net.hosts:
        assert h.name.startswith(NETNS_PREFIX) and h.name in list_namespaces()
        addrs = h.check_output(["ip", "-4", "-o", "addr", "show", "dev", h.ifname])
        assert f"{h.address}/24" in addrs
        assert "224.0.0.0/4" in h.check_output(["ip", "route"])
        assert "UP" in h.check_output(["ip", "-o", "link", "show", "lo"])


def test_unicast_ping_pong_between_all_pairs(net: NetNamespaces) -> None:
    for server in net.hosts:
        proc, port = start_echo(server, replies=2)
        clients = [h for h in net.hosts if h is not server]
        for client in clients:
            rc, out = ping(client, server.address, port, f"ping-from-{client.label}")
            assert (rc, out) == (0, f"pong ping-from-{client.label}")
        rc, out, err = finish(proc)
        assert rc == 0, err
        assert out.split("\n")[0:2] == [f"from {c.address}" for c in clients]  # real source addresses


@pytest.mark.parametrize("snooping", [False, True], ids=["flood", "igmp-snooping"])
def test_multicast_h1_to_h2_h3(snooping: bool) -> None:
    require_netns()
    with NetNamespaces(3, multicast_snooping=snooping) as net:
        h1, h2, h3 = net.hosts
        receivers = [h.python(MCAST_RECV, GROUP, "40456", h.address, "5.0", stdout=PIPE, stderr=PIPE) for h in (h2, h3)]
        for r in receivers:
            assert read_line(r, 5.0) == "ready"
        # Several copies: one lost to a not-yet-forwarding path would not fail the test.
        rc, out, err = finish(h1.python(MCAST_SEND, GROUP, "40456", "hello-group", "3", stdout=PIPE, stderr=PIPE))
        assert (rc, out.strip()) == (0, "sent"), err
        for r in receivers:
            rc, out, err = finish(r)
            assert (rc, out.strip().splitlines()[-1]) == (0, f"got hello-group from {h1.address}"), err


def test_set_link_down_makes_sends_time_out(net: NetNamespaces) -> None:
    h1, h2, _ = net.hosts
    proc, port = start_echo(h2)
    assert ping(h1, h2.address, port, "before") == (0, "pong before")
    net.set_link(h2, False)
    assert net.link_state(h2) != "UP"
    t0 = time.monotonic()
    assert ping(h1, h2.address, port, "during", per_try=0.2, tries=2) == (1, "TIMEOUT")
    assert time.monotonic() - t0 >= 0.4
    rc, out = ping(h2, h1.address, 9, "outbound", per_try=0.2, tries=1)  # and the host itself cannot reach out
    assert rc == 1 and out.endswith("TIMEOUT")
    net.set_link(h2, True)
    assert ping(h1, h2.address, port, "after") == (0, "pong after")
    proc.kill()
    finish(proc)


def test_close_removes_everything_and_kills_processes() -> None:
    require_netns()
    net = NetNamespaces(2)
    with net:
        names = net.names
        assert len(names) == 3 and all(n in list_namespaces() for n in names)
        idle = net.hosts[0].python(IDLE, "30", stdin=PIPE)
    assert idle.poll() is not None  # killed by close()
    remaining = list_namespaces()
    assert not [n for n in names if n in remaining]
    assert not [n for n in remaining if n.startswith(net.prefix)]
    net.close()  # idempotent


def test_partial_failure_cleans_up(monkeypatch: pytest.MonkeyPatch) -> None:
    require_netns()
    real_ip = netns_mod._ip

    def failing_ip(*args: str, **kw: bool | float) -> subprocess.CompletedProcess[str]:
        if args[:1] == ("-n",) and args[2:4] == ("route", "add") and args[1].endswith("-h2"):
            raise netns_mod.NetnsError("injected failure")
        return real_ip(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(netns_mod, "_ip", failing_ip)
    net = NetNamespaces(3)
    with pytest.raises(netns_mod.NetnsError, match="injected"):
        net.open()
    assert not [n for n in list_namespaces() if n.startswith(net.prefix)]


def test_stale_namespaces_of_dead_processes_are_removed() -> None:
    require_netns()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = f"{NETNS_PREFIX}{dead.pid}-abcdef-h1"
    live = f"{NETNS_PREFIX}{os.getpid()}-abcdef-h1"  # our own pid: alive, must survive
    try:
        for name in (stale, live):
            subprocess.run(["ip", "netns", "add", name], check=True, timeout=10)
        assert cleanup_stale_namespaces() == []  # created after this process started: never touched
        deleted = cleanup_stale_namespaces(started=time.time() + 10)  # pretend we started later
        assert stale in deleted and live not in deleted
        assert stale not in list_namespaces() and live in list_namespaces()
    finally:
        for name in (stale, live):
            subprocess.run(["ip", "netns", "delete", name], capture_output=True, timeout=10)
