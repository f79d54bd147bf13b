"""MediaDriver: owns the Aeron directory, cnc.dat, log buffers and counters, runs the agents.

Embed it (``MediaDriver.launch(ctx)``) or run ``aeronpy driver``.  In INVOKER mode no thread is
started: the application calls :meth:`MediaDriver.do_work` from its own loop.
"""

from __future__ import annotations

import datetime
import mmap
import os
import shutil
import sys
import threading
from types import TracebackType
from typing import Any, Callable

from aeronpy.cnc import CncFile, is_driver_active
from aeronpy.concurrent.agent import AgentInvoker, AgentRunner, CompositeAgent
from aeronpy.concurrent.atomic_buffer import AtomicBuffer
from aeronpy.concurrent.bit_util import align
from aeronpy.concurrent.broadcast import BroadcastTransmitter
from aeronpy.concurrent.clock import epoch_ms
from aeronpy.concurrent.counters import CountersManager
from aeronpy.concurrent.error_log import DistinctErrorLog, read_error_log
from aeronpy.concurrent.idle_strategy import idle_strategy_from_name
from aeronpy.concurrent.ringbuffer import ManyToOneRingBuffer
from aeronpy.driver.conductor import DriverConductor
from aeronpy.driver.context import DriverContext, ThreadingMode
from aeronpy.driver.loss_report import LossReport
from aeronpy.driver.media.socket_validation import probe_socket_buffers, validate_socket_buffers
from aeronpy.driver.network_agents import Receiver, Sender
from aeronpy.driver.system_counters import SystemCounterId, allocate_system_counters
from aeronpy.errors import ActiveDriverError, CncError, StorageSpaceError
from aeronpy.version import COMMIT, __version__


class MediaDriver:
    """An Aeron media driver in this process."""

    def __init__(self, ctx: DriverContext) -> None:
        self.ctx = ctx
        self._runners: list[AgentRunner] = []
        self._invoker: AgentInvoker | None = None
        self._closed = False
        self._lock = threading.Lock()
        self.cnc: CncFile | None = None
        self.startup_warnings: list[str] = []
        self.conductor: DriverConductor | None = None

    # ------------------------------------------------------------------ launch
    @classmethod
    def launch(cls, ctx: DriverContext | None = None, **overrides: Any) -> MediaDriver:
        """Validate the context, prepare the Aeron dir, create cnc.dat and start the agents."""
        if ctx is None:
            ctx = DriverContext.from_properties(**overrides)
        ctx.validate()
        warnings = validate_socket_buffers(ctx, probe_socket_buffers(ctx.socket_sndbuf, ctx.socket_rcvbuf))
        for warning in warnings:
            print(f"WARNING: {warning}", file=sys.stderr)
        driver = cls(ctx)
        driver.startup_warnings = warnings
        try:
            driver._start()
        except BaseException:
            driver._close_resources(delete_dir=False)
            raise
        return driver

    def _start(self) -> None:
        ctx = self.ctx
        self._prepare_dir()
        # effective configuration for tools (``aeronpy sizing --check``): not all of it is in cnc.dat
        props = "".join(f"{k}={v}\n" for k, v in sorted(ctx.as_properties().items()))
        try:
            with open(os.path.join(ctx.aeron_dir, "driver-config.properties"), "w", encoding="utf-8") as f:
                f.write(props)
        except OSError as ex:
            raise StorageSpaceError(f"cannot write driver-config.properties in {ctx.aeron_dir}: {ex}") from ex
        now_ms = epoch_ms()
        cnc_path = os.path.join(ctx.aeron_dir, "cnc.dat")
        self.cnc = cnc = CncFile.create(
            cnc_path,
            to_driver_buffer_length=ctx.conductor_buffer_length,
            to_clients_buffer_length=ctx.clients_buffer_length,
            counters_values_buffer_length=ctx.counters_buffer_length,
            error_log_buffer_length=ctx.error_buffer_length,
            client_liveness_timeout_ns=ctx.client_liveness_timeout_ns,
            start_timestamp_ms=now_ms,
            pid=os.getpid(),
            file_page_size=ctx.file_page_size,
        )
        loss_report_length = align(ctx.loss_report_buffer_length, ctx.file_page_size)
        loss_path = os.path.join(ctx.aeron_dir, "loss-report.dat")
        _create_zeroed_file(loss_path, loss_report_length)
        with open(loss_path, "r+b") as f:
            self._loss_mmap: mmap.mmap | None = mmap.mmap(f.fileno(), loss_report_length)
        self._loss_buffer = AtomicBuffer(self._loss_mmap)

        self.to_driver = ManyToOneRingBuffer(cnc.to_driver_buffer)
        self.to_clients = BroadcastTransmitter(cnc.to_clients_buffer)
        free_ms = ctx.counters_free_to_reuse_timeout_ns // 1_000_000
        if ctx.counters_free_to_reuse_timeout_ns > 0:
            free_ms = max(1, free_ms)
        self.counters = CountersManager(
            cnc.counters_metadata_buffer, cnc.counters_values_buffer, free_to_reuse_timeout_ms=free_ms
        )
        self.error_log = DistinctErrorLog(cnc.error_log_buffer, epoch_ms)
        mode = ThreadingMode(ctx.threading_mode)
        self.system_counters = allocate_system_counters(self.counters, mode.value, __version__, COMMIT)
        self.system_counters[SystemCounterId.BYTES_CURRENTLY_MAPPED].set(
            cnc.file_length + loss_report_length
        )
        self.to_driver.next_correlation_id()
        self.to_driver.set_consumer_heartbeat_time(epoch_ms())

        self.sender = Sender(ctx.send_to_status_poll_ratio, ctx.status_message_timeout_ns)
        self.receiver = Receiver()
        self.conductor = DriverConductor(
            ctx, self.to_driver, self.to_clients, self.counters, self.error_log, self.system_counters,
            sender=self.sender, receiver=self.receiver,
        )
        self.conductor.network.loss_reporter = LossReport(self._loss_buffer)
        for warning in self.startup_warnings:
            self.error_log.record(0, f"WARNING: {warning}")
        cnc.signal_ready()
        self._start_agents(mode)

    def _prepare_dir(self) -> None:
        ctx = self.ctx
        aeron_dir = ctx.aeron_dir
        if os.path.isdir(aeron_dir):
            if ctx.dir_delete_on_start:
                shutil.rmtree(aeron_dir, ignore_errors=True)
            else:
                cnc_path = os.path.join(aeron_dir, "cnc.dat")
                if os.path.exists(cnc_path):
                    if is_driver_active(aeron_dir, ctx.driver_timeout_ms, epoch_ms()):
                        raise ActiveDriverError(
                            f"active media driver detected in {aeron_dir}: stop it, or use another "
                            "aeron.dir (a driver stops being active driver.timeout after its last "
                            "heartbeat)"
                        )
                    _save_error_log(cnc_path, aeron_dir)
                shutil.rmtree(aeron_dir, ignore_errors=True)
        try:
            os.makedirs(os.path.join(aeron_dir, "publications"), exist_ok=True)
            os.makedirs(os.path.join(aeron_dir, "images"), exist_ok=True)
        except OSError as ex:
            raise StorageSpaceError(f"cannot create Aeron directory {aeron_dir}: {ex}") from ex

    def _error_handler(self, ex: BaseException) -> None:
        if self.conductor is not None:
            try:
                self.conductor.record_error(11, f"{type(ex).__name__}: {ex}")
                return
            except Exception:
                pass
        print(f"aeronpy driver error: {ex!r}", file=sys.stderr)

    def _idle(self, role: str) -> Any:
        name = getattr(self.ctx, f"{role}_idle_strategy")
        args = getattr(self.ctx, f"{role}_idle_strategy_init_args", None)
        return idle_strategy_from_name(name, args)

    def _start_agents(self, mode: ThreadingMode) -> None:
        assert self.conductor is not None
        conductor = self.conductor
        sender = self.sender
        receiver = self.receiver
        handler = self._error_handler
        if mode is ThreadingMode.INVOKER:
            self._invoker = AgentInvoker(handler, CompositeAgent(conductor, sender, receiver))
            self._invoker.start()
            return
        plan: list[tuple[str, Any]]
        if mode is ThreadingMode.SHARED:
            plan = [("shared", CompositeAgent(conductor, sender, receiver))]
        elif mode is ThreadingMode.SHARED_NETWORK:
            plan = [("conductor", conductor), ("shared_network", CompositeAgent(sender, receiver))]
        else:
            plan = [("conductor", conductor), ("sender", sender), ("receiver", receiver)]
        for role, agent in plan:
            runner = AgentRunner(self._idle(role), handler, agent)
            self._runners.append(runner)
            runner.start(thread_name=f"aeronpy-{role}")

    # ------------------------------------------------------------------ api
    @property
    def aeron_dir(self) -> str:
        return str(self.ctx.aeron_dir)

    def do_work(self) -> int:
        """INVOKER mode: run one duty cycle of every agent; returns the work count."""
        if self._invoker is None:
            raise RuntimeError("do_work() is only for threading mode INVOKER")
        return int(self._invoker.invoke())

    @property
    def is_terminated(self) -> bool:
        """True once a client requested termination (and the validator allowed it)."""
        return bool(self.conductor is not None and self.conductor.terminate_requested)

    def set_termination_hook(self, hook: Callable[[], None]) -> None:
        if self.conductor is not None:
            self.conductor.termination_hook = hook

    def close(self) -> None:
        """Stop the agents, mark the driver as shut down, unmap, and delete the dir if asked."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._close_resources(delete_dir=self.ctx.dir_delete_on_shutdown)

    def _close_resources(self, delete_dir: bool) -> None:
        for runner in self._runners:
            runner.close()
        self._runners.clear()
        if self._invoker is not None:
            self._invoker.close()
            self._invoker = None
        if self.cnc is not None:
            try:
                self.to_driver.set_consumer_heartbeat_time(-1)
            except Exception:
                pass
            self.cnc.close()
            self.cnc = None
        loss_mmap = getattr(self, "_loss_mmap", None)
        if loss_mmap is not None:
            self._loss_buffer.release()
            loss_mmap.close()
            self._loss_mmap = None
        if delete_dir:
            shutil.rmtree(self.ctx.aeron_dir, ignore_errors=True)

    def __enter__(self) -> MediaDriver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _create_zeroed_file(path: str, length: int) -> None:
    try:
        with open(path, "wb") as f:
            f.truncate(length)
    except OSError as ex:
        raise StorageSpaceError(f"cannot create {path} of {length} bytes: {ex}") from ex


def _save_error_log(cnc_path: str, aeron_dir: str) -> None:
    """Dump a dead driver's distinct errors to ``<dir>-<date>-error.log`` before deleting."""
    try:
        cnc = CncFile.map(cnc_path)
    except (CncError, OSError, ValueError):
        return
    lines: list[str] = []

    def consume(count: int, first_ms: int, last_ms: int, text: str) -> None:
        lines.append(
            f"***\n{count} observations from {_fmt_ms(first_ms)} to {_fmt_ms(last_ms)} for:\n {text}\n"
        )

    try:
        read_error_log(cnc.error_log_buffer, consume)
    finally:
        cnc.close()
    if lines:
        stamp = datetime.datetime.now().strftime("%Y-%m-%d-%H-%M-%S-%f")
        path = f"{aeron_dir.rstrip('/')}-{stamp}-error.log"
        with open(path, "w") as f:
            f.write("".join(lines))
            f.write(f"\n{len(lines)} distinct errors observed.\n")


def _fmt_ms(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
