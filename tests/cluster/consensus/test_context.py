"""ConsensusModuleContext: every property by name and default, sources and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from aeronpy.cluster.consensus.context import PROPERTY_NAMES, ConsensusModuleContext
from aeronpy.errors import ConfigurationError

MEMBERS = "0,localhost:20110,localhost:20220,localhost:20330,localhost:0,localhost:8010"
BASE = {
    "aeron.cluster.members": MEMBERS,
    "aeron.cluster.ingress.channel": "aeron:udp?term-length=128k",
    "aeron.cluster.replication.channel": "aeron:udp?endpoint=localhost:0",
}


def make(**props: str) -> ConsensusModuleContext:
    return ConsensusModuleContext.from_properties({**BASE, **props}, env={})


def test_defaults_follow_aeron() -> None:
    ctx = make()
    assert ctx.log_channel == "aeron:udp?term-length=64m" and ctx.log_stream_id == 100
    assert ctx.consensus_stream_id == 108 and ctx.ingress_stream_id == 101
    assert ctx.service_stream_id == 104 and ctx.consensus_module_stream_id == 105
    assert ctx.snapshot_stream_id == 107 and ctx.replay_stream_id == 103
    assert ctx.session_timeout_ns == 10 * 10**9 and ctx.leader_heartbeat_timeout_ns == 10 * 10**9
    assert ctx.leader_heartbeat_interval_ns == 200 * 10**6 and ctx.election_timeout_ns == 10**9
    assert ctx.startup_canvass_timeout_ns == 60 * 10**9 and ctx.max_sessions == 10
    assert ctx.archive_response_stream_id == 120
    assert ctx.wheel_tick_resolution_ms == 8
    assert ctx.members[0].log_endpoint == "localhost:20330"


def test_every_property_is_aeron_cluster_or_archive() -> None:
    assert all(p.startswith(("aeron.cluster.", "aeron.archive.", "aeron.dir")) for p in PROPERTY_NAMES.values())
    assert len(set(PROPERTY_NAMES.values())) == len(PROPERTY_NAMES)


def test_sources_env_and_file(tmp_path: Path) -> None:
    f = tmp_path / "cm.properties"
    f.write_text("aeron.cluster.session.timeout=3s\naeron.cluster.max.sessions=4\n")
    ctx = ConsensusModuleContext.from_properties(
        BASE, env={"AERON_CLUSTER_MAX_SESSIONS": "7", "AERON_CLUSTER_ID": "2"}, properties_file=str(f))
    assert ctx.session_timeout_ns == 3 * 10**9
    assert ctx.max_sessions == 7
    assert ctx.cluster_id == 2 and ctx.archive_response_stream_id == 320


@pytest.mark.parametrize("prop, value, needle", [
    ("aeron.cluster.service.count", "11", "aeron.cluster.service.count"),
    ("aeron.cluster.member.id", "5", "aeron.cluster.member.id=5"),
    ("aeron.cluster.log.channel", "aeron:udp?term-id=3", "must not set term-id"),
    ("aeron.cluster.session.timeout", "soon", "aeron.cluster.session.timeout"),
    ("aeron.cluster.startup.canvass.timeout", "1s", "aeron.cluster.startup.canvass.timeout"),
    ("aeron.cluster.ticks.per.wheel", "100", "power of 2"),
    ("aeron.cluster.log.channel", "aeron:tcp", "aeron.cluster.log.channel"),
    ("aeron.cluster.idle.strategy", "lazy", "aeron.cluster.idle.strategy"),
    ("aeron.archive.local.control.channel", "aeron:udp?endpoint=localhost:1", "must be IPC"),
])
def test_invalid_values_name_the_property(prop: str, value: str, needle: str) -> None:
    with pytest.raises(ConfigurationError, match=needle.replace(".", r"\.").replace("?", r"\?")):
        make(**{prop: value})


def test_required_settings() -> None:
    with pytest.raises(ConfigurationError, match="aeron.cluster.members"):
        ConsensusModuleContext.from_properties({}, env={})
    with pytest.raises(ConfigurationError, match="ingress.channel"):
        ConsensusModuleContext.from_properties({"aeron.cluster.members": MEMBERS}, env={})
    with pytest.raises(ConfigurationError, match="unknown ConsensusModuleContext"):
        ConsensusModuleContext.from_properties(BASE, env={}, bogus=1)
