"""``Archive``: the embeddable archive server (archive.md §1.1).

``Archive.launch(ctx)`` prepares the archive directory (mark file, catalog, crash recovery of
stop positions), connects an Aeron client to the running media driver (conductor-invoker mode,
invoked from the archive conductor's duty cycle) and starts the conductor, recorder and replayer
agents on threads per ``aeron.archive.threading.mode``; ``INVOKER`` leaves them to
:meth:`Archive.invoker`.  Use it as a context manager.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from typing import Any

from aeronpy.archive.catalog import Catalog, checksum_function
from aeronpy.archive.conductor import ArchiveConductor
from aeronpy.archive.context import ArchiveContext, ArchiveThreadingMode
from aeronpy.archive.counters import (
    ARCHIVE_CONTROL_SESSIONS_TYPE_ID,
    ARCHIVE_ERROR_COUNT_TYPE_ID,
    ARCHIVE_RECORDING_SESSION_COUNT_TYPE_ID,
    ARCHIVE_REPLAY_SESSION_COUNT_TYPE_ID,
    archive_label,
)
from aeronpy.archive.errors import CatalogError
from aeronpy.archive.mark_file import ArchiveMarkFile
from aeronpy.archive.recorder import Recorder
from aeronpy.archive.replayer import Replayer
from aeronpy.archive.segments import recover_stop_position
from aeronpy.concurrent.agent import AgentInvoker, AgentRunner, CompositeAgent
from aeronpy.concurrent.idle_strategy import idle_strategy_from_name
from aeronpy.errors import AeronError
from aeronpy.version import __version__

__all__ = ["Archive"]


def _epoch_ms() -> int:
    return time.time_ns() // 1_000_000


class Archive:
    """A running archive; close it (or leave the ``with`` block) to stop it."""

    def __init__(self, ctx: ArchiveContext, aeron: Any = None) -> None:
        self.ctx = ctx
        self._owns_aeron = aeron is None
        self._aeron = aeron
        self._runners: list[AgentRunner] = []
        self._invoker: AgentInvoker | None = None
        self._closed = False
        self.catalog: Catalog | None = None
        self.mark_file: ArchiveMarkFile | None = None

    @classmethod
    def launch(cls, ctx: ArchiveContext | None = None, aeron: Any = None) -> Archive:
        """Start an archive; ``aeron`` (optional) must be a client in conductor-invoker mode."""
        ctx = ctx or ArchiveContext.from_properties()
        ctx.validate()
        archive = cls(ctx, aeron)
        try:
            archive._start()
        except BaseException:
            archive.close()
            raise
        return archive

    def _start(self) -> None:
        ctx = self.ctx
        nano = ctx.nano_clock or time.monotonic_ns
        epoch = ctx.epoch_clock or _epoch_ms
        ctx.archive_dir = os.path.abspath(ctx.archive_dir)
        if ctx.delete_archive_on_start and os.path.isdir(ctx.archive_dir):
            shutil.rmtree(ctx.archive_dir)
        os.makedirs(ctx.archive_dir, exist_ok=True)
        if self._aeron is None:
            from aeronpy.client.aeron import Aeron
            from aeronpy.client.context import Context

            self._aeron = Aeron.connect(Context.from_properties(
                aeron_dir=ctx.aeron_dir, use_conductor_agent_invoker=True, client_name="archive",
            ))
        aeron = self._aeron
        archive_id = ctx.archive_id if ctx.archive_id != -1 else int(aeron.client_id)
        self.archive_id = archive_id
        self.mark_file = ArchiveMarkFile(
            ctx.archive_dir, ctx.effective_mark_file_dir, ctx.error_buffer_length, epoch,
            ctx.control_channel or "", ctx.control_stream_id, ctx.local_control_channel, ctx.local_control_stream_id,
            ctx.recording_events_channel or "", ctx.recording_events_stream_id, ctx.aeron_dir, archive_id,
        )
        self.catalog = Catalog(ctx.archive_dir, ctx.catalog_capacity, True, ctx.catalog_file_sync_level,
                               checksum_function(ctx.record_checksum))
        self._recover(epoch())
        counters = {
            "errors": aeron.add_counter(
                ARCHIVE_ERROR_COUNT_TYPE_ID,
                f"Archive Errors - archiveId={archive_id} version={__version__} commit=aeronpy",
                archive_id.to_bytes(8, "little", signed=True),
            ),
            "control_sessions": aeron.add_counter(
                ARCHIVE_CONTROL_SESSIONS_TYPE_ID, archive_label("Archive Control Sessions", archive_id),
                archive_id.to_bytes(8, "little", signed=True),
            ),
            "recording_sessions": aeron.add_counter(
                ARCHIVE_RECORDING_SESSION_COUNT_TYPE_ID, archive_label("Archive Recording Sessions", archive_id),
                archive_id.to_bytes(8, "little", signed=True),
            ),
            "replay_sessions": aeron.add_counter(
                ARCHIVE_REPLAY_SESSION_COUNT_TYPE_ID, archive_label("Archive Replay Sessions", archive_id),
                archive_id.to_bytes(8, "little", signed=True),
            ),
        }
        self.counters = counters
        self.recorder = Recorder()
        self.replayer = Replayer()
        self.conductor = ArchiveConductor(
            ctx, aeron, self.catalog, self.recorder, self.replayer, archive_id, self.mark_file, self._on_error,
            nano, epoch,
        )
        self.conductor.counters = counters
        self.conductor.on_start()
        self.mark_file.signal_ready()
        self._start_agents()

    def _recover(self, now_ms: int) -> None:
        assert self.catalog is not None
        checksum = checksum_function(self.ctx.record_checksum)
        for rid in self.catalog.recording_ids():
            e = self.catalog.entry(rid)
            if e.stop_position == -1:
                stop = recover_stop_position(self.ctx.archive_dir, rid, e.start_position, e.term_buffer_length,
                                             e.segment_file_length, checksum)
                self.catalog.recording_stopped(rid, stop, now_ms)

    def _on_error(self, ex: BaseException) -> None:
        try:
            if self.mark_file is not None:
                self.mark_file.error_log.record_text(0, f"{type(ex).__name__}: {ex}")
            c = getattr(self, "counters", {}).get("errors")
            if c is not None:
                c.increment()
        except Exception:
            pass
        if self.ctx.error_handler is not None:
            try:
                self.ctx.error_handler(ex)
            except Exception as handler_ex:  # a failing handler is recorded, never stops an agent
                if self.mark_file is not None:
                    self.mark_file.error_log.record_text(
                        0, f"error_handler raised {type(handler_ex).__name__}: {handler_ex} (handling {ex!r})"
                    )
        elif not isinstance(ex, AeronError):
            print(f"archive error: {type(ex).__name__}: {ex}", file=sys.stderr)

    def _idle(self, name: str | None) -> Any:
        return idle_strategy_from_name(name or self.ctx.idle_strategy)

    def _start_agents(self) -> None:
        mode = self.ctx.threading_mode
        new = self.ctx.thread_naming == "new"
        if mode is ArchiveThreadingMode.DEDICATED:
            for agent, idle, classic, short in (
                (self.conductor, self.ctx.idle_strategy, "archive-conductor", "aeron-ar-cnd"),
                (self.recorder, self.ctx.recorder_idle_strategy, "archive-recorder", "aeron-ar-rec"),
                (self.replayer, self.ctx.replayer_idle_strategy, "archive-replayer", "aeron-ar-rep"),
            ):
                runner = AgentRunner(self._idle(idle), self._on_error, agent)
                runner.start(thread_name=short if new else classic)
                self._runners.append(runner)
            return
        composite = CompositeAgent(self.conductor, self.replayer, self.recorder)
        if mode is ArchiveThreadingMode.SHARED:
            runner = AgentRunner(self._idle(None), self._on_error, composite)
            runner.start(thread_name="aeron-ar-shd" if new else "archive-conductor")
            self._runners.append(runner)
        else:
            self._invoker = AgentInvoker(self._on_error, composite)
            self._invoker.start()

    # -- public ----------------------------------------------------------------------------

    def invoker(self) -> AgentInvoker | None:
        """The agent invoker in ``INVOKER`` mode (call ``invoke()`` in your loop), else None."""
        return self._invoker

    @property
    def aeron(self) -> Any:
        return self._aeron

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for runner in self._runners:
            runner.close()
        if self._invoker is not None:
            self._invoker.close()
        conductor = getattr(self, "conductor", None)
        if conductor is not None:
            conductor.on_close()
            for rec in list(conductor.recording_sessions.values()):
                rec.writer.close()
                if self.catalog is not None and self.catalog.has_recording(rec.recording_id):
                    try:
                        self.catalog.recording_stopped(rec.recording_id, rec.recorded_position, _epoch_ms())
                    except (CatalogError, KeyError):
                        pass
        if self._owns_aeron and self._aeron is not None:
            try:
                self._aeron.close()
            except Exception:
                pass
        if self.catalog is not None:
            self.catalog.close()
        if self.mark_file is not None:
            self.mark_file.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
