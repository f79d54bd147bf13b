"""``ClusterBackup``: a non-voting copy of a cluster's snapshots and live log in one process —
media driver, archive and the backup agent (Aeron's ClusterBackupMediaDriver).

Its directory has the layout of a cluster member's (``cluster/`` with ``recording.log`` and the
mark file, ``archive/``), so ``aeronpy cluster-node --dir`` the same directory restores a member
from the backup."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from aeronpy.cluster import counters as cc
from aeronpy.cluster.backup.agent import (
    BACKUP_ERROR_COUNT_TYPE_ID,
    BACKUP_STATE_TYPE_ID,
    LIVE_LOG_POSITION_TYPE_ID,
    QUERY_DEADLINE_TYPE_ID,
    SNAPSHOT_RETRIEVE_COUNT_TYPE_ID,
    ClusterBackupAgent,
    ClusterBackupState,
)
from aeronpy.cluster.backup.context import ClusterBackupContext
from aeronpy.cluster.errors import ClusterError

__all__ = ["ClusterBackup"]


def _epoch_ms() -> int:
    return time.time_ns() // 1_000_000


class ClusterBackup:
    """``ClusterBackup(node_dir, properties).start()`` … ``close()``; ``launch_driver=False``
    joins the running driver of ``aeron_dir``."""

    def __init__(self, node_dir: str, properties: Mapping[str, str] | None = None, aeron_dir: str | None = None,
                 launch_driver: bool = True, env: Mapping[str, str] | None = None,
                 events_listener: Any = None) -> None:
        from aeronpy.archive.context import ArchiveContext
        from aeronpy.cluster.node import default_aeron_dir_for, pop_doorbell_settings

        self.node_dir = os.path.abspath(node_dir)
        self.env = {} if env is None else dict(env)
        self.aeron_dir = aeron_dir or default_aeron_dir_for(self.node_dir)
        self.launch_driver = launch_driver
        props = dict(properties or {})
        self.doorbell, self.doorbell_backoff = pop_doorbell_settings(props)
        if not launch_driver and "aeronpy.cluster.doorbell.backoff" not in (properties or {}):
            self.doorbell_backoff = ""  # the driver elsewhere is not woken by this doorbell: no deep parks
        self._doorbell_installed = False
        self.properties = props
        cluster_dir = props.get("aeron.cluster.dir") or os.path.join(self.node_dir, "cluster")
        archive_dir = props.get("aeron.archive.dir") or os.path.join(self.node_dir, "archive")
        backup_props = {k: v for k, v in props.items()
                        if k.startswith("aeron.cluster.") or k.startswith("cluster.backup.")
                        or k in ("aeron.archive.control.channel", "aeron.archive.control.stream.id",
                                 "aeron.archive.control.response.channel")}
        self.ctx = ClusterBackupContext.from_properties(
            backup_props, env=self.env, aeron_dir=self.aeron_dir, cluster_dir=cluster_dir,
            events_listener=events_listener)
        host = self.ctx.catchup_endpoint.rsplit(":", 1)[0]
        archive_props = {k: v for k, v in props.items() if k.startswith("aeron.archive.")
                         and k not in ("aeron.archive.control.channel", "aeron.archive.control.stream.id",
                                       "aeron.archive.control.response.channel")}
        # aeron.archive.control.channel names the members' archives (the backup's client of them)
        archive_props["aeron.archive.control.channel"] = f"aeron:udp?endpoint={host}:0"
        archive_props.setdefault("aeron.archive.replication.channel", f"aeron:udp?endpoint={host}:0")
        archive_props.setdefault("aeron.archive.threading.mode", "SHARED")
        archive_props.setdefault("aeron.archive.segment.file.length", "16m")
        self.archive_ctx = ArchiveContext.from_properties(
            archive_props, env=self.env, aeron_dir=self.aeron_dir, archive_dir=archive_dir)
        self.driver: Any = None
        self.archive: Any = None
        self.aeron: Any = None
        self.mark_file: Any = None
        self.agent: ClusterBackupAgent | None = None
        self.runner: Any = None
        self.counters: dict[str, Any] = {}
        self.errors: list[BaseException] = []

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> ClusterBackup:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        from aeronpy.archive.archive import Archive
        from aeronpy.client.aeron import Aeron
        from aeronpy.client.context import Context
        from aeronpy.cluster.codecs import ClusterComponentType
        from aeronpy.cluster.mark_file import FILE_NAME, ClusterMarkFile
        from aeronpy.concurrent.agent import AgentRunner
        from aeronpy.concurrent.idle_strategy import idle_strategy_from_name

        ctx = self.ctx
        if self.doorbell:  # as a cluster member's agents: wake each other, and on datagrams
            from aeronpy.concurrent import doorbell

            doorbell.install(self.doorbell_backoff or None)
            self._doorbell_installed = True
        if self.launch_driver:
            from aeronpy.driver.context import DriverContext
            from aeronpy.driver.media_driver import MediaDriver

            driver_props = {k: v for k, v in self.properties.items()
                            if k.startswith(("aeron.", "aeronpy.")) and not k.startswith(("aeron.cluster.", "aeron.archive."))}
            driver_props.setdefault("aeron.threading.mode", "SHARED")
            driver_props.setdefault("aeronpy.dir.mode", "0700")
            driver_props.setdefault("aeronpy.file.mode", "0600")
            driver_props.setdefault("aeron.dir.delete.on.start", "true")
            driver_props.setdefault("aeron.dir.delete.on.shutdown", "true")
            driver_props.setdefault("aeron.term.buffer.sparse.file", "true")
            self.driver = MediaDriver.launch(DriverContext.from_properties(
                driver_props, env=self.env, aeron_dir=self.aeron_dir))
        self.archive = Archive.launch(self.archive_ctx)
        os.makedirs(ctx.cluster_dir, exist_ok=True)
        self.mark_file = ClusterMarkFile.create(
            ctx.cluster_dir, FILE_NAME, ClusterComponentType.BACKUP, ctx.cluster_id, -1, -1,
            epoch_clock=ctx.epoch_clock or _epoch_ms, aeron_directory=ctx.aeron_dir,
            archive_stream_id=ctx.archive_control_stream_id)  # serviceName null, as Aeron's
        self.aeron = Aeron.connect(Context.from_properties(
            env={}, aeron_dir=ctx.aeron_dir, client_name=f"cluster-backup clusterId={ctx.cluster_id}",
            error_handler=self._on_error))
        key = cc.cluster_key(ctx.cluster_id)

        def add(name: str, type_id: int, label: str) -> None:
            self.counters[name] = self.aeron.add_counter(type_id, cc.cluster_label(label, ctx.cluster_id), key)

        add("errors", BACKUP_ERROR_COUNT_TYPE_ID, "ClusterBackup Errors")
        add("state", BACKUP_STATE_TYPE_ID, "ClusterBackup State")
        add("live_log_position", LIVE_LOG_POSITION_TYPE_ID, "ClusterBackup live log position")
        add("next_query_deadline", QUERY_DEADLINE_TYPE_ID, "ClusterBackup next query deadline in ms")
        add("snapshots_retrieved", SNAPSHOT_RETRIEVE_COUNT_TYPE_ID, "ClusterBackup snapshots retrieved")
        self.agent = ClusterBackupAgent(ctx, self.aeron, self.mark_file, self.counters,
                                        ctx.epoch_clock or _epoch_ms, self._on_error)
        self.mark_file.signal_ready()
        self.runner = AgentRunner(idle_strategy_from_name(ctx.idle_strategy), self._on_error, self.agent,
                                  self.counters["errors"])
        self.runner.start(thread_name="cluster-backup")

    def _on_error(self, error: BaseException) -> None:
        self.errors.append(error)
        del self.errors[:-100]
        if self.ctx.error_handler is not None:
            self.ctx.error_handler(error)
        if self.mark_file is not None:
            try:
                self.mark_file.error_log.record_text(0, f"{type(error).__name__}: {error}")
            except Exception:  # noqa: BLE001 - the error log is best effort
                pass

    @property
    def state(self) -> ClusterBackupState | None:
        return self.agent.state if self.agent is not None else None

    @property
    def is_closed(self) -> bool:
        return self.runner is not None and self.runner.is_closed

    def close(self) -> None:
        errors: list[BaseException] = []
        if self.runner is not None:
            self.runner.close()
        elif self.agent is not None:
            self.agent.on_close()
        for part in (*self.counters.values(), self.aeron, self.archive, self.driver):
            if part is None:
                continue
            try:
                part.close()
            except Exception as e:  # noqa: BLE001 - close the rest
                errors.append(e)
        if self.mark_file is not None:
            try:
                self.mark_file.signal_terminated()
                self.mark_file.close()
            except Exception as e:  # noqa: BLE001
                errors.append(e)
        self.counters = {}
        if self._doorbell_installed:
            from aeronpy.concurrent import doorbell

            doorbell.uninstall()
            self._doorbell_installed = False
        self.runner = self.agent = self.aeron = self.archive = self.driver = self.mark_file = None
        if errors:
            raise ClusterError(f"closing the cluster backup: {errors[0]}") from errors[0]

    def __enter__(self) -> ClusterBackup:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()
