"""Replication of a recording from a source archive (archive.md §7.1), run by the destination.

A :class:`ReplicationSession` talks to the source archive with a blocking
:class:`~aeronpy.archive.client.AeronArchive` on its own thread (its own Aeron client) and
hands everything that touches the destination's catalog, subscriptions and control session to
the conductor through ``requests`` (callables the conductor runs on its thread).

Three shapes, as Aeron's ``ReplicationSession``:

* plain: the replay arrives on an extend-recording subscription of the replication channel
  (``session-id`` pinned); done at the source's stop position, the requested stop position,
  or when the replay ends;
* tagged (channel/subscription tag ids): the recording subscription is a ``control-mode=manual``
  subscription tagged ``tags=<channelTag>,<subscriptionTag>`` (default both = replicationId) and
  the replay comes in through a destination added to it, so other subscriptions with the same
  channel tag see the replicated stream too;
* live merge (``liveDestination``): tagged as above; the replay (``linger=0|eos=false``, the live
  session id) catches up with the source's recording position, the live destination is added
  once within ``min(termLength/4, 32 MiB)``, and when the image has both transports at the live
  position the replay destination is removed (MERGE signal).  The recording then goes on from
  the live stream after the replication session has ended.
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

__all__ = ["ReplicationSession", "LIVE_ADD_MAX_WINDOW", "destination_uri"]

LIVE_ADD_MAX_WINDOW = 32 * 1024 * 1024
REPLAY_REMOVE_THRESHOLD = 0
_POLL_S = 0.001


def destination_uri(channel: str, endpoint: str) -> str:
    """``aeron:udp?endpoint=<endpoint>`` (+ the channel's ``interface``), as Aeron's
    ``ChannelUri.createDestinationUri``."""
    uri = ChannelUri.parse(channel)
    text = f"aeron:{uri.media}?endpoint={endpoint}"
    interface = uri.get("interface")
    return text + (f"|interface={interface}" if interface is not None else "")


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
        channel_tag_id: int = -1,
        subscription_tag_id: int = -1,
        live_destination: str = "",
        file_io_max_length: int = -1,
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
        self.is_tagged = channel_tag_id != -1 or subscription_tag_id != -1
        self.channel_tag_id = replication_id if channel_tag_id == -1 else channel_tag_id
        self.subscription_tag_id = replication_id if subscription_tag_id == -1 else subscription_tag_id
        self.live_destination = live_destination
        self.file_io_max_length = file_io_max_length
        self.requests: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self.recording_closed = threading.Event()
        self.recorded_position = -1
        self.aborted = threading.Event()
        self.done = False
        self.merged = False
        self._thread = threading.Thread(target=self._run, name=f"archive-replication-{replication_id}", daemon=True)
        self._src: Any = None
        self._replay_session_id = -1
        self._subscription: RecordingSubscription | None = None
        self._replay_destination: str | None = None
        self._deadline = 0.0

    @property
    def is_mds(self) -> bool:
        """Tagged or live merge: the recording subscription is a manual multi-destination one."""
        return self.is_tagged or bool(self.live_destination)

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

    def _subscription_id(self) -> int:
        return self._subscription.registration_id if self._subscription is not None else -1

    def _destination(self, add: bool, channel: str) -> None:
        """Add or remove a receive destination of the recording subscription and wait for the driver."""
        rs = self._subscription
        assert rs is not None and rs.subscription is not None
        sub = rs.subscription
        aeron = self.conductor.aeron
        corr = self._call(lambda: sub.async_add_destination(channel) if add else sub.async_remove_destination(channel))
        self._arm()
        while self._call(lambda: aeron.is_command_active(corr)):
            self._wait(f"the driver to {'add' if add else 'remove'} destination {channel}")

    # -- the replication thread ------------------------------------------------------------

    def _arm(self) -> None:
        self._deadline = time.monotonic() + self.conductor.ctx.message_timeout_ns / 1e9

    def _wait(self, what: str) -> None:
        if self.aborted.is_set():
            raise _Aborted()
        if time.monotonic() > self._deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(_POLL_S)

    def _run(self) -> None:
        try:
            self._replicate()
        except _Aborted:
            pass
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
        if self.file_io_max_length != -1 and self.file_io_max_length < d.mtu_length:
            raise ArchiveError(f"Replication fileIoMaxLength ({self.file_io_max_length}) is less than the recording "
                               f"mtuLength ({d.mtu_length})", ErrorCode.GENERIC)
        live = bool(self.live_destination)
        dst_id, dst_stop = self._call(lambda: self.conductor.replication_destination(self, d))
        self.dst_recording_id = dst_id
        target = d.stop_position if self.stop_position == -1 else self.stop_position
        if d.start_position == d.stop_position or (target != -1 and dst_stop >= target):
            self._signal(dst_id, -1, dst_stop, RecordingSignal.SYNC)
            return
        if live and d.stop_position != -1:
            raise ArchiveError("cannot live merge without active source recording", ErrorCode.GENERIC)
        src_position = -1
        if live:
            src_position = self._src.get_recording_position(self.src_recording_id)
            if src_position == -1:
                raise ArchiveError("cannot live merge without active source recording", ErrorCode.GENERIC)
        if self.aborted.is_set():
            return
        session_id = self.replication_session_id if self.replication_session_id != -1 and not live else d.session_id
        uri = ChannelUri.parse(self.replication_channel)
        endpoint = uri.get("endpoint")
        is_response = uri.get("control-mode") == "response"  # the replay answers our request path
        uri = uri.with_param("rejoin", "false")
        if not is_response:  # a response subscription takes the replay's session when it is announced
            uri = uri.with_param("session-id", str(session_id))
        if self.is_mds:
            uri = uri.without_param("endpoint").with_param("tags", f"{self.channel_tag_id},{self.subscription_tag_id}")
            uri = uri.with_param("control-mode", "manual")
        self._subscription = self._call(lambda: self.conductor.replication_extend(self, dst_id, str(uri), d.stream_id))
        self._await_subscription()
        if self.is_mds:
            if endpoint is None:
                raise ArchiveError(f"replication channel needs an endpoint: {self.replication_channel}",
                                   ErrorCode.GENERIC)
            self._replay_destination = destination_uri(self.replication_channel, endpoint)
            self._destination(True, self._replay_destination)
        length = -1 if self.stop_position == -1 else self.stop_position - dst_stop
        if is_response:
            rs = self._subscription
            assert rs is not None and rs.subscription is not None
            self._replay_session_id = self._src.start_replay(
                self.src_recording_id, self.replication_channel, d.stream_id, dst_stop, length,
                self.file_io_max_length, subscription_registration_id=rs.subscription.registration_id)
        else:
            channel = self._replay_channel(endpoint, session_id, live)
            self._replay_session_id = self._src.start_replay(self.src_recording_id, channel, d.stream_id, dst_stop,
                                                            length, self.file_io_max_length)
        image = self._await_image()
        if live:
            self._merge(image, src_position)
            return
        while not self.recording_closed.is_set():
            if self.aborted.is_set():
                return
            position = int(image.position)
            synced = d.stop_position != -1 and position >= d.stop_position
            if synced or (self.stop_position != -1 and position >= self.stop_position) or \
                    image.is_end_of_stream or image.is_closed:
                if synced:
                    self._signal(dst_id, self._subscription_id(), position, RecordingSignal.SYNC)
                break
            time.sleep(_POLL_S)
        self._stop_recording_and_wait()
        if d.stop_position == -1 and target != -1 and self.recorded_position >= target:
            self._signal(dst_id, -1, self.recorded_position, RecordingSignal.SYNC)

    def _await_subscription(self) -> None:
        self._arm()
        while self._subscription is None or self._subscription.subscription is None:
            if self.recording_closed.is_set() or (self._subscription is not None and self._subscription.stopped):
                raise ArchiveError("replication recording subscription closed", ErrorCode.GENERIC)
            self._wait("the replication subscription")

    def _replay_channel(self, endpoint: str | None, session_id: int, live: bool) -> str:
        """The replication channel with the bound port of a ``:0`` endpoint, the session id and,
        for a live merge, ``linger=0|eos=false``."""
        from aeronpy.archive.channels import resolved_endpoint

        uri = ChannelUri.parse(self.replication_channel)
        if endpoint is not None and endpoint.endswith(":0"):
            rs = self._subscription
            assert rs is not None and rs.subscription is not None
            sub = rs.subscription
            reader = self.conductor.aeron.counters_reader
            self._arm()
            while True:
                bound = resolved_endpoint(reader, sub.channel_status_id)
                if bound is not None:
                    break
                self._wait(f"the replication subscription to bind {endpoint}")
            uri = uri.with_param("endpoint", endpoint[:-1] + bound.rsplit(":", 1)[1])
        if live:
            uri = uri.with_param("linger", "0").with_param("eos", "false")
        return str(uri.with_param("session-id", str(session_id)))

    def _await_image(self) -> Any:
        sid = self._replay_session_id & 0xFFFFFFFF
        sid = sid - (1 << 32) if sid & 0x80000000 else sid
        rs = self._subscription
        assert rs is not None and rs.subscription is not None
        self._arm()
        while True:
            image = rs.subscription.image_by_session_id(sid)
            if image is not None:
                return image
            if self.recording_closed.is_set():
                raise ArchiveError("replication recording closed before the replay arrived", ErrorCode.GENERIC)
            self._wait(f"the replay image sessionId={sid} on channel={rs.subscription.channel}")

    def _merge(self, image: Any, src_position: int) -> None:
        """CATCHUP then ATTEMPT_LIVE_JOIN, as ReplayMerge; on success the recording goes on."""
        window = min(int(image.term_buffer_length) >> 2, LIVE_ADD_MAX_WINDOW)
        live_added = False
        while True:
            if self.aborted.is_set():
                return
            if image.is_closed or self.recording_closed.is_set():
                raise ArchiveError("replication image closed unexpectedly", ErrorCode.GENERIC)
            if int(image.position) < src_position:  # CATCHUP
                time.sleep(_POLL_S)
                continue
            src_position = self._src.get_recording_position(self.src_recording_id)  # ATTEMPT_LIVE_JOIN
            if src_position == -1:
                raise ArchiveError("cannot live merge without active source recording", ErrorCode.GENERIC)
            position = int(image.position)
            if not live_added and src_position - position <= window:
                self._destination(True, self.live_destination)
                live_added = True
            elif live_added and src_position - position <= REPLAY_REMOVE_THRESHOLD and \
                    int(image.active_transport_count) >= 2:
                assert self._replay_destination is not None
                self._destination(False, self._replay_destination)
                self._replay_destination = None
                self.merged = True
                self._signal(self.dst_recording_id, -1, position, RecordingSignal.MERGE)
                return
            else:
                time.sleep(_POLL_S)

    def _stop_recording_and_wait(self) -> None:
        rs = self._subscription
        if rs is not None and not rs.stopped:
            self._call(lambda: self.conductor.stop_recording_subscription(rs) if not rs.stopped else None)
        deadline = time.monotonic() + self.conductor.ctx.message_timeout_ns / 1e9
        while not self.recording_closed.is_set() and not self.aborted.is_set() and time.monotonic() < deadline:
            time.sleep(_POLL_S)  # the recording's STOP comes before REPLICATE_END

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
        merged = self.merged

        def finish() -> None:
            if rs is not None and not rs.stopped and not merged:
                self.conductor.stop_recording_subscription(rs)
            self.session.signal(self.replication_id, dst, -1, -1, RecordingSignal.REPLICATE_END)
            self.conductor.replications.pop(self.replication_id, None)
            self.done = True

        self.requests.put(finish)


class _Aborted(Exception):
    """StopReplication (or archive close) while waiting."""
