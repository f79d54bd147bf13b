"""ClusterClientContext: every §6.3 property by name, env and file; invalid values named."""

from __future__ import annotations

from pathlib import Path

import pytest

from aeronpy.cluster.client import ClusterClientContext
from aeronpy.cluster.client.context import parse_ingress_endpoints
from aeronpy.errors import ConfigurationError

BASE = {"aeron.cluster.ingress.channel": "aeron:udp", "aeron.cluster.ingress.endpoints": "0=localhost:20000",
        "aeron.cluster.egress.channel": "aeron:udp?endpoint=localhost:0"}


def test_defaults() -> None:
    ctx = ClusterClientContext.from_properties(BASE, env={})
    assert ctx.ingress_stream_id == 101
    assert ctx.egress_stream_id == 102
    assert ctx.message_timeout_ns == 5_000_000_000
    assert ctx.client_name == ""
    assert ctx.aeron_client_name == "cluster-client"
    assert ctx.new_leader_timeout_ns == -1
    assert ctx.is_ingress_exclusive is True
    assert ctx.credentials_supplier.encoded_credentials() == b""
    assert ctx.resolved_egress_channel == "aeron:udp?endpoint=localhost:0|rejoin=false"
    assert ctx.ingress_channel_for("h:1") == "aeron:udp?endpoint=h:1"


def test_every_property_by_name() -> None:
    props = {
        "aeron.dir": "/dev/shm/x", "aeron.cluster.ingress.channel": "aeron:udp?term-length=128k",
        "aeron.cluster.ingress.endpoints": "0=a:1,1=b:2", "aeron.cluster.ingress.stream.id": "201",
        "aeron.cluster.egress.channel": "aeron:udp?endpoint=localhost:0|rejoin=true",
        "aeron.cluster.egress.stream.id": "202", "aeron.cluster.message.timeout": "250ms",
        "aeron.cluster.client.name": "me",
    }
    ctx = ClusterClientContext.from_properties(props, env={})
    assert (ctx.aeron_dir, ctx.ingress_stream_id, ctx.egress_stream_id) == ("/dev/shm/x", 201, 202)
    assert ctx.ingress_endpoints == "0=a:1,1=b:2"
    assert ctx.message_timeout_ns == 250_000_000
    assert ctx.client_name == "me"
    assert ctx.resolved_egress_channel == "aeron:udp?endpoint=localhost:0|rejoin=false"
    assert ctx.ingress_channel_for("b:2") == "aeron:udp?term-length=128k|endpoint=b:2"


def test_environment_and_file(tmp_path: Path) -> None:
    env = {"AERON_CLUSTER_INGRESS_CHANNEL": "aeron:udp", "AERON_CLUSTER_INGRESS_ENDPOINTS": "3=h:9",
           "AERON_CLUSTER_EGRESS_CHANNEL": "aeron:ipc", "AERON_CLUSTER_MESSAGE_TIMEOUT": "2s"}
    ctx = ClusterClientContext.from_properties(env=env)
    assert ctx.ingress_endpoints == "3=h:9" and ctx.message_timeout_ns == 2_000_000_000
    assert ctx.resolved_egress_channel == "aeron:ipc"
    f = tmp_path / "c.properties"
    f.write_text("aeron.cluster.ingress.channel=aeron:ipc\naeron.cluster.egress.channel=aeron:ipc\n"
                 "aeron.cluster.egress.stream.id=333\n")
    ctx = ClusterClientContext.from_properties(env={}, properties_file=str(f))
    assert ctx.egress_stream_id == 333 and ctx.ingress_endpoints is None
    # precedence: keyword > properties > env > file
    ctx = ClusterClientContext.from_properties({"aeron.cluster.egress.stream.id": "7"},
                                               env={"AERON_CLUSTER_EGRESS_STREAM_ID": "8"},
                                               properties_file=str(f), egress_stream_id=6)
    assert ctx.egress_stream_id == 6


@pytest.mark.parametrize("override, message", [
    ({"aeron.cluster.ingress.channel": ""}, "aeron.cluster.ingress.channel must be specified"),
    ({"aeron.cluster.egress.channel": "aeron:tcp"}, "aeron.cluster.egress.channel=aeron:tcp"),
    ({"aeron.cluster.ingress.endpoints": "0-localhost:1"}, "aeron.cluster.ingress.endpoints=0-localhost:1: endpoint missing '='"),
    ({"aeron.cluster.ingress.endpoints": "x=localhost:1"}, "member id 'x' is not an integer"),
    ({"aeron.cluster.ingress.endpoints": "0=localhost"}, "aeron.cluster.ingress.endpoints"),
    ({"aeron.cluster.ingress.endpoints": "0=a:1,0=b:2"}, "member id 0 appears twice"),
    ({"aeron.cluster.ingress.channel": "aeron:ipc"}, "must be unset with IPC ingress"),
    ({"aeron.cluster.ingress.stream.id": "ten"}, "aeron.cluster.ingress.stream.id=ten: not an integer"),
    ({"aeron.cluster.egress.stream.id": "4294967296"}, "aeron.cluster.egress.stream.id=4294967296: must be a 32-bit"),
    ({"aeron.cluster.message.timeout": "0"}, "aeron.cluster.message.timeout=0: must be > 0"),
    ({"aeron.cluster.message.timeout": "soon"}, "aeron.cluster.message.timeout=soon: not a duration"),
    ({"aeron.cluster.client.name": "n" * 101}, "aeron.cluster.client.name="),
])
def test_invalid_values_name_the_property(override: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("?", r"\?")):
        ClusterClientContext.from_properties({**BASE, **override}, env={})


def test_udp_ingress_needs_an_endpoint_somewhere() -> None:
    props = dict(BASE)
    del props["aeron.cluster.ingress.endpoints"]
    with pytest.raises(ConfigurationError, match="needs endpoint= unless aeron.cluster.ingress.endpoints"):
        ClusterClientContext.from_properties(props, env={})


def test_code_only_settings_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="new_leader_timeout_ns=0"):
        ClusterClientContext.from_properties(BASE, env={}, new_leader_timeout_ns=0)
    with pytest.raises(ConfigurationError, match="credentials_supplier"):
        ClusterClientContext.from_properties(BASE, env={}, credentials_supplier=b"secret")
    with pytest.raises(ConfigurationError, match="unknown ClusterClientContext field"):
        ClusterClientContext.from_properties(BASE, env={}, ingress_chanel="typo")


def test_parse_ingress_endpoints_keeps_order() -> None:
    assert parse_ingress_endpoints("2=c:3, 0=a:1 ,1=b:2") == {2: "c:3", 0: "a:1", 1: "b:2"}
    assert list(parse_ingress_endpoints("2=c:3,0=a:1")) == [2, 0]
    assert parse_ingress_endpoints(None) == {}


def test_listeners_need_on_message() -> None:
    with pytest.raises(ConfigurationError, match="egress_listener=.*needs an on_message"):
        ClusterClientContext.from_properties(BASE, env={}, egress_listener=object())
    with pytest.raises(ConfigurationError, match="controlled_egress_listener=.*needs an on_message"):
        ClusterClientContext.from_properties(BASE, env={}, controlled_egress_listener="not a listener")
