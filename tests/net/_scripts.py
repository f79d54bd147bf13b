"""Small Python programs run inside test namespaces (``host.python(CODE, *args)``) and helpers
to talk to them with deadlines. Every loop is bounded by a deadline or a count."""

from __future__ import annotations

import os
import select
import subprocess
import time
from typing import Any

#: argv: bind_ip timeout max_replies. Prints the bound port, then echoes "pong <data>".
UDP_ECHO = """
import select, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], 0))
print(s.getsockname()[1], flush=True)
deadline = time.monotonic() + float(sys.argv[2]); n = 0
while n < int(sys.argv[3]) and time.monotonic() < deadline:
    r, _, _ = select.select([s], [], [], max(0.0, deadline - time.monotonic()))
    if r:
        data, peer = s.recvfrom(2048); s.sendto(b"pong " + data, peer); n += 1
        print("from", peer[0], flush=True)
"""

#: argv: dest_ip port message per_attempt_timeout attempts. Prints the reply or TIMEOUT (exit 1).
UDP_PING = """
import select, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
dest = (sys.argv[1], int(sys.argv[2]))
for _ in range(int(sys.argv[5])):
    try:
        s.sendto(sys.argv[3].encode(), dest)
    except OSError as e:
        print("send error", e, flush=True)
    r, _, _ = select.select([s], [], [], float(sys.argv[4]))
    if r:
        try:
            print(s.recv(2048).decode(), flush=True); sys.exit(0)
        except OSError as e:
            print("recv error", e, flush=True)
print("TIMEOUT", flush=True); sys.exit(1)
"""

#: argv: group port iface_ip timeout. Joins, prints "ready", prints first datagram as "got <data> from <ip>".
MCAST_RECV = """
import select, socket, sys, time
g, port, ifip = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((g, port))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(g) + socket.inet_aton(ifip))
print("ready", flush=True)
r, _, _ = select.select([s], [], [], float(sys.argv[4]))
if not r:
    print("TIMEOUT", flush=True); sys.exit(1)
data, peer = s.recvfrom(2048); print("got", data.decode(), "from", peer[0], flush=True)
"""

#: argv: group port message count. Sends with default routing (needs the 224.0.0.0/4 route), TTL 1.
MCAST_SEND = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
for i in range(int(sys.argv[4])):
    s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
print("sent", flush=True)
"""

#: Runs until killed or stdin closes (bounded by argv[1] seconds).
IDLE = """
import select, sys
select.select([sys.stdin], [], [], float(sys.argv[1]))
"""


def read_line(proc: subprocess.Popen[Any], timeout: float) -> str:
    """Next stdout line of ``proc`` (stdout=PIPE, text or bytes), waiting at most ``timeout``."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    buf = b""
    fd = proc.stdout.fileno()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no line from {proc.args!r} within {timeout}s (partial {buf!r})")
        r, _, _ = select.select([fd], [], [], remaining)
        if not r:
            continue
        chunk = os.read(fd, 1)  # byte-wise so nothing is over-read past the newline
        if not chunk:
            raise EOFError(f"{proc.args!r} closed stdout (partial {buf!r}); rc={proc.poll()}")
        if chunk == b"\n":
            return buf.decode()
        buf += chunk


def finish(proc: subprocess.Popen[Any], timeout: float = 10.0) -> tuple[int, str, str]:
    """Wait for ``proc`` (killing it at the deadline); return (rc, stdout, stderr)."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()

    def text(x: Any) -> str:
        return x.decode() if isinstance(x, bytes) else (x or "")
    return proc.returncode, text(out), text(err)
