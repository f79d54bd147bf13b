"""Client conductor: sends commands to the driver, serves its responses, keeps the client alive.

All state changes happen under one re-entrant lock.  User threads doing a blocking ``add_*``
service the broadcast buffer themselves while they wait (as Aeron's Java client does); the
conductor agent (a thread, or ``AgentInvoker`` in invoker mode) only ``try``-locks, so it never
blocks a user thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from aeronpy.cnc import CncFile
from aeronpy.concurrent import counters as ctr
from aeronpy.concurrent.agent import AgentBase
from aeronpy.concurrent.atomic_buffer import AtomicBuffer
from aeronpy.concurrent.broadcast import BroadcastReceiver, CopyBroadcastReceiver
from aeronpy.concurrent.counters import AtomicCounter, CountersReader
from aeronpy.concurrent.ringbuffer import ManyToOneRingBuffer
from aeronpy.client.context import Context
from aeronpy.client.counter import Counter
from aeronpy.client.image import Image
from aeronpy.client.publication import ExclusivePublication, Publication
from aeronpy.client.subscription import Subscription
from aeronpy.errors import (
    AeronError,
    ClientClosedError,
    ClientTimeoutError,
    DriverTimeoutError,
    InvalidArgumentError,
    InvalidChannelError,
    RegistrationError,
)
from aeronpy.logbuffer.log_buffers import LogBuffers
from aeronpy.protocol import control as cp
from aeronpy.version import COMMIT, __version__

_log = logging.getLogger("aeronpy.client")

KEEPALIVE_INTERVAL_NS = 500_000_000
MAX_CHANNEL_LENGTH = 4095
"""Longest channel URI in UTF-8 bytes (Aeron's AERON_URI_MAX_LENGTH less the NUL)."""
_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1


def check_stream_id(stream_id: object, name: str = "stream_id") -> int:
    """Return ``stream_id`` if it is an int32, else raise :class:`InvalidArgumentError`."""
    if not isinstance(stream_id, int) or isinstance(stream_id, bool):
        raise InvalidArgumentError(f"{name}={stream_id!r}: must be an int")
    if not _INT32_MIN <= stream_id <= _INT32_MAX:
        raise InvalidArgumentError(f"{name}={stream_id}: out of range [{_INT32_MIN}, {_INT32_MAX}]")
    return stream_id


def check_channel(channel: object) -> str:
    """Return ``channel`` if it is a string of at most 4095 UTF-8 bytes, else raise
    :class:`InvalidChannelError` (a ValueError) naming the argument."""
    if not isinstance(channel, str):
        raise InvalidChannelError(f"channel={channel!r}: must be a str")
    try:
        length = len(channel.encode("utf-8"))
    except UnicodeEncodeError as ex:
        raise InvalidChannelError(f"channel: not encodable as UTF-8: {ex}") from None
    if length > MAX_CHANNEL_LENGTH:
        raise InvalidChannelError(
            f"channel: length {length} bytes exceeds the max of {MAX_CHANNEL_LENGTH}: {channel[:60]}..."
        )
    return channel


@dataclass
class _Pending:
    kind: str
    channel: str = ""
    stream_id: int = 0
    available_image_handler: Callable[[Image], None] | None = None
    unavailable_image_handler: Callable[[Image], None] | None = None
    resource: Any = None
    error: BaseException | None = None
    done: bool = False


class ClientConductor(AgentBase):
    """Client side of the control protocol (one per :class:`aeronpy.Aeron`)."""

    def __init__(self, ctx: Context, cnc: CncFile) -> None:
        self.ctx = ctx
        self.cnc = cnc
        self.lock = threading.RLock()
        self.to_driver = ManyToOneRingBuffer(cnc.to_driver_buffer)
        self.to_clients = CopyBroadcastReceiver(BroadcastReceiver(cnc.to_clients_buffer))
        self.counters_reader = CountersReader(cnc.counters_metadata_buffer, cnc.counters_values_buffer)
        self.client_id = self.to_driver.next_correlation_id()
        self.driver_timeout_ms = ctx.driver_timeout_ms
        self.inter_service_timeout_ns = cnc.client_liveness_timeout_ns
        self.keepalive_interval_ns = getattr(ctx, "keepalive_interval_ns", KEEPALIVE_INTERVAL_NS)
        self.nano_clock = ctx.nano_clock
        self.epoch_clock = ctx.epoch_clock
        now = self.nano_clock()
        self.time_of_last_keepalive_ns = now
        self.time_of_last_service_ns = now
        self.heartbeat_counter_id = ctr.NULL_COUNTER_ID
        self._heartbeat: AtomicCounter | None = None
        self._label_appended = False
        self.pending: dict[int, _Pending] = {}
        self.publications: dict[int, Publication] = {}
        self.subscriptions: dict[int, Subscription] = {}
        self.counters: dict[int, Counter] = {}
        self._log_buffers: dict[str, list[Any]] = {}  # path -> [LogBuffers, refcount]
        self._lingering: list[tuple[int, LogBuffers]] = []
        self.is_closed = False
        self.termination_cause: BaseException | None = None
        self._handlers: dict[int, Callable[[AtomicBuffer, int, int], None]] = {
            cp.ON_ERROR: self._on_error,
            cp.ON_PUBLICATION_READY: self._on_publication_ready,
            cp.ON_EXCLUSIVE_PUBLICATION_READY: self._on_publication_ready,
            cp.ON_SUBSCRIPTION_READY: self._on_subscription_ready,
            cp.ON_AVAILABLE_IMAGE: self._on_available_image,
            cp.ON_UNAVAILABLE_IMAGE: self._on_unavailable_image,
            cp.ON_OPERATION_SUCCESS: self._on_operation_success,
            cp.ON_COUNTER_READY: self._on_counter_ready,
            cp.ON_UNAVAILABLE_COUNTER: self._on_unavailable_counter,
            cp.ON_CLIENT_TIMEOUT: self._on_client_timeout,
            cp.ON_STATIC_COUNTER: self._on_static_counter,
            cp.ON_NEXT_AVAILABLE_SESSION_ID: self._on_next_session_id,
            cp.ON_PUBLICATION_ERROR: self._on_publication_error,
        }

    # ------------------------------------------------------------------ agent
    def role_name(self) -> str:
        return "aeron-client-conductor"

    def do_work(self) -> int:
        if not self.lock.acquire(blocking=False):
            return 0
        try:
            if self.is_closed:
                return 0
            return self.service()
        finally:
            self.lock.release()

    def service(self) -> int:
        """One duty cycle: driver responses, keepalive and liveness checks, lingering buffers."""
        now_ns = self.nano_clock()
        if now_ns > self.time_of_last_service_ns + self.inter_service_timeout_ns:
            self.terminate(
                ClientTimeoutError(
                    f"service interval exceeded: {(now_ns - self.time_of_last_service_ns) // 1_000_000}ms "
                    f"> client liveness timeout {self.inter_service_timeout_ns // 1_000_000}ms"
                )
            )
            return 0
        self.time_of_last_service_ns = now_ns
        try:
            work = self.to_clients.receive(self._on_response)
        except AeronError as ex:
            self._report(ex)
            work = 0
        if self.is_closed:
            return work
        if now_ns - self.time_of_last_keepalive_ns >= self.keepalive_interval_ns:
            self.time_of_last_keepalive_ns = now_ns
            work += self._keepalive()
        if self._lingering:
            keep = []
            for deadline, log in self._lingering:
                if now_ns >= deadline:
                    log.close()
                else:
                    keep.append((deadline, log))
            self._lingering = keep
        return work

    def _keepalive(self) -> int:
        now_ms = self.epoch_clock()
        heartbeat_ms = self.cnc.to_driver_heartbeat_ms()
        if heartbeat_ms == -1:
            self.terminate(DriverTimeoutError("MediaDriver has been shutdown"))
            return 0
        if now_ms > heartbeat_ms + self.driver_timeout_ms:
            self.terminate(
                DriverTimeoutError(
                    f"MediaDriver keepalive: age={now_ms - heartbeat_ms}ms > timeout={self.driver_timeout_ms}ms"
                )
            )
            return 0
        if self._heartbeat is None:
            counter_id = self._find_heartbeat_counter()
            if counter_id == ctr.NULL_COUNTER_ID:
                return 0
            self._use_heartbeat_counter(counter_id)
        reader = self.counters_reader
        counter_id = self.heartbeat_counter_id
        if (
            reader.get_counter_state(counter_id) != ctr.RECORD_ALLOCATED
            or reader.get_counter_type_id(counter_id) != ctr.CLIENT_HEARTBEAT_TYPE_ID
            or reader.get_counter_registration_id(counter_id) != self.client_id
        ):
            self.terminate(ClientTimeoutError("unexpected close of heartbeat timestamp counter"))
            return 0
        assert self._heartbeat is not None
        self._heartbeat.set(now_ms)
        return 1

    def _find_heartbeat_counter(self) -> int:
        if self.heartbeat_counter_id != ctr.NULL_COUNTER_ID:
            return self.heartbeat_counter_id
        return int(
            self.counters_reader.find_by_type_id_and_registration_id(
                ctr.CLIENT_HEARTBEAT_TYPE_ID, self.client_id
            )
        )

    def _use_heartbeat_counter(self, counter_id: int) -> None:
        self.heartbeat_counter_id = counter_id
        self._heartbeat = AtomicCounter(self.cnc.counters_values_buffer, counter_id)
        if not self._label_appended:
            self._label_appended = True
            self._append_heartbeat_label(counter_id)

    def _append_heartbeat_label(self, counter_id: int) -> None:
        """Append ``name=.. version=.. commit=..`` to our heartbeat counter label (as Aeron clients do)."""
        reader = self.counters_reader
        label = reader.get_counter_label(counter_id)
        suffix = f" name={self.ctx.client_name} version={__version__} commit={COMMIT}"
        new_label = (label + suffix)[: ctr.MAX_LABEL_LENGTH].encode("ascii", "replace")
        meta = reader.metadata_buffer
        base = reader.metadata_offset(counter_id)
        meta.put_bytes(base + ctr.LABEL_OFFSET, new_label)
        meta.put_int32_ordered(base + ctr.LABEL_LENGTH_OFFSET, len(new_label))

    # ------------------------------------------------------------------ termination
    def terminate(self, cause: BaseException) -> None:
        """Lost the driver (or timed out): close every resource and report ``cause``."""
        if self.is_closed:
            return
        self.termination_cause = cause
        # Mark everything closed but keep the logs mapped: user threads may be mid-offer or
        # mid-poll; the mappings go when the application calls close().
        self._close_all_resources(unmap=False)
        self.is_closed = True
        self._report(cause)

    def _report(self, ex: BaseException) -> None:
        handler = self.ctx.error_handler
        if handler is not None:
            try:
                handler(ex)
                return
            except Exception:
                pass
        _log.error("aeronpy client %d: %s", self.client_id, ex, exc_info=ex if ex.__traceback__ is not None else None)

    def close(self) -> None:
        """Application close: tell the driver, then release everything."""
        with self.lock:
            if self.is_closed:
                self._unmap_all()  # after a termination the logs were kept mapped until now
                return
            try:
                self.to_driver.write(
                    cp.CLIENT_CLOSE, cp.CorrelatedMessage(client_id=self.client_id, correlation_id=-1).encode()
                )
            except Exception:
                pass
            self._close_all_resources()
            self.is_closed = True

    def _close_all_resources(self, unmap: bool = True) -> None:
        for publication in list(self.publications.values()):
            publication._internal_close()
        self.publications.clear()
        for subscription in list(self.subscriptions.values()):
            for image in subscription._internal_close():
                self._notify_unavailable(subscription, image)
        self.subscriptions.clear()
        for counter in list(self.counters.values()):
            counter._internal_close()
        self.counters.clear()
        if unmap:
            self._unmap_all()

    def _unmap_all(self) -> None:
        for entry in self._log_buffers.values():
            entry[0].close()
        self._log_buffers.clear()
        for _, log in self._lingering:
            log.close()
        self._lingering.clear()

    # ------------------------------------------------------------------ commands
    def _check_open(self) -> None:
        if self.is_closed:
            cause = self.termination_cause
            if cause is not None:
                raise ClientClosedError(f"client is closed: {cause}") from cause
            raise ClientClosedError("client is closed")

    def _send(self, msg_type_id: int, payload: bytes) -> None:
        if not self.to_driver.write(msg_type_id, payload):
            raise DriverTimeoutError(
                "could not write to the MediaDriver's command buffer (full): is the driver running?"
            )

    def _register(self, kind: str, msg_type_id: int, build: Callable[[int], bytes], **fields: Any) -> int:
        with self.lock:
            self._check_open()
            correlation_id = self.to_driver.next_correlation_id()
            self.pending[correlation_id] = _Pending(kind, **fields)
            try:
                self._send(msg_type_id, build(correlation_id))
            except BaseException:
                del self.pending[correlation_id]
                raise
            return correlation_id

    def async_add_publication(self, channel: str, stream_id: int, exclusive: bool = False) -> int:
        check_channel(channel)
        check_stream_id(stream_id)
        kind = "exclusive_publication" if exclusive else "publication"
        msg_type = cp.ADD_EXCLUSIVE_PUBLICATION if exclusive else cp.ADD_PUBLICATION
        return self._register(
            kind,
            msg_type,
            lambda corr: cp.PublicationMessage(
                client_id=self.client_id, correlation_id=corr, stream_id=stream_id, channel=channel
            ).encode(),
            channel=channel,
            stream_id=stream_id,
        )

    def async_add_subscription(
        self,
        channel: str,
        stream_id: int,
        available_image_handler: Callable[[Image], None] | None = None,
        unavailable_image_handler: Callable[[Image], None] | None = None,
    ) -> int:
        check_channel(channel)
        check_stream_id(stream_id)
        return self._register(
            "subscription",
            cp.ADD_SUBSCRIPTION,
            lambda corr: cp.SubscriptionMessage(
                client_id=self.client_id,
                correlation_id=corr,
                registration_correlation_id=-1,
                stream_id=stream_id,
                channel=channel,
            ).encode(),
            channel=channel,
            stream_id=stream_id,
            available_image_handler=available_image_handler,
            unavailable_image_handler=unavailable_image_handler,
        )

    def async_add_counter(self, type_id: int, label: str, key: bytes = b"") -> int:
        check_stream_id(type_id, "type_id")
        if not isinstance(label, str):
            raise InvalidArgumentError(f"label={label!r}: must be a str")
        if not isinstance(key, (bytes, bytearray, memoryview)):
            raise InvalidArgumentError(f"key={key!r}: must be bytes")
        if len(key) > ctr.MAX_KEY_LENGTH:
            raise InvalidArgumentError(f"key: {len(key)} bytes exceeds the max of {ctr.MAX_KEY_LENGTH}")
        key = bytes(key)
        return self._register(
            "counter",
            cp.ADD_COUNTER,
            lambda corr: cp.CounterMessage(
                client_id=self.client_id, correlation_id=corr, type_id=type_id, key=key, label=label
            ).encode(),
        )

    def async_next_session_id(self, stream_id: int) -> int:
        check_stream_id(stream_id)
        return self._register(
            "session_id",
            cp.GET_NEXT_AVAILABLE_SESSION_ID,
            lambda corr: cp.GetNextAvailableSessionIdMessage(
                client_id=self.client_id, correlation_id=corr, stream_id=stream_id
            ).encode(),
        )

    # ------------------------------------------------------------------ destinations (MDC / MDS)
    def async_destination_command(self, msg_type_id: int, registration_id: int, channel: str) -> int:
        """ADD/REMOVE_DESTINATION (publication) or ADD/REMOVE_RCV_DESTINATION (subscription);
        returns the command's correlation id (also the destination registration id of an add)."""
        check_channel(channel)
        return self._register(
            "destination",
            msg_type_id,
            lambda corr: cp.DestinationMessage(
                client_id=self.client_id, correlation_id=corr, registration_id=registration_id, channel=channel
            ).encode(),
            channel=channel,
        )

    def async_remove_destination_by_id(self, publication_registration_id: int, destination_registration_id: int) -> int:
        return self._register(
            "destination",
            cp.REMOVE_DESTINATION_BY_ID,
            lambda corr: cp.DestinationByIdMessage(
                client_id=self.client_id,
                correlation_id=corr,
                resource_registration_id=publication_registration_id,
                destination_registration_id=destination_registration_id,
            ).encode(),
        )

    def reject_image(self, image_correlation_id: int, position: int, reason: str) -> None:
        """REJECT_IMAGE; blocks until ON_OPERATION_SUCCESS (raises RegistrationError on ON_ERROR)."""
        correlation_id = self._register(
            "reject_image",
            cp.REJECT_IMAGE,
            lambda corr: cp.RejectImageMessage(
                client_id=self.client_id,
                correlation_id=corr,
                image_correlation_id=image_correlation_id,
                position=position,
                reason=reason,
            ).encode(),
        )
        self.await_registration(correlation_id)

    def is_command_active(self, correlation_id: int) -> bool:
        """Async commands: True while the driver has not answered; raises the driver's error
        (once) if it failed; False once it succeeded (or is unknown)."""
        with self.lock:
            if correlation_id not in self.pending:
                return False
        return self.poll_registration(correlation_id) is None

    def poll_registration(self, correlation_id: int) -> Any:
        """Async form: None while pending; the resource when ready; raises the driver's error."""
        with self.lock:
            self._check_open()
            pending = self.pending.get(correlation_id)
            if pending is None:
                raise AeronError(f"unknown registration id {correlation_id}")
            if not pending.done and pending.error is None:
                self.service()
                self._check_open()
            if pending.error is not None:
                del self.pending[correlation_id]
                raise pending.error
            if pending.done:
                del self.pending[correlation_id]
                return pending.resource
            return None

    def await_registration(self, correlation_id: int) -> Any:
        """Block (servicing responses) until the driver answers or driver.timeout expires."""
        deadline_ns = self.nano_clock() + self.driver_timeout_ms * 1_000_000
        spins = 0
        while True:
            result = self.poll_registration(correlation_id)
            if result is not None:
                return result
            if self.nano_clock() > deadline_ns:
                with self.lock:
                    self.pending.pop(correlation_id, None)
                raise DriverTimeoutError(
                    f"no response from MediaDriver within {self.driver_timeout_ms}ms "
                    f"(correlation id {correlation_id})"
                )
            spins += 1
            if spins < 50:
                os.sched_yield()
            else:
                time.sleep(0.0005)

    def release_publication(self, publication: Publication, revoke: bool = False) -> None:
        """REMOVE_PUBLICATION; with ``revoke`` the REVOKE flag (0x1) is set (Publication.revoke())."""
        with self.lock:
            if publication.is_closed or self.is_closed:
                publication._internal_close()
                return
            publication._internal_close()
            self.publications.pop(publication.registration_id, None)
            self._release_log_buffers(publication.log_buffers.path)
            flags = cp.REMOVE_PUBLICATION_FLAG_REVOKE if revoke else 0
            correlation_id = self._register(
                "remove",
                cp.REMOVE_PUBLICATION,
                lambda corr: cp.RemovePublicationMessage(
                    client_id=self.client_id, correlation_id=corr,
                    registration_id=publication.registration_id, flags=flags,
                ).encode(),
            )
            self.await_registration(correlation_id)

    def release_subscription(self, subscription: Subscription) -> None:
        with self.lock:
            if subscription.is_closed or self.is_closed:
                subscription._internal_close()
                return
            for image in subscription._internal_close():
                self._notify_unavailable(subscription, image)
            self.subscriptions.pop(subscription.registration_id, None)
            self._remove(cp.REMOVE_SUBSCRIPTION, cp.RemoveMessage, subscription.registration_id)

    def release_counter(self, counter: Counter) -> None:
        with self.lock:
            if counter.is_closed or self.is_closed:
                counter._internal_close()
                return
            counter._internal_close()
            self.counters.pop(counter.registration_id, None)
            self._remove(cp.REMOVE_COUNTER, cp.RemoveMessage, counter.registration_id)

    def _remove(self, msg_type_id: int, message: Any, registration_id: int) -> None:
        correlation_id = self._register(
            "remove",
            msg_type_id,
            lambda corr: message(
                client_id=self.client_id, correlation_id=corr, registration_id=registration_id
            ).encode(),
        )
        self.await_registration(correlation_id)

    # ------------------------------------------------------------------ log buffers
    def _map_log_buffers(self, path: str) -> LogBuffers:
        entry = self._log_buffers.get(path)
        if entry is None:
            entry = [LogBuffers.map(path), 0]
            self._log_buffers[path] = entry
        entry[1] += 1
        return entry[0]  # type: ignore[no-any-return]

    def _release_log_buffers(self, path: str) -> None:
        entry = self._log_buffers.get(path)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            del self._log_buffers[path]
            self._lingering.append((self.nano_clock() + self.ctx.resource_linger_duration_ns, entry[0]))

    # ------------------------------------------------------------------ responses
    def _on_response(self, msg_type_id: int, buffer: AtomicBuffer, offset: int, length: int) -> None:
        handler = self._handlers.get(msg_type_id)
        if handler is not None:
            handler(buffer, offset, length)

    def _on_error(self, buffer: AtomicBuffer, offset: int, length: int) -> None:
        msg = cp.ErrorResponse.decode(buffer, offset, length)
        pending = self.pending.get(msg.offending_command_correlation_id)
        if pending is not None:
            pending.error = RegistrationError(
                msg.offending_command_correlation_id, int(msg.error_code), msg.error_message
            )

    def _on_publication_ready(self, buffer: AtomicBuffer, offset: int, length: int) -> None:
        msg = cp.PublicationBuffersReady.decode(buffer, offset, length)
        pending = self.pending.get(msg.correlation_id)
        if pending is None or pending.kind not in ("publication", "exclusive_publication"):
            return
        try:
            log_buffers = self._map_log_buffers(msg.log_file_name)
        except (OSError, AeronError) as ex:  # the log vanished before we mapped it
            pending.error = AeronError(f"cannot map publication log {msg.log_file_name}: {ex}")
            return
        limit = AtomicCounter(self.cnc.counters_values_buffer, msg.position_limit_counter_id)
        cls = ExclusivePublication if pending.kind == "exclusive_publication" else Publication
        publication = cls(
            self,
            log_buffers,
            pending.channel,
            msg.stream_id,
            msg.session_id,
            limit,
            msg.channel_status_indicator_id,
            msg.correlation_id,
            msg.registration_id,
        )
        self.publications[msg.correlation_id] = publication
        pending.resource = publication
        pending.done = True

    def _on_subscription_ready(self, buffer: AtomicBuffer, offset: int, length: int) -> None:
        msg = cp.SubscriptionReady.decode(buffer, offset, length)
        pending = self.pending.get(msg.correlation_id)
        if pending is None or pending.kind != "subscription":
            return
        subscription = Subscription(
            self,
            pending.channel,
            pending.stream_id,
            msg.correlation_id,
            msg.channel_status_indicator_id,
            pending.available_image_handler,
            pending.unavailable_image_handler,
        )
        self.subscriptions[msg.correlation_id] = subscription
        pending.resource = subscription
        pending.done = True

    def _on_available_image(self, buffer: AtomicBuffer, offset: int, length: int) -> None:
        msg = cp.ImageBuffersReady.decode(buffer, offset, length)
        subscription = self.subscriptions.get(msg.subscription_registration_id)
        if subscription is None:
            return
        if any(i.correlation_id == msg.correlation_id for i in subscription.images):
            return
        try:
            log_buffers = self._map_log_buffers(msg.log_file_name)
        except (OSError, AeronError) as ex:  # the image went away before we mapped it
            self._report(AeronError(f"cannot map image log {msg.log_file_name}: {ex}"))
            return
        position = AtomicCounter(self.cnc.counters_values_buffer, msg.subscriber_position_id)
        image = Image(
            subscription,
            log_buffers,
            position,
            msg.correlation_id,
            msg.session_id,
            msg.source_identity,
            position.get(),
            msg.subscriber_position_id,
        )
        subscription._add_image(image)
        handler = subscription_handler(subscription, "available") or self.ctx.available_image_handler
        if handler is not None:
            self._call_handler(handler, image)

    def _on_unavailable_image(self, buffer: AtomicBuffer, offset: int, length: int) -> None:
        msg = cp.ImageMessage.decode(buffer, offset, length)
        subscription = self.subscriptions.get(msg.subscription_registration_id)
        if subscription is None:
            return
        image = subscription._remove_image(msg.correlation_id)
        if image is not None:
            image.close()
            self._notify_unavailable(subscription, image)

    def _notify_unavailable(self, subscription: Subscription, image: Image) -> None:
        self._release_log_buffers(image.log_buffers.path)
        handler = subscription_handler(subscription, "unavailable") or self.ctx.unavailable_image_handler
        if handler is not None:
            self._call_handler(handler, image)

    def _call_handler(self, handler: Callable[[Image], None], image: Image) -> None:
        try:
            handler(image)
        except Exception as ex:  # a user's handler must not break the conductor
            self._report(ex)

    def _on_operation_success(self, buffer: AtomicBuffer, offset: int, length: int) -> None:
        msg = cp.OperationSucceeded.decode(buffer, offset, length)
        pending = self.pending.get(msg.correlation_id)
        if pending is not None:
            pending.resource = True
            pending.done = True

    def _on_counter_ready(self, buffer: AtomicBuffer, offset: int, length: int) -> None:
        msg = cp.CounterUpdate.decode(buffer, offset, length)
        if msg.correlation_id == self.client_id:
            if self._heartbeat is None:
                self._use_heartbeat_counter(msg.counter_id)
            return
        pending = self.pending.get(msg.correlation_id)
        if pending is None or pending.kind != "counter":
            return
        counter = Counter(self, self.cnc.counters_values_buffer, msg.correlation_id, msg.counter_id)
        self.counters[msg.correlation_id] = counter
        pending.resource = counter
        pending.done = True

    def _on_unavailable_counter(self, buffer: AtomicBuffer, offset: int, length: int) -> None:
        msg = cp.CounterUpdate.decode(buffer, offset, length)
        counter = self.counters.pop(msg.correlation_id, None)
        if counter is not None:
            counter._internal_close()

    def _on_client_timeout(self, buffer: AtomicBuffer, offset: int, length: int) -> None:
        msg = cp.ClientTimeout.decode(buffer, offset, length)
        if msg.client_id == self.client_id:
            self.terminate(ClientTimeoutError(f"client timed out by MediaDriver: client_id={self.client_id}"))

    def _on_static_counter(self, buffer: AtomicBuffer, offset: int, length: int) -> None:
        msg = cp.CounterUpdate.decode(buffer, offset, length)
        pending = self.pending.get(msg.correlation_id)
        if pending is not None:
            pending.resource = msg.counter_id
            pending.done = True

    def _on_next_session_id(self, buffer: AtomicBuffer, offset: int, length: int) -> None:
        msg = cp.NextAvailableSessionId.decode(buffer, offset, length)
        pending = self.pending.get(msg.correlation_id)
        if pending is not None:
            pending.resource = msg.next_session_id
            pending.done = True


    def _on_publication_error(self, buffer: AtomicBuffer, offset: int, length: int) -> None:
        handler = self.ctx.publication_error_frame_handler
        if handler is None:
            return
        msg = cp.PublicationErrorFrame.decode(buffer, offset, length)
        if not any(p.original_registration_id == msg.registration_id for p in self.publications.values()):
            return
        try:
            handler(msg)
        except Exception as ex:  # a user's handler must not break the conductor
            self._report(ex)


def subscription_handler(subscription: Subscription, which: str) -> Callable[[Image], None] | None:
    """The subscription's own available/unavailable image handler, if it has one."""
    attr = f"{which}_image_handler"
    handler = getattr(subscription, attr, None) or getattr(subscription, f"_{attr}", None)
    return handler
