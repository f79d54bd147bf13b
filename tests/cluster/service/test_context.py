"""ServiceContainerContext: Aeron's property names and defaults (cluster.md §6.2), the
precedence of overrides / properties / environment / file, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from aeronpy.cluster.service import ServiceContainerContext
from aeronpy.cluster.service.context import PROPERTY_NAMES
from aeronpy.errors import ConfigurationError


def test_defaults() -> None:
    ctx = ServiceContainerContext.from_properties(env={})
    assert (ctx.cluster_id, ctx.service_id, ctx.is_responding_service) == (0, 0, True)
    assert (ctx.control_channel, ctx.service_stream_id, ctx.consensus_module_stream_id) == (
        "aeron:ipc?term-length=128k", 104, 105)
    assert (ctx.replay_channel, ctx.replay_stream_id) == ("aeron:ipc", 103)
    assert (ctx.snapshot_channel, ctx.snapshot_stream_id) == ("aeron:ipc?alias=snapshot", 106)
    assert (ctx.cluster_dir, ctx.log_fragment_limit, ctx.error_buffer_length) == ("aeron-cluster", 50, 1 << 20)
    assert (ctx.cycle_threshold_ns, ctx.snapshot_duration_threshold_ns) == (100_000_000, 1_000_000_000)
    assert ctx.idle_strategy == "org.agrona.concurrent.BackoffIdleStrategy"
    assert ctx.resolved_service_name == "clustered-service-0-0"
    assert ctx.app_version == (0 << 16) | (0 << 8) | 1


def test_every_property_is_named_as_aeron() -> None:
    for name in ("aeron.cluster.service.id", "aeron.cluster.service.name", "aeron.cluster.service.class.name",
                 "aeron.cluster.service.responder", "aeron.cluster.service.error.buffer.length",
                 "aeron.cluster.service.cycle.threshold", "aeron.cluster.service.snapshot.threshold",
                 "aeron.cluster.service.delegating.error.handler", "aeron.cluster.snapshot.stream.id",
                 "aeron.cluster.id", "aeron.cluster.dir", "aeron.cluster.mark.file.dir",
                 "aeron.cluster.control.channel", "aeron.cluster.service.stream.id",
                 "aeron.cluster.consensus.module.stream.id", "aeron.cluster.replay.channel",
                 "aeron.cluster.replay.stream.id", "aeron.cluster.snapshot.channel",
                 "aeron.cluster.log.fragment.limit", "aeron.cluster.idle.strategy"):
        assert name in PROPERTY_NAMES.values(), name


def test_precedence(tmp_path: Path) -> None:
    props = tmp_path / "svc.properties"
    props.write_text("aeron.cluster.service.id=1\naeron.cluster.id=5\naeron.cluster.dir=/file\n")
    ctx = ServiceContainerContext.from_properties(
        {"aeron.cluster.service.id": "3"}, env={"AERON_CLUSTER_SERVICE_ID": "2", "AERON_CLUSTER_ID": "6"},
        properties_file=str(props))
    assert (ctx.service_id, ctx.cluster_id, ctx.cluster_dir) == (3, 6, "/file")
    assert ServiceContainerContext.from_properties(env={"AERON_CLUSTER_SERVICE_ID": "2"}, service_id=4).service_id == 4


def test_archive_context_uses_the_container_response_stream() -> None:
    ctx = ServiceContainerContext.from_properties(env={}, cluster_id=2, service_id=1)
    arc = ctx.new_archive_context(None)
    assert arc.control_response_stream_id == 2 * 100 + 100 + 20 + 2
    assert arc.control_stream_id == 10
    assert "alias=sc-1-archive-ctrl-req-cluster-2" in arc.control_channel
    assert "alias=sc-1-archive-ctrl-resp-cluster-2" in arc.control_response_channel


@pytest.mark.parametrize("prop, value, message", [
    ("aeron.cluster.service.id", "10", "aeron.cluster.service.id=10: out of range"),
    ("aeron.cluster.service.id", "x", "aeron.cluster.service.id=x: not an integer"),
    ("aeron.cluster.service.responder", "maybe", "aeron.cluster.service.responder=maybe"),
    ("aeron.cluster.service.error.buffer.length", "1k", "aeron.cluster.service.error.buffer.length=1024"),
    ("aeron.cluster.log.fragment.limit", "0", "aeron.cluster.log.fragment.limit=0"),
    ("aeron.cluster.idle.strategy", "bogus", "aeron.cluster.idle.strategy=bogus"),
    ("aeron.cluster.control.channel", "udp://nope", "aeron.cluster.control.channel=udp://nope"),
    ("aeron.archive.local.control.channel", "aeron:udp?endpoint=localhost:1", "must be IPC"),
    ("aeron.cluster.service.cycle.threshold", "soon", "aeron.cluster.service.cycle.threshold=soon"),
])
def test_invalid_values_name_the_property(prop: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("?", r"\?")):
        ServiceContainerContext.from_properties({prop: value}, env={})


def test_unknown_override_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="unknown ServiceContainerContext field"):
        ServiceContainerContext.from_properties(env={}, no_such_setting=1)
