"""``ClusteredServiceContainer``: hosts one ``ClusteredService`` next to its consensus module
(same media driver): creates the container's mark file
(``cluster-mark-service-<id>.dat``, cluster.md §1.4), its counters (errors 215, max cycle time
218/219, snapshot duration 236/237, keyed by cluster id and service id) and the agent, then runs
the agent on its own thread (:meth:`start`) or hands it to a composite runner (:attr:`agent`)."""

from __future__ import annotations

import logging
import os
import threading
import traceback
from typing import Any

from aeronpy.cluster.codecs import ClusterComponentType
from aeronpy.cluster.counters import (
    CLUSTERED_SERVICE_CYCLE_TIME_THRESHOLD_EXCEEDED_TYPE_ID,
    CLUSTERED_SERVICE_ERROR_COUNT_TYPE_ID,
    CLUSTERED_SERVICE_MAX_CYCLE_TIME_TYPE_ID,
    CLUSTERED_SERVICE_MAX_SNAPSHOT_DURATION_TYPE_ID,
    CLUSTERED_SERVICE_SNAPSHOT_DURATION_THRESHOLD_EXCEEDED_TYPE_ID,
    service_key,
    service_label,
)
from aeronpy.cluster.mark_file import ClusterMarkFile, service_mark_file_name
from aeronpy.cluster.service.agent import ClusteredServiceAgent
from aeronpy.cluster.service.context import ServiceContainerContext
from aeronpy.cluster.service.errors import ClusterTerminationException
from aeronpy.concurrent.agent import AgentRunner, AgentTerminationException
from aeronpy.concurrent.idle_strategy import idle_strategy_from_name
from aeronpy.config import format_duration_ns

__all__ = ["ClusteredServiceContainer"]

_LOG = logging.getLogger("aeronpy.cluster.service")


class ClusteredServiceContainer:
    """A service container.  ``start()`` runs it on its own thread; ``close()`` stops it
    (calling the service's ``on_terminate`` if it had started) and releases everything."""

    def __init__(self, ctx: ServiceContainerContext, service: Any = None) -> None:
        ctx.validate()
        self.ctx = ctx
        self.service = service if service is not None else ctx.new_service()
        self.mark_file: ClusterMarkFile | None = None
        self.aeron: Any = ctx.aeron
        self._owns_aeron = ctx.aeron is None
        self._counters: dict[str, Any] = {}
        self._runner: AgentRunner | None = None
        self._closed = False
        self.terminated = threading.Event()
        #: What ended the duty cycle: a ClusterTerminationException (``is_expected`` when the
        #: cluster asked), another AgentTerminationException (failed start, Aeron closed), or None.
        self.termination_reason: BaseException | None = None
        self.errors: list[BaseException] = []
        self._delegate: Any = None
        try:
            self._conclude()
        except BaseException:
            if self.mark_file is not None:
                self.mark_file.signal_failed()
            self._release()
            raise

    def _conclude(self) -> None:
        ctx = self.ctx
        if ctx.delegating_error_handler:
            self._delegate = _load_delegating_error_handler(ctx.delegating_error_handler, self._record_error)
        cluster_dir = os.path.abspath(ctx.cluster_dir)
        mark_dir = os.path.abspath(ctx.resolved_mark_file_dir)
        os.makedirs(cluster_dir, exist_ok=True)
        os.makedirs(mark_dir, exist_ok=True)
        self.mark_file = ClusterMarkFile.create(
            mark_dir, service_mark_file_name(ctx.service_id), ClusterComponentType.CONTAINER, ctx.cluster_id, -1,
            ctx.service_id, ctx.error_buffer_length, link_dir=cluster_dir if mark_dir != cluster_dir else None,
            epoch_clock=ctx.epoch_clock or _epoch_ms,
            service_stream_id=ctx.service_stream_id, consensus_module_stream_id=ctx.consensus_module_stream_id,
            aeron_directory=ctx.aeron_dir, control_channel=ctx.control_channel,
            service_name=ctx.resolved_service_name, ingress_stream_id=-1,  # as Aeron's container writes
        )
        if self.aeron is None:
            from aeronpy.client.aeron import Aeron
            from aeronpy.client.context import Context

            self.aeron = Aeron.connect(Context.from_properties(
                env={}, aeron_dir=ctx.aeron_dir, client_name=ctx.resolved_service_name,
                error_handler=self._on_error))
        cid, sid = ctx.cluster_id, ctx.service_id
        key = service_key(cid, sid)

        def add(name: str, type_id: int, label: str) -> None:
            self._counters[name] = self.aeron.add_counter(type_id, service_label(label, cid, sid), key)

        add("errors", CLUSTERED_SERVICE_ERROR_COUNT_TYPE_ID, "Cluster Container Errors")
        add("max_cycle_time", CLUSTERED_SERVICE_MAX_CYCLE_TIME_TYPE_ID, "Cluster container max cycle time in ns")
        add("cycle_time_exceeded", CLUSTERED_SERVICE_CYCLE_TIME_THRESHOLD_EXCEEDED_TYPE_ID,
            "Cluster container work cycle time exceeded count: threshold="
            + format_duration_ns(ctx.cycle_threshold_ns))
        add("max_snapshot_duration", CLUSTERED_SERVICE_MAX_SNAPSHOT_DURATION_TYPE_ID,
            "Clustered service max snapshot duration in ns")
        add("snapshot_duration_exceeded", CLUSTERED_SERVICE_SNAPSHOT_DURATION_THRESHOLD_EXCEEDED_TYPE_ID,
            "Clustered service max snapshot duration exceeded count: threshold="
            + format_duration_ns(ctx.snapshot_duration_threshold_ns))
        self.agent = ClusteredServiceAgent(
            ctx, self.service, self.aeron, mark_file=self.mark_file, error_handler=self._on_error,
            counters=self._counters)
        self.mark_file.signal_ready()

    # -- errors ------------------------------------------------------------------------------

    def _on_error(self, error: BaseException) -> None:
        if isinstance(error, ClusterTerminationException):
            return
        if self._delegate is not None:
            try:
                self._delegate.on_error(error)
                return
            except Exception as e:  # a failing delegate must not hide the error
                self._record_error(e)
        self._record_error(error)

    def _record_error(self, error: BaseException) -> None:
        """The container's own handling: kept, written to the mark file's error log, passed
        to ``ctx.error_handler`` (else logged)."""
        self.errors.append(error)
        if self.mark_file is not None:
            text = "".join(traceback.format_exception_only(type(error), error)).strip()
            try:
                self.mark_file.error_log.record_text(0, text)
            except Exception:
                pass
        if self.ctx.error_handler is not None:
            self.ctx.error_handler(error)
        else:
            _LOG.warning("clustered service %s: %s", self.ctx.resolved_service_name, error)

    def _on_agent_error(self, error: BaseException) -> None:
        """Errors out of the duty cycle: counted (215) and recorded."""
        if isinstance(error, AgentTerminationException):
            self.termination_reason = error
        if isinstance(error, ClusterTerminationException):
            return
        counter = self._counters.get("errors")
        if counter is not None and not counter.is_closed:
            counter.increment()
        self._on_error(error)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> ClusteredServiceContainer:
        """Run the agent on its own thread (named after the service)."""
        if self._runner is not None:
            raise RuntimeError("container already started")
        idle = idle_strategy_from_name(self.ctx.idle_strategy)
        self._runner = AgentRunner(idle, self._on_agent_error, _Finishing(self.agent, self.terminated))
        self._runner.start(thread_name=self.ctx.resolved_service_name)
        return self

    @property
    def is_running(self) -> bool:
        return self._runner is not None and self._runner.is_running

    def close(self) -> None:
        """Stop the agent (``on_terminate`` runs if the service had started), release the
        counters, the client (if the container made it) and the mark file."""
        if self._closed:
            return
        self._closed = True
        agent = getattr(self, "agent", None)
        if agent is not None:
            agent.close_requested = True
        if self._runner is not None:
            self._runner.close()
        elif agent is not None:
            try:
                agent.on_close()
            except Exception as e:
                self._on_error(e)
        self._release()

    def _release(self) -> None:
        if self.aeron is not None and not self.aeron.is_closed:
            for counter in self._counters.values():
                try:
                    counter.close()
                except Exception:
                    pass
            if self._owns_aeron:
                self.aeron.close()
        if self.mark_file is not None:
            self.mark_file.close()

    def __enter__(self) -> ClusteredServiceContainer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Finishing:
    """The agent, noting when its duty cycle ended for good."""

    def __init__(self, agent: ClusteredServiceAgent, done: threading.Event) -> None:
        self.agent = agent
        self.done = done

    def role_name(self) -> str:
        return self.agent.role_name()

    def on_start(self) -> None:
        self.agent.on_start()

    def do_work(self) -> int:
        return self.agent.do_work()

    def on_close(self) -> None:
        try:
            self.agent.on_close()
        finally:
            self.done.set()


def _load_delegating_error_handler(spec: str, next_handler: Any) -> Any:
    """``aeron.cluster.service.delegating.error.handler``: ``module:Class`` whose instance has
    ``on_error(error)`` and, optionally, ``next(handler)`` (given the container's own handling)."""
    import importlib

    from aeronpy.cluster.service.context import PROPERTY_NAMES
    from aeronpy.errors import ConfigurationError

    module_name, sep, attr = spec.partition(":")
    if not sep:
        module_name, _, attr = spec.rpartition(".")
    prop = PROPERTY_NAMES["delegating_error_handler"]
    try:
        handler = getattr(importlib.import_module(module_name), attr)()
    except Exception as e:
        raise ConfigurationError(f"{prop}={spec}: cannot create it: {e}") from None
    if not callable(getattr(handler, "on_error", None)):
        raise ConfigurationError(f"{prop}={spec}: has no on_error(error) method")
    if callable(getattr(handler, "next", None)):
        handler.next(next_handler)
    return handler


def _epoch_ms() -> int:
    from aeronpy.concurrent.clock import epoch_ms

    return epoch_ms()
