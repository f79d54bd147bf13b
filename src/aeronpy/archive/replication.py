"""Replication of a recording from a source archive (archive.md §7.1), run by the destination.

A :class:`ReplicationSession` talks to the source archive with a blocking
:class:`~aeronpy.archive.client.AeronArchive` on its own thread (its own Aeron client) and
hands everything that touches the destination's catalog, subscriptions and control session to
the conductor through ``requests`` (callables the conductor runs on its thread).  Supported:
plain replication of a recording into a new or an existing destination recording (extending
it), up to an optional stop position, following a live source until it stops.  Live merge and
tagged replication are refused with an error.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aeronpy.archive.codecs import RecordingSignal
from aeronpy.archive.errors import ArchiveError, ErrorCode
from aeronpy.errors import AeronError
from aeronpy.uri import ChannelUri

if TYPE_CHECKING:
    from aeronpy.archive.conductor import ArchiveConductor, RecordingSubscription
    from aeronpy.archive.control_session import ControlSession

__all__ = ["ReplicationSession"]


class ReplicationSession:
    """One replication; ``replication_id`` is the correlation id of everything it reports."""

    def __init__(
        self,
        conductor: ArchiveConductor,
        session: ControlSession,
        replication_id: int,
        src_recording_id: int,
        dst_recording_id: int,
        stop_position: int,
        src_control_channel: str,
        src_control_stream_id: int,
        src_response_channel: str,
        replication_channel: str,
        replication_session_id: int,
        credentials: bytes,
    ) -> None:
        self.conductor = conductor
        self.session = session
        self.replication_id = replication_id
        self.src_recording_id = src_recording_id
        self.dst_recording_id = dst_recording_id
        self.stop_position = stop_position
        self.src_control_channel = src_control_channel
        self.src_control_stream_id = src_control_stream_id
        self.src_response_channel = src_response_channel
        self.replication_channel = replication_channel
        self.replication_session_id = replication_session_id
        self.credentials = credentials
        self.requests: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self.recording_closed = threading.Event()
        self.recorded_position = -1
        self.aborted = threading.Event()
        self.done = False
        self._thread = threading.Thread(target=self._run, name=f"archive-replication-{replication_id}", daemon=True)
        self._src: Any = None
        self._replay_session_id = -1
        self._subscription: RecordingSubscription | None = None

    def start(self) -> None:
        self._thread.start()

    def abort(self) -> None:
        self.aborted.set()

    # -- helpers run on the conductor thread -----------------------------------------------

    def _call(self, fn: Callable[[], Any], timeout_s: float = 10.0) -> Any:
        """Run ``fn`` on the conductor thread and wait for its result."""
        box: list[Any] = []
        done = threading.Event()

        def run() -> None:
            try:
                box.append((True, fn()))
            except BaseException as e:  # handed back to the replication thread
                box.append((False, e))
            done.set()

        self.requests.put(run)
        if not done.wait(timeout_s):
            raise AeronError("archive conductor did not answer the replication session")
        ok, value = box[0]
        if not ok:
            raise value
        return value

    def _signal(self, recording_id: int, subscription_id: int, position: int, signal: RecordingSignal) -> None:
        rid = self.replication_id
        self.requests.put(lambda: self.session.signal(rid, recording_id, subscription_id, position, signal))

    def _error(self, code: int, message: str) -> None:
        rid = self.replication_id
        self.requests.put(lambda: self.session.error(rid, code, message))

    # -- the replication thread ------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._replicate()
        except ArchiveError as e:
            self._error(e.error_code, f"replication failed: {e.error_message}")
        except (AeronError, TimeoutError, OSError) as e:
            self._error(ErrorCode.GENERIC, f"replication failed: {e}")
        finally:
            self._close()

    def _replicate(self) -> None:
        from aeronpy.archive.client import AeronArchive, AeronArchiveContext

        ctx = self.conductor.ctx
        try:
            self._src = AeronArchive.connect(AeronArchiveContext(
                aeron_dir=ctx.aeron_dir, control_channel=self.src_control_channel,
                control_stream_id=self.src_control_stream_id, control_response_channel=self.src_response_channel,
                message_timeout_ns=ctx.message_timeout_ns, credentials=self.credentials,
                client_name=f"archive-replication replicationSessionId={self.replication_id}",
            ))
        except (AeronError, TimeoutError) as e:
            raise ArchiveError(f"failed to connect to source archive: {e}",
                               ErrorCode.REPLICATION_CONNECTION_FAILURE) from None
        d = self._src.list_recording(self.src_recording_id)
        if d is None:
            raise ArchiveError(f"unknown src recording id {self.src_recording_id}", ErrorCode.UNKNOWN_RECORDING)
        dst_id, dst_stop = self._call(lambda: self.conductor.replication_destination(self, d))
        self.dst_recording_id = dst_id
        target = d.stop_position if self.stop_position == -1 else self.stop_position
        if target != -1 and dst_stop >= target:
            self._signal(dst_id, -1, dst_stop, RecordingSignal.SYNC)
            return
        if self.aborted.is_set():
            return
        uri = ChannelUri.parse(self.replication_channel)
        session_id = self.replication_session_id if self.replication_session_id != -1 else d.session_id
        uri = uri.with_param("rejoin", "false").with_param("session-id", str(session_id))
        self._subscription = self._call(lambda: self.conductor.replication_extend(self, dst_id, str(uri), d.stream_id))
        channel = self._resolved_channel()
        length = -1 if self.stop_position == -1 else self.stop_position - dst_stop
        self._replay_session_id = self._src.start_replay(self.src_recording_id, channel, d.stream_id, dst_stop,
                                                        length)
        while not self.recording_closed.wait(0.01):
            if self.aborted.is_set():
                return
        if target != -1 and self.recorded_position >= target:
            self._signal(dst_id, -1, self.recorded_position, RecordingSignal.SYNC)

    def _resolved_channel(self) -> str:
        from aeronpy.archive.channels import resolve_channel_endpoint_port

        deadline = time.monotonic() + self.conductor.ctx.message_timeout_ns / 1e9
        while True:
            sub = self._subscription.subscription if self._subscription is not None else None
            if sub is not None:
                channel = resolve_channel_endpoint_port(self.conductor.aeron.counters_reader, sub)
                endpoint = ChannelUri.parse(channel).get("endpoint") or ""
                if not endpoint.endswith(":0"):
                    return channel
            if time.monotonic() > deadline or self.aborted.is_set():
                raise AeronError("replication subscription was not ready in time")
            time.sleep(0.002)

    def _close(self) -> None:
        if self._src is not None:
            if self._replay_session_id != -1:
                try:
                    self._src.stop_replay(self._replay_session_id)
                except (AeronError, TimeoutError):
                    pass
            try:
                self._src.close()
            except Exception:
                pass
        rs = self._subscription
        dst = self.dst_recording_id

        def finish() -> None:
            if rs is not None and not rs.stopped:
                self.conductor.stop_recording_subscription(rs)
            self.session.signal(self.replication_id, dst, -1, -1, RecordingSignal.REPLICATE_END)
            self.conductor.replications.pop(self.replication_id, None)
            self.done = True

        self.requests.put(finish)

