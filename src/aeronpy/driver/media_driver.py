"""MediaDriver: owns the Aeron directory, cnc.dat, log buffers and counters, runs the agents.

Embed it (``MediaDriver.launch(ctx)``) or run ``aeronpy driver``.  In INVOKER mode no thread is
started: the application calls :meth:`MediaDriver.do_work` from its own loop.
"""

from __future__ import annotations

import datetime
import mmap
import os
import shutil
import stat
import sys
import threading
import time
import warnings
from functools import partial
from types import TracebackType
from typing import Any, Callable, Iterator

from aeronpy.cnc import CncFile, driver_activity
from aeronpy.concurrent.activity_probe import ActivitySources
from aeronpy.concurrent.agent import AgentBase, AgentInvoker, AgentRunner, CompositeAgent
from aeronpy.concurrent.atomic_buffer import AtomicBuffer
from aeronpy.concurrent.bit_util import align
from aeronpy.concurrent.broadcast import BroadcastTransmitter
from aeronpy.concurrent.counters import CountersManager
from aeronpy.concurrent.error_log import DistinctErrorLog, read_error_log
from aeronpy.concurrent.idle_strategy import idle_strategy_from_name
from aeronpy.concurrent.ringbuffer import ManyToOneRingBuffer
from aeronpy.driver.activity_sources import probed
from aeronpy.driver.conductor import DriverConductor
from aeronpy.driver.context import DriverContext, ThreadingMode
from aeronpy.driver.files import StartLock, set_mode
from aeronpy.driver.loss_report import LossReport
from aeronpy.driver.media.socket_validation import validate_socket_buffers
from aeronpy.driver.network_agents import ReadySockets, Receiver, Sender
from aeronpy.driver.shared_agent import SharedAgent
from aeronpy.driver.system_counters import SystemCounterId, allocate_system_counters
from aeronpy.errors import ActiveDriverError, CncError, DriverError, StorageSpaceError
from aeronpy.version import COMMIT, __version__


class AeronDirExposureWarning(UserWarning):
    """The Aeron dir and cnc.dat are readable by every local user (the umask default)."""


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
        self.failure: str | None = None
        """Why the driver stopped by itself (its cnc.dat was deleted or replaced), else None."""
        self._termination_hook: Callable[[], None] | None = None
        self._orphan_closer: threading.Thread | None = None
        self._cnc_identity: tuple[int, int] = (0, 0)
        self.error_log: NotifyingErrorLog | None = None

    # ------------------------------------------------------------------ launch
    @classmethod
    def launch(cls, ctx: DriverContext | None = None, **overrides: Any) -> MediaDriver:
        """Validate the context, prepare the Aeron dir, create cnc.dat and start the agents."""
        if ctx is None:
            ctx = DriverContext.from_properties(**overrides)
        ctx.validate()
        warnings = validate_socket_buffers(ctx, ctx.transport_factory.probe_buffers(ctx.socket_sndbuf, ctx.socket_rcvbuf))
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
        # Held from the active-driver check until cnc.dat is ready: a second aeronpy driver
        # starting on the same dir waits here, then finds this one active.
        with StartLock(self.ctx.aeron_dir, self.ctx.driver_timeout_ms):
            self._start_locked()
        self._start_agents(ThreadingMode(self.ctx.threading_mode))

    def _start_locked(self) -> None:
        ctx = self.ctx
        self._prepare_dir()
        # effective configuration for tools (``aeronpy sizing --check``): not all of it is in cnc.dat
        props = "".join(f"{k}={v}\n" for k, v in sorted(ctx.as_properties().items()))
        config_path = os.path.join(ctx.aeron_dir, "driver-config.properties")
        try:
            with open(config_path, "w", encoding="utf-8") as f:
                f.write(props)
            set_mode(config_path, ctx.file_mode)
        except OSError as ex:
            raise StorageSpaceError(f"cannot write driver-config.properties in {ctx.aeron_dir}: {ex}") from ex
        now_ms = ctx.epoch_clock()
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
            mode=ctx.file_mode,
            exclusive=True,
        )
        st = os.stat(cnc_path)
        self._cnc_identity = (st.st_dev, st.st_ino)
        exposure = _exposure_warning(ctx.aeron_dir, st.st_mode)
        if exposure is not None:
            warnings.warn(exposure, AeronDirExposureWarning, stacklevel=4)
            self.startup_warnings.append(exposure)
        loss_report_length = align(ctx.loss_report_buffer_length, ctx.file_page_size)
        loss_path = os.path.join(ctx.aeron_dir, "loss-report.dat")
        _create_zeroed_file(loss_path, loss_report_length, ctx.file_mode)
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
        self.error_log = NotifyingErrorLog(cnc.error_log_buffer, ctx.epoch_clock, ctx.error_handler)
        mode = ThreadingMode(ctx.threading_mode)
        self.system_counters = allocate_system_counters(
            self.counters, mode.value, __version__, COMMIT,
            resolver_name=ctx.resolver_name or "",
            conductor_threshold_ns=ctx.conductor_cycle_threshold_ns,
            sender_threshold_ns=ctx.sender_cycle_threshold_ns,
            receiver_threshold_ns=ctx.receiver_cycle_threshold_ns,
            name_resolver_threshold_ns=ctx.name_resolver_threshold_ns,
        )
        self.system_counters[SystemCounterId.BYTES_CURRENTLY_MAPPED].set(
            cnc.file_length + loss_report_length
        )
        self.to_driver.next_correlation_id()
        self.to_driver.set_consumer_heartbeat_time(ctx.epoch_clock())

        # SHARED: one epoll for the sender's and the receiver's sockets, asked once a duty cycle
        shared_sockets = ReadySockets(shared=True) if mode is ThreadingMode.SHARED else None
        self.sender = Sender(ctx.send_to_status_poll_ratio, ctx.status_message_timeout_ns, ctx.nano_clock,
                             shared_sockets)
        self.receiver = Receiver(ctx.nano_clock, shared_sockets)
        self.conductor = DriverConductor(
            ctx, self.to_driver, self.to_clients, self.counters, self.error_log, self.system_counters,
            nano_clock=ctx.nano_clock, epoch_clock=ctx.epoch_clock, sender=self.sender, receiver=self.receiver,
        )
        self.conductor.network.loss_reporter = LossReport(self._loss_buffer)
        for warning in self.startup_warnings:
            if warning is not exposure:
                self.error_log.record(0, f"WARNING: {warning}")
        cnc.signal_ready()

    def _prepare_dir(self) -> None:
        """cnc-file.md §4 step 2-3: refuse an active (or recently active) driver, else save
        the old error log, delete the dir and recreate it with ``dir_mode``.  A cnc.dat that
        exists but is not initialised yet is waited for up to the driver timeout."""
        ctx = self.ctx
        aeron_dir = ctx.aeron_dir
        if os.path.isdir(aeron_dir):
            if not ctx.dir_delete_on_start:
                activity = driver_activity(aeron_dir, ctx.driver_timeout_ms, wait_ms=ctx.driver_timeout_ms)
                if activity.is_active:
                    raise ActiveDriverError(
                        f"active media driver detected in {aeron_dir}: pid {activity.pid}, heartbeat "
                        f"{activity.heartbeat_age_ms}ms old (active until it is older than "
                        f"aeron.driver.timeout={ctx.driver_timeout_ms}ms); stop it, wait, use another "
                        "aeron.dir, or set aeron.dir.delete.on.start=true"
                    )
                if activity.state in ("stale", "shutdown"):
                    _save_error_log(os.path.join(aeron_dir, "cnc.dat"), aeron_dir, ctx.file_mode)
            _delete_dir(aeron_dir)
        try:
            for path in (aeron_dir, os.path.join(aeron_dir, "publications"), os.path.join(aeron_dir, "images")):
                os.makedirs(path, exist_ok=True)
                set_mode(path, ctx.dir_mode)
        except OSError as ex:
            raise StorageSpaceError(f"cannot create Aeron directory {aeron_dir}: {ex}") from ex

    def _error_handler(self, ex: BaseException) -> None:
        if self.conductor is not None:
            try:
                assert self.error_log is not None
                with self.error_log.reporting(ex):
                    self.conductor.record_error(11, f"{type(ex).__name__}: {ex}")
                return
            except Exception:
                pass
        print(f"aeronpy driver error: {ex!r}", file=sys.stderr)
        if self.error_log is not None:
            self.error_log.notify(ex)

    def _on_cnc_lost(self, reason: str) -> None:
        """The dir watch saw cnc.dat deleted or replaced: record why and stop this driver
        (without touching the directory, which now belongs to another driver)."""
        if self.failure is not None:
            return
        self.failure = (
            f"{reason}: another media driver (aeron.dir.delete.on.start=true?) or a user took over "
            f"{self.ctx.aeron_dir}; this driver stops"
        )
        self._error_handler(ActiveDriverError(self.failure))
        if self._invoker is None:
            closer = threading.Thread(target=self._close_orphaned, name="aeronpy-driver-close", daemon=True)
            self._orphan_closer = closer
            closer.start()
        if self._termination_hook is not None:
            try:
                self._termination_hook()
            except Exception as ex:
                self._error_handler(ex)

    def _close_orphaned(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._close_resources(delete_dir=False, orphaned=True)

    def _idle(self, role: str) -> Any:
        name = getattr(self.ctx, f"{role}_idle_strategy")
        args = getattr(self.ctx, f"{role}_idle_strategy_init_args", None)
        return idle_strategy_from_name(name, args)

    def _start_agents(self, mode: ThreadingMode) -> None:
        assert self.conductor is not None
        conductor: Any = CompositeAgent(
            self.conductor,
            CncWatch(os.path.join(self.ctx.aeron_dir, "cnc.dat"), self._cnc_identity, self._on_cnc_lost,
                     max(self.ctx.timer_interval_ns // 1_000_000, 1), clock=partial(_seconds, self.ctx.nano_clock)),
        )
        sender = self.sender
        receiver = self.receiver
        handler = self._error_handler
        if mode is ThreadingMode.INVOKER:
            self._invoker = AgentInvoker(handler, CompositeAgent(conductor, sender, receiver))
            self._invoker.start()
            return
        plan: list[tuple[str, Any]]
        if mode is ThreadingMode.SHARED:
            plan = [("shared", SharedAgent(conductor, sender, receiver, self.ctx.shared_conductor_interval_ns,
                                           self.ctx.nano_clock, eager=self.ctx.shared_eager_data_path,
                                           commands_ring=self.conductor.to_driver))]
        elif mode is ThreadingMode.SHARED_NETWORK:
            plan = [("conductor", conductor), ("shared_network", CompositeAgent(sender, receiver))]
        else:
            plan = [("conductor", conductor), ("sender", sender), ("receiver", receiver)]
        for role, agent in plan:
            idle = self._idle(role)
            watch = getattr(idle, "watch_fd", None)  # a doorbell strategy: wake on datagrams too
            if watch is not None:
                for network_agent in (sender, receiver):
                    if role in ("shared", "shared_network") or role == network_agent.role_name():
                        watch(network_agent.ready_sockets.fileno())
            runner = AgentRunner(idle, handler, probed(agent, idle))
            self._runners.append(runner)
            runner.start(thread_name=f"aeronpy-{role}")

    # ------------------------------------------------------------------ api
    @property
    def aeron_dir(self) -> str:
        return str(self.ctx.aeron_dir)

    def do_work(self) -> int:
        """INVOKER mode: run one duty cycle of every agent; returns the work count.

        Raises :class:`ActiveDriverError` (once closed) if another driver took over the dir."""
        if self.failure is not None:
            self._close_orphaned()
            raise ActiveDriverError(self.failure)
        if self._invoker is None:
            raise RuntimeError("do_work() is only for threading mode INVOKER")
        return int(self._invoker.invoke())

    @property
    def is_terminated(self) -> bool:
        """True once a client requested termination (and the validator allowed it)."""
        return bool(self.conductor is not None and self.conductor.terminate_requested)

    def set_termination_hook(self, hook: Callable[[], None]) -> None:
        """Called when a client's termination request is allowed, or when this driver stops
        because another one took over its directory (then :attr:`failure` says why)."""
        self._termination_hook = hook
        if self.conductor is not None:
            self.conductor.termination_hook = hook

    def close(self) -> None:
        """Stop the agents, mark the driver as shut down, unmap, and delete the dir if asked."""
        closer = self._orphan_closer
        if closer is not None and closer is not threading.current_thread():
            closer.join(10.0)
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self.failure is not None:  # the directory now belongs to another driver: leave it alone
            self._close_resources(delete_dir=False, orphaned=True)
        else:
            self._close_resources(delete_dir=self.ctx.dir_delete_on_shutdown)

    def _close_resources(self, delete_dir: bool, orphaned: bool = False) -> None:
        for runner in self._runners:
            runner.close()
        self._runners.clear()
        if self._invoker is not None:
            self._invoker.close()
            self._invoker = None
        if self.cnc is not None:
            try:
                if not orphaned:
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


class NotifyingErrorLog(DistinctErrorLog):
    """The driver's distinct error log, which also hands each recorded error to the
    context's ``error_handler`` on the recording thread.

    The handler gets a :class:`DriverError` (code and text as recorded), or, inside
    :meth:`reporting`, the exception an agent raised.  An exception the handler raises is
    recorded too (without calling the handler again) and never propagates.
    """

    def __init__(
        self, buffer: Any, epoch_clock: Callable[[], int], handler: Callable[[BaseException], None] | None
    ) -> None:
        super().__init__(buffer, epoch_clock)
        self.handler = handler
        self._local = threading.local()

    def record_text(self, error_code: int, text: str) -> bool:
        """Record ``text`` (see :class:`DistinctErrorLog`), then notify the handler."""
        recorded = super().record_text(error_code, text)
        if self.handler is not None:
            cause = getattr(self._local, "cause", None)
            self.notify(cause if cause is not None else DriverError(error_code, text.rstrip("\n")))
        return recorded

    def notify(self, error: BaseException) -> None:
        """Call the handler (if any) with ``error``; its own failure is recorded, not raised."""
        handler = self.handler
        if handler is None or getattr(self._local, "in_handler", False):
            return
        self._local.in_handler = True
        try:
            handler(error)
        except Exception as ex:
            try:
                super().record(0, f"error_handler raised {type(ex).__name__}: {ex} (handling: {error})")
            except Exception:
                pass
        finally:
            self._local.in_handler = False

    def reporting(self, cause: BaseException) -> _Reporting:
        """Within this block, errors recorded on this thread reach the handler as ``cause``."""
        return _Reporting(self._local, cause)


class _Reporting:
    def __init__(self, local: threading.local, cause: BaseException) -> None:
        self._local = local
        self._cause = cause

    def __enter__(self) -> None:
        self._local.cause = self._cause

    def __exit__(self, *exc: object) -> None:
        self._local.cause = None


def _seconds(nano_clock: Callable[[], int]) -> float:
    """``nano_clock()`` in seconds (the cnc watch's clock from the driver context's)."""
    return nano_clock() / 1e9


class CncWatch(AgentBase):
    """Checks every ``interval_ms`` that cnc.dat at ``path`` is still this driver's file;
    calls ``on_lost(reason)`` once when it was deleted or replaced."""

    def __init__(
        self,
        path: str,
        identity: tuple[int, int],
        on_lost: Callable[[str], None],
        interval_ms: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.identity = identity
        self.on_lost = on_lost
        self.interval_s = interval_ms / 1000.0
        self._clock = clock
        self._next_check = clock() + self.interval_s
        self._lost = False

    def role_name(self) -> str:
        return "cnc-watch"

    def activity_sources(self) -> ActivitySources:
        """Nothing to watch: it runs on its own interval (the idle probe's parks reach it)."""
        return ActivitySources(quiet_ns=int(self.interval_s * 1e9))

    def do_work(self) -> int:
        """Check at most once per interval; 1 only when the file was found lost (a routine
        check is no work: it must not pull an idle driver's back-off out of its deep park)."""
        now = self._clock()
        if self._lost or now < self._next_check:
            return 0
        self._next_check = now + self.interval_s
        try:
            st = os.stat(self.path)
            reason = None if (st.st_dev, st.st_ino) == self.identity else f"{self.path} was replaced"
        except FileNotFoundError:
            reason = f"{self.path} was deleted"
        except OSError:
            reason = None  # transient (e.g. EACCES while a dir is re-created): check again later
        if reason is None:
            return 0
        self._lost = True
        self.on_lost(reason)
        return 1


def _delete_dir(aeron_dir: str) -> None:
    shutil.rmtree(aeron_dir, ignore_errors=True)
    if os.path.exists(os.path.join(aeron_dir, "cnc.dat")):
        raise StorageSpaceError(f"cannot delete the old Aeron directory {aeron_dir} (permissions?)")


def _exposure_warning(aeron_dir: str, cnc_mode: int) -> str | None:
    """A warning when every local user can reach and read cnc.dat (and so the logs)."""
    if not cnc_mode & (stat.S_IROTH | stat.S_IWOTH):
        return None
    for path in _self_and_ancestors(os.path.abspath(aeron_dir)):
        try:
            if not os.stat(path).st_mode & stat.S_IXOTH:
                return None  # others cannot get past this directory
        except OSError:
            return None
    try:
        dir_mode = stat.S_IMODE(os.stat(aeron_dir).st_mode)
    except OSError:
        return None
    return (
        f"the Aeron directory {aeron_dir} (mode {dir_mode:04o}) and its files (cnc.dat mode "
        f"{stat.S_IMODE(cnc_mode):04o}) are readable by every local user, who can then read message "
        "payloads, counters and errors; set aeronpy.dir.mode=0700 (or 0750 for a group) and/or "
        "aeronpy.file.mode=0600 to restrict"
    )


def _self_and_ancestors(path: str) -> Iterator[str]:
    while True:
        yield path
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent


def _create_zeroed_file(path: str, length: int, mode: int | None = None) -> None:
    try:
        with open(path, "wb") as f:
            if mode is not None:
                os.fchmod(f.fileno(), mode)
            f.truncate(length)
    except OSError as ex:
        raise StorageSpaceError(f"cannot create {path} of {length} bytes: {ex}") from ex


def _save_error_log(cnc_path: str, aeron_dir: str, mode: int | None = None) -> None:
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
            if mode is not None:
                os.fchmod(f.fileno(), mode)
            f.write("".join(lines))
            f.write(f"\n{len(lines)} distinct errors observed.\n")


def _fmt_ms(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
