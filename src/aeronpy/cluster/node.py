"""``ClusterNode``: one cluster member in one process — media driver, archive, consensus
module and service container(s) — or the archive/CM/services joining a running driver.

Directory layout under ``dir``: ``cluster/`` (recording.log, node-state.dat, mark files) and
``archive/``; the driver's Aeron directory defaults to a per-node directory under /dev/shm.
Every ``aeron.cluster.*`` / ``aeron.archive.*`` / ``aeron.*`` property can be given in
``properties`` (as ``-D`` on the command line)."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping
from typing import Any

from aeronpy.cluster.errors import ClusterError
from aeronpy.cluster.members import parse_members
from aeronpy.errors import ConfigurationError

__all__ = ["ClusterNode", "default_aeron_dir_for", "pop_doorbell_settings"]

_DEFAULTS = {
    "aeron.cluster.ingress.channel": "aeron:udp?term-length=128k",
    "aeron.cluster.log.channel": "aeron:udp?term-length=1m",
    "aeron.cluster.idle.strategy": "backoff",
}


#: ``true`` (default): the member's agents share a doorbell (:mod:`aeronpy.concurrent.doorbell`):
#: an agent that did work wakes the parked ones and the driver also wakes on datagrams, so a
#: message crosses the driver, archive, consensus module and service without waiting out parks.
DOORBELL_PROPERTY = "aeronpy.cluster.doorbell"
#: Back-off values for every "backoff" agent of the member while the doorbell is on ("" keeps
#: each agent's own); see :func:`aeronpy.concurrent.doorbell.install`.  The default spins once,
#: never yields (a yield under load gives the core away for a whole time slice, a parked thread
#: woken by the doorbell gets it back at once) and parks 10 us doubling to 1 ms, then, after 10
#: parks at 1 ms, up to 16 ms: hand-offs and datagrams end parks, so the deeper park only delays
#: timer work (heartbeats, timeouts) and halves an idle member's CPU (measured: 13 % vs 28 %).
DOORBELL_BACKOFF_PROPERTY = "aeronpy.cluster.doorbell.backoff"
DOORBELL_BACKOFF_DEFAULT = "1-0-10us-1ms-10-16ms"

#: How long a closing leader's own driver stays up after the consensus module closed, so the
#: end of the log (EOS) reaches the followers and they elect at once (a graceful exit).
LEADER_EXIT_LINGER_S = 1.0


def pop_doorbell_settings(props: dict[str, str]) -> tuple[bool, str]:
    """``(enabled, backoff init args)`` from (and removed from) ``props``, validated."""
    from aeronpy.concurrent.idle_strategy import idle_strategy_from_name
    from aeronpy.config import parse_bool

    enabled = parse_bool(props.pop(DOORBELL_PROPERTY, "true"), DOORBELL_PROPERTY)
    backoff = props.pop(DOORBELL_BACKOFF_PROPERTY, DOORBELL_BACKOFF_DEFAULT).strip()
    if backoff:
        try:
            idle_strategy_from_name("backoff", backoff)
        except ConfigurationError as e:
            raise ConfigurationError(f"{DOORBELL_BACKOFF_PROPERTY}: {e}") from None
    return enabled, backoff


def default_aeron_dir_for(node_dir: str) -> str:
    """A private Aeron directory per node directory (two nodes on one host never share one)."""
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else "/tmp"
    digest = hashlib.sha1(os.path.abspath(node_dir).encode()).hexdigest()[:12]
    return os.path.join(shm, f"aeronpy-node-{digest}")


class ClusterNode:
    """Driver (unless ``aeron_dir`` names a running one and ``launch_driver`` is False) +
    archive + consensus module + one container per service."""

    def __init__(
        self,
        member_id: int,
        members: str,
        node_dir: str,
        services: list[Any] | None = None,
        properties: Mapping[str, str] | None = None,
        aeron_dir: str | None = None,
        launch_driver: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> None:
        parsed = parse_members(members)
        me = next((m for m in parsed if m.id == member_id), None)
        if me is None:
            raise ConfigurationError(
                f"--member-id {member_id} is not one of the ids in --members ({', '.join(str(m.id) for m in parsed)})")
        self.member_id = member_id
        self.members = members
        self.member = me
        self.node_dir = os.path.abspath(node_dir)
        self.services = services if services is not None else []
        self.env = {} if env is None else dict(env)
        self.aeron_dir = aeron_dir or default_aeron_dir_for(self.node_dir)
        self.launch_driver = launch_driver
        host = me.archive_endpoint.rsplit(":", 1)[0]
        props = dict(_DEFAULTS)
        props["aeron.cluster.replication.channel"] = f"aeron:udp?endpoint={host}:0"
        props.update(properties or {})
        self.doorbell, self.doorbell_backoff = pop_doorbell_settings(props)
        self._doorbell_installed = False
        props["aeron.cluster.members"] = members
        props["aeron.cluster.member.id"] = str(member_id)
        props.setdefault("aeron.cluster.service.count", str(len(self.services)))
        external = not launch_driver or props["aeron.cluster.service.count"].strip() != str(len(self.services))
        if external and DOORBELL_BACKOFF_PROPERTY not in (properties or {}):
            # a driver or services in other processes are not woken by this doorbell: keep
            # each agent's own back-off (no 16 ms parks) so hand-offs to them stay prompt
            self.doorbell_backoff = ""
        self.properties = props
        self.cluster_dir = props.get("aeron.cluster.dir") or os.path.join(self.node_dir, "cluster")
        self.archive_dir = props.get("aeron.archive.dir") or os.path.join(self.node_dir, "archive")
        self.driver: Any = None
        self.archive: Any = None
        self.consensus_module: Any = None
        self.containers: list[Any] = []
        self._build_contexts()

    def _build_contexts(self) -> None:
        """Validate every setting before anything starts (clear errors, nothing half-started)."""
        from aeronpy.archive.context import ArchiveContext
        from aeronpy.cluster.consensus.context import ConsensusModuleContext
        from aeronpy.cluster.service import ServiceContainerContext

        props = self.properties
        me = self.member
        self.cm_ctx = ConsensusModuleContext.from_properties(
            props, env=self.env, aeron_dir=self.aeron_dir, cluster_dir=self.cluster_dir)
        archive_props = {k: v for k, v in props.items() if k.startswith("aeron.archive.")}
        archive_props.setdefault("aeron.archive.control.channel", f"aeron:udp?endpoint={me.archive_endpoint}")
        archive_props.setdefault("aeron.archive.replication.channel", props["aeron.cluster.replication.channel"])
        archive_props.setdefault("aeron.archive.threading.mode", "SHARED")
        archive_props.setdefault("aeron.archive.idle.strategy", "backoff")
        archive_props.setdefault("aeron.archive.segment.file.length", "16m")
        archive_props.setdefault("aeron.archive.id", str(self.member_id))
        self.archive_ctx = ArchiveContext.from_properties(
            archive_props, env=self.env, aeron_dir=self.aeron_dir, archive_dir=self.archive_dir)
        self.service_ctxs = []
        for service_id, service in enumerate(self.services):
            sprops = {k: v for k, v in props.items() if k.startswith("aeron.cluster.")}
            sprops["aeron.cluster.service.id"] = str(service_id)
            sprops.pop("aeron.cluster.snapshot.stream.id", None)
            known = ServiceContainerContext.PROPERTY_NAMES.values() if hasattr(
                ServiceContainerContext, "PROPERTY_NAMES") else ()
            sprops = {k: v for k, v in sprops.items() if not known or k in known}
            self.service_ctxs.append(ServiceContainerContext.from_properties(
                sprops, env=self.env, aeron_dir=self.aeron_dir, cluster_dir=self.cluster_dir))

    def start(self) -> ClusterNode:
        from aeronpy.archive.archive import Archive
        from aeronpy.cluster.consensus.consensus_module import ConsensusModule
        from aeronpy.cluster.service import ClusteredServiceContainer

        if self.doorbell and not self._doorbell_installed:
            from aeronpy.concurrent import doorbell

            doorbell.install(self.doorbell_backoff or None)
            self._doorbell_installed = True
        try:
            if self.launch_driver:
                from aeronpy.driver.context import DriverContext
                from aeronpy.driver.media_driver import MediaDriver

                driver_props = {k: v for k, v in self.properties.items()
                                if k.startswith(("aeron.", "aeronpy."))
                                and not k.startswith(("aeron.cluster.", "aeron.archive."))}
                driver_props.setdefault("aeron.threading.mode", "SHARED")
                # the node's own Aeron directory: private to its user unless told otherwise
                driver_props.setdefault("aeronpy.dir.mode", "0700")
                driver_props.setdefault("aeronpy.file.mode", "0600")
                driver_props.setdefault("aeron.dir.delete.on.start", "true")
                driver_props.setdefault("aeron.dir.delete.on.shutdown", "true")
                driver_props.setdefault("aeron.term.buffer.sparse.file", "true")
                self.driver = MediaDriver.launch(DriverContext.from_properties(
                    driver_props, env=self.env, aeron_dir=self.aeron_dir))
            self.archive = self._launch_archive(Archive)
            self.consensus_module = ConsensusModule.launch(self.cm_ctx)
            for ctx, service in zip(self.service_ctxs, self.services):
                self.containers.append(ClusteredServiceContainer(ctx, service).start())
        except BaseException:
            self.close()
            raise
        return self

    def _launch_archive(self, archive_class: Any) -> Any:
        """Launch the archive; a mark file left by a killed predecessor is 'active' for up to
        10 s after its last update, so wait that out (bounded) rather than fail a restart."""
        from aeronpy.archive.errors import MarkFileError
        from aeronpy.archive.mark_file import ACTIVE_TIMEOUT_MS

        deadline = time.monotonic() + ACTIVE_TIMEOUT_MS / 1000 + 5
        while True:
            try:
                return archive_class.launch(self.archive_ctx)
            except MarkFileError as e:
                if "active" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.25)

    @property
    def agent(self) -> Any:
        return self.consensus_module.agent if self.consensus_module is not None else None

    @property
    def is_closed(self) -> bool:
        cm = self.consensus_module
        return cm is None or cm.is_closed

    def close(self) -> None:
        errors: list[BaseException] = []
        was_leader = self.agent is not None and int(self.agent.role) == 2
        for part in list(reversed(self.containers)) + [self.consensus_module, self.archive, self.driver]:
            if part is None:
                continue
            if part is self.archive and was_leader and self.driver is not None:
                time.sleep(LEADER_EXIT_LINGER_S)  # let the driver send the log's end of stream
            try:
                part.close()
            except Exception as e:  # noqa: BLE001 - close the rest
                errors.append(e)
        self.containers = []
        self.consensus_module = self.archive = self.driver = None
        if self._doorbell_installed:
            from aeronpy.concurrent import doorbell

            doorbell.uninstall()
            self._doorbell_installed = False
        if errors:
            raise ClusterError(f"closing member {self.member_id}: {errors[0]}") from errors[0]

    def __enter__(self) -> ClusterNode:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()
