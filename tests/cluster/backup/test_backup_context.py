"""ClusterBackupContext: Aeron's property names and defaults, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from aeronpy.cluster.backup.context import ClusterBackupContext, ReplayStart, SourceType
from aeronpy.errors import ConfigurationError

REQUIRED = {"aeron.cluster.consensus.endpoints": "h:1,h:2", "aeron.cluster.backup.catchup.endpoint": "b:9"}


def test_defaults_as_aeron() -> None:
    ctx = ClusterBackupContext.from_properties(REQUIRED, env={})
    assert ctx.consensus_endpoints == ["h:1", "h:2"]
    assert ctx.backup_interval_ns == 3600 * 10**9
    assert ctx.backup_response_timeout_ns == 5 * 10**9
    assert ctx.backup_progress_timeout_ns == 10 * 10**9
    assert ctx.cool_down_interval_ns == 30 * 10**9
    assert ctx.source_type is SourceType.ANY and ctx.initial_replay_start is ReplayStart.BEGINNING
    assert (ctx.consensus_stream_id, ctx.log_stream_id) == (108, 100)


def test_properties_and_environment() -> None:
    ctx = ClusterBackupContext.from_properties(
        {**REQUIRED, "aeron.cluster.backup.source.type": "follower", "cluster.backup.initial.replay.start":
         "LATEST_SNAPSHOT", "aeron.cluster.backup.interval": "2s"},
        env={"AERON_CLUSTER_BACKUP_COOL_DOWN_INTERVAL": "1s"})
    assert ctx.source_type is SourceType.FOLLOWER
    assert ctx.initial_replay_start is ReplayStart.LATEST_SNAPSHOT
    assert ctx.backup_interval_ns == 2 * 10**9 and ctx.cool_down_interval_ns == 10**9


@pytest.mark.parametrize(("props", "named"), [
    ({"aeron.cluster.backup.catchup.endpoint": "b:9"}, "aeron.cluster.consensus.endpoints"),
    ({**REQUIRED, "aeron.cluster.consensus.endpoints": "nohost"}, "aeron.cluster.consensus.endpoints"),
    ({"aeron.cluster.consensus.endpoints": "h:1"}, "aeron.cluster.backup.catchup.endpoint"),
    ({**REQUIRED, "aeron.cluster.backup.catchup.endpoint": "b:0"}, "aeron.cluster.backup.catchup.endpoint"),
    ({**REQUIRED, "aeron.cluster.backup.source.type": "SOME"}, "aeron.cluster.backup.source.type"),
    ({**REQUIRED, "aeron.cluster.consensus.channel": "aeron:udp"}, "aeron.cluster.consensus.channel"),
    ({**REQUIRED, "aeron.cluster.backup.catchup.channel": "udp://x"}, "aeron.cluster.backup.catchup.channel"),
    ({**REQUIRED, "aeron.cluster.backup.interval": "0"}, "aeron.cluster.backup.interval"),
    ({**REQUIRED, "aeron.cluster.idle.strategy": "nope"}, "aeron.cluster.idle.strategy"),
])
def test_bad_settings_name_the_property(props: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named.replace(".", r"\.")):
        ClusterBackupContext.from_properties(props, env={})


def test_source_type_acceptance() -> None:
    assert SourceType.ANY.is_acceptable(1, 2) and SourceType.ANY.is_acceptable(1, 1)
    assert SourceType.LEADER.is_acceptable(1, 1) and not SourceType.LEADER.is_acceptable(1, 2)
    assert SourceType.FOLLOWER.is_acceptable(1, 2) and not SourceType.FOLLOWER.is_acceptable(1, 1)


def test_backup_mark_file_header_as_aerons(tmp_path: Path) -> None:
    """The backup's cluster-mark.dat header holds what Aeron's ClusterBackup writes (checked against
    Java's ClusterTool describe of a Java backup): BACKUP, member and service -1, no service name."""
    import os

    from aeronpy.cluster.backup import ClusterBackup
    from aeronpy.cluster.mark_file import FILE_NAME, ClusterMarkFile
    from tests.fakes import free_udp_port

    backup_dir = str(tmp_path / "backup")
    backup = ClusterBackup(backup_dir, {
        "aeron.cluster.consensus.endpoints": f"127.0.0.1:{free_udp_port()}",
        "aeron.cluster.consensus.channel": f"aeron:udp?endpoint=127.0.0.1:{free_udp_port()}",
        "aeron.cluster.backup.catchup.endpoint": f"127.0.0.1:{free_udp_port()}",
    })
    try:
        backup.start()
        mark = ClusterMarkFile.read(os.path.join(backup_dir, "cluster", FILE_NAME))
        assert mark.component_type == "BACKUP"
        assert (mark["member_id"], mark["service_id"]) == (-1, -1)
        assert (mark["service_name"], mark["control_channel"], mark["ingress_channel"], mark["authenticator"]) \
            == ("", "", "", "")
        assert mark["ingress_stream_id"] == 101
    finally:
        backup.close()
