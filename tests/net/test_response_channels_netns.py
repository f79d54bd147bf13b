"""Response channels across network-namespace hosts, every party its own process: a responder
on h1 (its own aeronpy driver) echoes each requester's messages back over the path that
requester opened; requesters on h2 and h3 (their own drivers) each get exactly their own
echoes, in order, through the one response control port.  Skipped without namespaces."""

from __future__ import annotations

from string import Template
from typing import Any

import pytest

from tests.net.test_udp_multihost import Cluster, check_done, expect_line
from tests.net.test_udp_multihost import cluster as multihost_cluster  # noqa: F401  (a fixture)

REQUEST_PORT, CONTROL_PORT = 40201, 40202
REQUEST_STREAM, RESPONSE_STREAM = 5001, 5002
COUNT = 2_000

RESPONDER = Template("""
import sys, time
from aeronpy.client.aeron import Aeron
from aeronpy.client.context import Context

aeron_dir, host, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
with Aeron.connect(Context.from_properties(env={}, aeron_dir=aeron_dir)) as aeron:
    requests = aeron.add_subscription(f"aeron:udp?endpoint={host}:${request_port}", ${request_stream})
    print("READY", flush=True)
    replies = {}  # request session id -> response publication
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for image in requests.images:
            if image.session_id not in replies:
                replies[image.session_id] = aeron.add_publication(
                    f"aeron:udp?control-mode=response|control={host}:${control_port}"
                    f"|response-correlation-id={image.correlation_id}", ${response_stream})
                print(f"RESPONDING to {image.source_identity}", flush=True)

        def echo(buffer, offset, length, header):
            reply = replies[header.session_id]
            payload = buffer.get_bytes(offset, length)
            while reply.offer(payload) < 0:
                if time.monotonic() > deadline:
                    raise SystemExit("response publication stuck")
                time.sleep(0.0005)

        if requests.poll(echo, 50) == 0:
            time.sleep(0.001)
""").substitute(request_port=REQUEST_PORT, control_port=CONTROL_PORT, request_stream=REQUEST_STREAM,
               response_stream=RESPONSE_STREAM)

REQUESTER = Template("""
import sys, time
from aeronpy.client.aeron import Aeron
from aeronpy.client.context import Context

aeron_dir, server, name, count = sys.argv[1], sys.argv[2], sys.argv[3].encode(), int(sys.argv[4])
deadline = time.monotonic() + 60
with Aeron.connect(Context.from_properties(env={}, aeron_dir=aeron_dir)) as aeron:
    responses = aeron.add_subscription(
        f"aeron:udp?control-mode=response|control={server}:${control_port}", ${response_stream})
    requests = aeron.add_publication(
        f"aeron:udp?endpoint={server}:${request_port}|response-correlation-id={responses.registration_id}",
        ${request_stream})
    while not (requests.is_connected and responses.is_connected):
        if time.monotonic() > deadline:
            raise SystemExit("never connected")
        time.sleep(0.001)
    print(f"CONNECTED response image from {responses.images[0].source_identity}", flush=True)
    got, sent = [], 0
    while len(got) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(got)} of {count} echoes")
        if sent < count and requests.offer(name + b":%d" % sent) > 0:
            sent += 1
        if responses.poll(lambda b, o, n, h: got.append(b.get_bytes(o, n)), 50) == 0:
            time.sleep(0.0005)
    expected = [name + b":%d" % i for i in range(count)]
    if got != expected:
        raise SystemExit(f"echoes out of order or foreign: first bad {next(g for g, e in zip(got, expected) if g != e)!r}")
    print(f"OK {count} echoes", flush=True)
""").substitute(request_port=REQUEST_PORT, control_port=CONTROL_PORT, request_stream=REQUEST_STREAM,
               response_stream=RESPONSE_STREAM)


@pytest.fixture
def cluster(multihost_cluster: Any) -> Any:  # noqa: F811
    """The multi-host test's namespaces + drivers builder."""
    return multihost_cluster


def test_requesters_on_two_hosts_get_their_own_responses(cluster: Any) -> None:
    c: Cluster = cluster(3)
    h1, h2, h3 = c.net.hosts
    for h in (h1, h2, h3):
        c.start_driver(h)
    responder = c.client(h1, "-c", RESPONDER, c.drivers["h1"].dir, h1.address, "90")
    expect_line(responder, "READY", 30)
    requesters = [
        c.client(h, "-c", REQUESTER, c.drivers[h.label].dir, h1.address, h.label, str(COUNT)) for h in (h2, h3)
    ]
    for requester, host in zip(requesters, (h2, h3)):
        out = check_done(requester, 90, f"OK {COUNT} echoes")
        assert f"CONNECTED response image from {h1.address}:{CONTROL_PORT}" in out
    stats = c.report("response channels h1 <- h2, h3", [h1, h2, h3])
    for h in ("h1", "h2", "h3"):
        assert stats[h]["Errors"] == 0, h
