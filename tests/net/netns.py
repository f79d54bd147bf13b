"""Linux network namespaces as test "hosts" joined by a bridge.

Topology built by :class:`NetNamespaces` (N hosts)::

    netns <prefix>-br :  br0 (bridge, STP off, multicast snooping off by default)
                          |-- vh1 ----veth----> netns <prefix>-h1 : eth0 10.213.X.11/24
                          |-- vh2 ----veth----> netns <prefix>-h2 : eth0 10.213.X.12/24
                          `-- ...

Nothing is configured in the root network namespace: the bridge lives in its own
namespace, so the root namespace's links, routes and sysctls are untouched (only
``ip netns add`` bind mounts under /run/netns are created, and removed again).

Namespace names are ``aeronpy-nt<pid>-<6 hex>-<role>``; the creating pid is embedded so
that a later process can recognise namespaces left behind by a killed test run and
remove them (see :func:`cleanup_stale_namespaces`).
"""

from __future__ import annotations

import ctypes
import ipaddress
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

NETNS_PREFIX = "aeronpy-nt"
#: Every subnet handed out is a /24 inside this /16; only ever exists inside our namespaces.
NETNS_SUPERNET = ipaddress.IPv4Network("10.213.0.0/16")
HOST_IFNAME = "eth0"
BRIDGE_IFNAME = "br0"
MULTICAST_ROUTE = "224.0.0.0/4"
_NAME_RE = re.compile(rf"^{re.escape(NETNS_PREFIX)}(\d+)-([0-9a-f]{{6}})-(br|h\d+|probe)$")
_NETNS_DIR = "/run/netns"
_IP_TIMEOUT = 10.0
_CLONE_NEWNET = 0x40000000


class NetnsError(RuntimeError):
    """An ``ip`` command failed while building or driving the namespaces."""


def _ip(*args: str, check: bool = True, timeout: float = _IP_TIMEOUT) -> subprocess.CompletedProcess[str]:
    ip = shutil.which("ip") or "ip"
    proc = subprocess.run([ip, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def list_namespaces() -> list[str]:
    """Names of all named network namespaces (``ip netns list``)."""
    out = _ip("netns", "list").stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


# --------------------------------------------------------------------------- stale cleanup


def _boot_time() -> float:
    with open("/proc/stat", encoding="ascii") as f:
        for line in f:
            if line.startswith("btime "):
                return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


def _process_start_time(pid: int) -> float | None:
    """Wall-clock start time of ``pid`` or None if it does not exist (or is not visible)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    start_ticks = int(fields[19])  # field 22 of proc(5); fields[0] here is field 3
    return _boot_time() + start_ticks / os.sysconf("SC_CLK_TCK")


_cleanup_lock = threading.Lock()
_cleanup_done = False


def cleanup_stale_namespaces(started: float | None = None) -> list[str]:
    """Delete ``aeronpy-nt*`` namespaces left by dead test processes; return the deleted names.

    A namespace is stale only if it was created before this process started *and* its
    creating pid is gone (or has been reused by a process started after the namespace).
    Namespaces of concurrently running test processes are therefore never touched.
    The creation time is the mtime of the nsfs inode bind-mounted at /run/netns/<name>
    (set when ``ip netns add`` created it; it cannot be changed with utime).
    ``started`` overrides this process's start time (for tests).
    """
    me = started if started is not None else (_process_start_time(os.getpid()) or time.time())
    deleted: list[str] = []
    try:
        names = list_namespaces()
    except (NetnsError, OSError, subprocess.SubprocessError):
        return deleted
    for name in names:
        m = _NAME_RE.match(name)
        if not m:
            continue
        try:
            created = os.stat(os.path.join(_NETNS_DIR, name)).st_mtime
        except OSError:
            continue
        if created >= me - 1.0:  # 1 s slack: clock-tick granularity of the start time
            continue
        owner_start = _process_start_time(int(m.group(1)))
        if owner_start is not None and owner_start <= created + 1.0:
            continue  # owner still alive
        if _ip("netns", "delete", name, check=False).returncode == 0:
            deleted.append(name)
    return deleted


def _cleanup_stale_once() -> None:
    global _cleanup_done
    with _cleanup_lock:
        if not _cleanup_done:
            _cleanup_done = True
            cleanup_stale_namespaces()


# --------------------------------------------------------------------------- availability

_available: tuple[bool, str] | None = None
_available_lock = threading.Lock()


def netns_available() -> tuple[bool, str]:
    """Whether namespaces + veth + bridge can be created here; tried once per process.

    Returns ``(True, "")`` or ``(False, reason)``.
    """
    global _available
    with _available_lock:
        if _available is None:
            _available = _probe()
        return _available


def _probe() -> tuple[bool, str]:
    if not sys.platform.startswith("linux"):
        return False, f"network namespaces need Linux (platform is {sys.platform})"
    if shutil.which("ip") is None:
        return False, "iproute2 'ip' command not found"
    name = f"{NETNS_PREFIX}{os.getpid()}-{secrets.token_hex(3)}-probe"
    try:
        proc = _ip("netns", "add", name, check=False)
        if proc.returncode != 0:
            return False, f"cannot create a network namespace (need root/CAP_SYS_ADMIN): {proc.stderr.strip()}"
        for args, what in (
            (("link", "add", "pbr", "type", "bridge"), "bridge"),
            (("link", "add", "pva", "type", "veth", "peer", "name", "pvb"), "veth pair"),
        ):
            proc = _ip("-n", name, *args, check=False)
            if proc.returncode != 0:
                return False, f"cannot create a {what} in a namespace: {proc.stderr.strip()}"
        return True, ""
    except (OSError, subprocess.SubprocessError) as e:
        return False, f"probing network namespaces failed: {e!r}"
    finally:
        _ip("netns", "delete", name, check=False)


def require_netns() -> None:
    """Call from a test or fixture: skip (with the reason) when namespaces are unusable."""
    import pytest

    ok, reason = netns_available()
    if not ok:
        pytest.skip(f"network namespaces unavailable: {reason}")


# --------------------------------------------------------------------------- entering a namespace

_libc: Any = None


def _setns(fd: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@contextmanager
def in_netns(name: str) -> Iterator[None]:
    """Switch *the calling thread* into network namespace ``name`` for the block.

    Sockets created inside the block stay in that namespace after it ends, which lets
    an in-process helper (e.g. the UDP proxy thread) own sockets inside a test host.
    """
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(os.path.join(_NETNS_DIR, name), os.O_RDONLY)
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(own)


# --------------------------------------------------------------------------- hosts


@dataclass
class Host:
    """One test host: a network namespace with a single veth ``ifname`` on the bridge."""

    label: str  # "h1", "h2", ...
    name: str  # network namespace name
    address: str  # IPv4 address of ifname
    ifname: str  # interface inside the namespace
    bridge_port: str  # peer interface name inside the bridge namespace
    prefixlen: int = 24
    _procs: list[subprocess.Popen[Any]] = field(default_factory=list, repr=False)

    def _argv(self, argv: Sequence[str]) -> list[str]:
        return [shutil.which("ip") or "ip", "netns", "exec", self.name, *argv]

    def run(self, argv: Sequence[str], **popen_kwargs: Any) -> subprocess.Popen[Any]:
        """Start ``argv`` inside this namespace; the process is killed on ``close()`` if still alive."""
        popen_kwargs.setdefault("stdin", subprocess.DEVNULL)
        proc: subprocess.Popen[Any] = subprocess.Popen(self._argv(argv), **popen_kwargs)
        self._procs.append(proc)
        return proc

    def python(self, code: str, *args: str, **popen_kwargs: Any) -> subprocess.Popen[Any]:
        """Run ``python -c code args...`` (this interpreter) inside the namespace."""
        return self.run([sys.executable, "-c", code, *args], **popen_kwargs)

    def check_output(self, argv: Sequence[str], timeout: float = 10.0, **run_kwargs: Any) -> str:
        """Run ``argv`` in the namespace, return stdout as text; raise on failure/timeout."""
        proc = subprocess.run(
            self._argv(argv), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, **run_kwargs
        )
        if proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, list(argv), proc.stdout, proc.stderr)
        return str(proc.stdout)

    def netns(self) -> Any:
        """Context manager: the calling thread is inside this host's namespace (see :func:`in_netns`)."""
        return in_netns(self.name)

    def kill_processes(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
        for proc in self._procs:
            try:
                proc.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                pass
        self._procs.clear()


class NetNamespaces:
    """``count`` hosts on one bridged /24; use as a context manager (or call ``close()``).

    ``multicast_snooping`` is off by default so the bridge floods multicast to every port
    regardless of IGMP state (no querier is needed and no membership can expire).
    """

    def __init__(self, count: int = 3, *, subnet: str | None = None, multicast_snooping: bool = False) -> None:
        if not 1 <= count <= 200:
            raise ValueError("count must be in 1..200")
        self.count = count
        self.suffix = f"{os.getpid()}-{secrets.token_hex(3)}"
        self.prefix = f"{NETNS_PREFIX}{self.suffix}"
        if subnet is None:
            subnet = f"10.213.{secrets.randbelow(256)}.0/24"
        self.subnet = ipaddress.IPv4Network(subnet)
        if not self.subnet.subnet_of(NETNS_SUPERNET) or self.subnet.prefixlen != 24:
            raise ValueError(f"subnet must be a /24 inside {NETNS_SUPERNET}")
        self.multicast_snooping = multicast_snooping
        self.bridge_netns = f"{self.prefix}-br"
        self.hosts: list[Host] = []
        self._created: list[str] = []
        self._closed = False

    # -- lifecycle

    def __enter__(self) -> NetNamespaces:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        _cleanup_stale_once()
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _add_netns(self, name: str) -> None:
        _ip("netns", "add", name)
        self._created.append(name)

    def _build(self) -> None:
        br = self.bridge_netns
        self._add_netns(br)
        _ip("-n", br, "link", "set", "lo", "up")
        _ip(
            "-n", br, "link", "add", BRIDGE_IFNAME, "type", "bridge",
            "stp_state", "0", "forward_delay", "0",
            "mcast_snooping", "1" if self.multicast_snooping else "0",
        )  # fmt: skip
        _ip("-n", br, "link", "set", BRIDGE_IFNAME, "up")
        base = int(self.subnet.network_address)
        for i in range(1, self.count + 1):
            label = f"h{i}"
            host = Host(
                label=label,
                name=f"{self.prefix}-{label}",
                address=str(ipaddress.IPv4Address(base + 10 + i)),
                ifname=HOST_IFNAME,
                bridge_port=f"v{label}",
                prefixlen=self.subnet.prefixlen,
            )
            self._add_netns(host.name)
            self.hosts.append(host)
            _ip("-n", host.name, "link", "set", "lo", "up")
            # Create the pair in the bridge namespace and push one end into the host.
            _ip("-n", br, "link", "add", host.bridge_port, "type", "veth", "peer", "name", host.ifname, "netns", host.name)
            _ip("-n", br, "link", "set", host.bridge_port, "master", BRIDGE_IFNAME)
            _ip("-n", br, "link", "set", host.bridge_port, "up")
            _ip("-n", host.name, "addr", "add", f"{host.address}/{host.prefixlen}", "dev", host.ifname)
            _ip("-n", host.name, "link", "set", host.ifname, "up")
            _ip("-n", host.name, "route", "add", MULTICAST_ROUTE, "dev", host.ifname)
        for host in self.hosts:
            self.wait_link(host, up=True)

    def close(self) -> None:
        """Kill processes started via hosts, delete every namespace we created (idempotent).

        Deleting the namespaces destroys the veth pairs and the bridge with them.
        """
        if self._closed:
            return
        self._closed = True
        errors: list[str] = []
        for host in self.hosts:
            host.kill_processes()
        for name in reversed(self._created):
            proc = _ip("netns", "delete", name, check=False)
            if proc.returncode != 0 and name in list_namespaces():
                errors.append(f"{name}: {proc.stderr.strip()}")
        self._created.clear()
        if errors:
            raise NetnsError("failed to delete namespaces: " + "; ".join(errors))

    @property
    def names(self) -> list[str]:
        """All namespace names currently owned (hosts and bridge)."""
        return list(self._created)

    # -- link control

    def set_link(self, host: Host, up: bool, wait: bool = True) -> None:
        """Connect/disconnect ``host`` from the bridge (its bridge-side veth goes up/down).

        The host keeps its address and routes (the host side only loses carrier, routes are marked linkdown), so
        traffic to and from it silently disappears, like a host that went away.
        """
        _ip("-n", self.bridge_netns, "link", "set", host.bridge_port, "up" if up else "down")
        if wait:
            self.wait_link(host, up=up)

    def link_state(self, host: Host) -> str:
        """``operstate`` of the host's interface (``UP``; ``DOWN`` once the bridge side is down)."""
        info = json.loads(_ip("-n", host.name, "-j", "link", "show", "dev", host.ifname).stdout)
        return str(info[0].get("operstate", "UNKNOWN"))

    def wait_link(self, host: Host, up: bool, timeout: float = 5.0) -> None:
        """Bounded wait until the host interface's operstate reflects ``up``."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.link_state(host)
            if (state == "UP") == up:
                return
            if time.monotonic() > deadline:
                raise NetnsError(f"{host.label} link still {state} after {timeout}s (wanted {'UP' if up else 'down'})")
            threading.Event().wait(0.005)  # poll interval of a bounded state poll, not a sync sleep

    def host(self, label: str) -> Host:
        for h in self.hosts:
            if h.label == label:
                return h
        raise KeyError(label)
