"""An in-process cluster member for tests: driver + archive + consensus module + one service
container, each in its own directory; ports come from :func:`member_ports`."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.conftest import SHM
from tests.fakes import free_udp_port


def members_string(count: int, catchup_port_zero: bool = False) -> str:
    """A loopback members string with fresh ports (ingress, consensus, log, catchup, archive);
    ``catchup_port_zero``: catch-up endpoints ``localhost:0`` (resolved when subscribed)."""
    parts = []
    for i in range(count):
        p = [free_udp_port() for _ in range(5)]
        if catchup_port_zero:
            p[3] = 0
        parts.append(f"{i},localhost:{p[0]},localhost:{p[1]},localhost:{p[2]},localhost:{p[3]},localhost:{p[4]}")
    return "|".join(parts)


FAST = {
    "aeron.cluster.leader.heartbeat.timeout": "2s",
    "aeron.cluster.leader.heartbeat.interval": "100ms",
    "aeron.cluster.startup.canvass.timeout": "4s",
    "aeron.cluster.election.timeout": "500ms",
    "aeron.cluster.election.status.interval": "50ms",
    "aeron.cluster.session.timeout": "5s",
    "aeron.cluster.log.channel": "aeron:udp?term-length=256k",
    "aeron.cluster.ingress.channel": "aeron:udp?term-length=128k",
    "aeron.cluster.replication.channel": "aeron:udp?endpoint=localhost:0",
    "aeron.cluster.idle.strategy": "sleep-ns",
}


@dataclass
class Member:
    member_id: int
    members: str
    base_dir: str
    service: Any
    props: dict[str, str] = field(default_factory=dict)
    #: consensus module context attributes that are objects, not properties (e.g. authenticator)
    cm_attrs: dict[str, Any] = field(default_factory=dict)
    driver: Any = None
    archive: Any = None
    cm: Any = None
    container: Any = None

    @property
    def aeron_dir(self) -> str:
        return os.path.join(SHM, f"aeronpy-cl-{os.path.basename(self.base_dir)}-{self.member_id}")

    @property
    def cluster_dir(self) -> str:
        return os.path.join(self.base_dir, f"node{self.member_id}", "cluster")

    def start(self) -> Member:
        from aeronpy.archive.archive import Archive
        from aeronpy.archive.context import ArchiveContext
        from aeronpy.cluster.consensus.consensus_module import ConsensusModule
        from aeronpy.cluster.consensus.context import ConsensusModuleContext
        from aeronpy.cluster.members import parse_members
        from aeronpy.cluster.service import ClusteredServiceContainer, ServiceContainerContext
        from aeronpy.driver.context import DriverContext
        from aeronpy.driver.media_driver import MediaDriver

        me = parse_members(self.members)[self.member_id]
        self.driver = MediaDriver.launch(DriverContext.from_properties(
            env={}, aeron_dir=self.aeron_dir, threading_mode="SHARED", dir_delete_on_start=True,
            term_buffer_sparse_file=True, ipc_term_buffer_length=256 * 1024))
        self.archive = Archive.launch(ArchiveContext.from_properties(
            env={}, aeron_dir=self.aeron_dir, archive_dir=os.path.join(self.base_dir, f"node{self.member_id}", "archive"),
            control_channel=f"aeron:udp?endpoint={me.archive_endpoint}", replication_channel="aeron:udp?endpoint=localhost:0",
            threading_mode="SHARED", segment_file_length=1024 * 1024, low_storage_space_threshold=0,
            idle_strategy="sleep-ns", archive_id=self.member_id))
        props = dict(FAST)
        props.update(self.props)
        props["aeron.cluster.members"] = self.members
        props["aeron.cluster.member.id"] = str(self.member_id)
        cm_ctx = ConsensusModuleContext.from_properties(props, env={}, aeron_dir=self.aeron_dir,
                                                        cluster_dir=self.cluster_dir)
        for name, value in self.cm_attrs.items():
            setattr(cm_ctx, name, value)
        self.cm = ConsensusModule.launch(cm_ctx)
        self.container = ClusteredServiceContainer(ServiceContainerContext.from_properties(
            env={}, aeron_dir=self.aeron_dir, cluster_dir=self.cluster_dir, idle_strategy="sleep-ns"),
            self.service).start()
        return self

    def stop(self) -> None:
        from aeronpy.cluster.node import LEADER_EXIT_LINGER_S

        was_leader = self.cm is not None and int(self.cm.agent.role) == 2
        for part in (self.container, self.cm, self.archive, self.driver):
            if part is not None:
                if part is self.archive and was_leader:
                    time.sleep(LEADER_EXIT_LINGER_S)  # as ClusterNode: the log's EOS reaches the followers
                try:
                    part.close()
                except Exception:  # noqa: BLE001
                    pass
        self.container = self.cm = self.archive = self.driver = None

    def cleanup(self) -> None:
        shutil.rmtree(self.aeron_dir, ignore_errors=True)


def new_base_dir(tmp_path: Any) -> str:
    path = os.path.join(str(tmp_path), uuid.uuid4().hex[:8])
    os.makedirs(path)
    return path


def connect_client(members: str, aeron_dir: str, timeout_s: float = 20.0, listener: Any = None) -> Any:
    """An :class:`AeronCluster` (with its own driver dir) connected to the cluster."""
    from aeronpy.cluster.client import AeronCluster, ClusterClientContext
    from aeronpy.cluster.members import ingress_endpoints, parse_members

    ctx = ClusterClientContext.from_properties(
        env={}, aeron_dir=aeron_dir, ingress_channel="aeron:udp?term-length=128k",
        ingress_endpoints=ingress_endpoints(parse_members(members)),
        egress_channel="aeron:udp?endpoint=localhost:0|term-length=128k", message_timeout_ns=5 * 10**9,
        egress_listener=listener or Collector())
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return AeronCluster.connect(ctx)
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class Collector:
    """An egress listener keeping every message payload (and new-leader events)."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.new_leaders: list[tuple[int, int]] = []

    def on_message(self, cluster_session_id: int, timestamp: int, buffer: Any, offset: int, length: int,
                   header: Any) -> None:
        self.messages.append(buffer.get_bytes(offset, length))

    def on_new_leader(self, cluster_session_id: int, leadership_term_id: int, leader_member_id: int,
                      ingress_endpoints: str) -> None:
        self.new_leaders.append((leadership_term_id, leader_member_id))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("on_"):
            return lambda *args, **kw: None
        raise AttributeError(name)
