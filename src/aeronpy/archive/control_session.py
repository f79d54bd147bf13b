"""A control session (archive.md §1.4): connect, authenticate, then serve requests, with
responses on an exclusive publication per session, pings, and send-failure deadlines."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from enum import Enum
from typing import Any, Callable, Protocol

from aeronpy.protocol import sbe
from aeronpy.archive.auth import Authenticator
from aeronpy.archive.codecs import ControlResponseCode, RecordingSignal, T
from aeronpy.archive.context import ArchiveContext
from aeronpy.archive.counters import set_reference_id
from aeronpy.archive.errors import ErrorCode
from aeronpy.client import results


class SessionHost(Protocol):
    """What a control session uses of the archive conductor that owns it."""

    ctx: ArchiveContext
    aeron: Any
    authenticator: Authenticator
    nano_clock: Callable[[], int]

__all__ = ["ControlSession", "SessionState", "PROTOCOL_VERSION"]

PROTOCOL_VERSION = (1 << 16) | (12 << 8) | 0  # 1.12.0
RESEND_INTERVAL_NS = 200_000_000
SEND_ATTEMPTS = 3
LISTING_BATCH = 64


class SessionState(Enum):
    INIT = "INIT"
    CONNECTING = "CONNECTING"
    CONNECTED = "CONNECTED"
    CHALLENGED = "CHALLENGED"
    AUTHENTICATED = "AUTHENTICATED"
    ACTIVE = "ACTIVE"
    REJECTED = "REJECTED"
    INVALID_VERSION = "INVALID_VERSION"
    DONE = "DONE"


class ControlSession:
    """Server side of one client connection; also the authenticator's session proxy."""

    def __init__(
        self,
        conductor: SessionHost,
        control_session_id: int,
        correlation_id: int,
        image_id: int,
        publication_registration_id: int,
        client_version: int,
        client_info: str,
        now_ns: int,
    ) -> None:
        self.conductor = conductor
        self.control_session_id = control_session_id
        self.correlation_id = correlation_id
        self.image_id = image_id
        self.publication_registration_id = publication_registration_id
        self.publication: Any = None
        self.client_version = client_version
        self.client_info = client_info
        self.state = SessionState.INIT
        self.activity_deadline_ns = now_ns + conductor.ctx.connect_timeout_ns
        self.resend_deadline_ns = 0
        self.ping_deadline_ns = 0
        self.abort_reason: str | None = None
        self.queue: deque[bytes] = deque()
        self.listing: Iterator[bytes] | None = None
        self.encoded_principal = b""
        self.invalid_version = (client_version >> 16) & 0xFF != 1
        self.counter_registration_id = -1
        self.counter: Any = None
        self._send_failing = False

    # -- session proxy (for authenticators) ------------------------------------------------

    def session_id(self) -> int:
        return self.control_session_id

    def challenge(self, encoded_challenge: bytes) -> bool:
        msg = sbe.encode(T.Challenge, control_session_id=self.control_session_id,
                         correlation_id=self.correlation_id, encoded_challenge=encoded_challenge)
        if self._offer(msg):
            self.state = SessionState.CHALLENGED
            return True
        return False

    def authenticate(self, encoded_principal: bytes) -> bool:
        self.encoded_principal = bytes(encoded_principal)
        self.state = SessionState.AUTHENTICATED
        self.resend_deadline_ns = 0
        return True

    def reject(self) -> None:
        self.state = SessionState.REJECTED

    # -- lifecycle -------------------------------------------------------------------------

    def abort(self, reason: str) -> None:
        if self.abort_reason is None:
            self.abort_reason = reason
        self.state = SessionState.DONE

    @property
    def is_done(self) -> bool:
        return self.state is SessionState.DONE

    def activate(self) -> bool:
        """A request arrived: AUTHENTICATED becomes ACTIVE; True if the session may serve it."""
        if self.state is SessionState.AUTHENTICATED:
            self.state = SessionState.ACTIVE
        return self.state is SessionState.ACTIVE

    def do_work(self, now_ns: int, now_ms: int) -> int:
        s = self.state
        if s is SessionState.DONE:
            return 0
        if s is SessionState.INIT:
            return self._await_publication(now_ns)
        if s is SessionState.CONNECTING:
            if self.publication.is_connected:
                self.state = SessionState.CONNECTED
                self.resend_deadline_ns = 0
            elif now_ns > self.activity_deadline_ns:
                self.abort("failed to establish initial connection: state=CONNECTING")
            return 1
        if s is SessionState.ACTIVE:
            return self._active(now_ns)
        if not self.publication.is_connected:
            self.abort("control response publication is not connected")
            return 1
        auth = self.conductor.authenticator
        if s is SessionState.CONNECTED and self.invalid_version:
            self.state = SessionState.INVALID_VERSION
        elif s is SessionState.CONNECTED:
            if now_ns >= self.resend_deadline_ns:
                self.resend_deadline_ns = now_ns + RESEND_INTERVAL_NS
                auth.on_connected_session(self, now_ms)
        elif s is SessionState.CHALLENGED:
            auth.on_challenged_session(self, now_ms)
        elif s is SessionState.AUTHENTICATED:
            if now_ns >= self.resend_deadline_ns:
                self.resend_deadline_ns = now_ns + RESEND_INTERVAL_NS
                self._offer(self._response(self.correlation_id, self.control_session_id, ControlResponseCode.OK, ""))
            return 1
        elif s is SessionState.REJECTED or s is SessionState.INVALID_VERSION:
            if now_ns >= self.resend_deadline_ns:
                self.resend_deadline_ns = now_ns + RESEND_INTERVAL_NS
                if s is SessionState.REJECTED:
                    msg = self._response(self.correlation_id, ErrorCode.AUTHENTICATION_REJECTED,
                                         ControlResponseCode.ERROR, "authentication rejected")
                else:
                    msg = self._response(
                        self.correlation_id, self.control_session_id, ControlResponseCode.ERROR,
                        f"invalid client version {_semver(self.client_version)}, archive is {_semver(PROTOCOL_VERSION)}",
                    )
                self._offer(msg)
        if self.state not in (SessionState.AUTHENTICATED, SessionState.ACTIVE) and now_ns > self.activity_deadline_ns:
            self.abort(f"failed to establish initial connection: state={self.state.value}")
        return 1

    def _await_publication(self, now_ns: int) -> int:
        if self.publication is None:
            try:
                self.publication = self.conductor.aeron.get_exclusive_publication(self.publication_registration_id)
            except Exception as e:
                self.abort(f"failed to create control response publication: {e}")
                return 1
        if self.counter_registration_id >= 0 and self.counter is None:
            try:
                self.counter = self.conductor.aeron.conductor.poll_registration(self.counter_registration_id)
            except Exception:
                self.counter_registration_id = -1  # no counter: the session works without it
            if self.counter is not None:
                self.counter.set(self.control_session_id)
        if self.publication is None or (self.counter_registration_id >= 0 and self.counter is None):
            if now_ns > self.activity_deadline_ns:
                self.abort("failed to establish initial connection: state=INIT")
            return 0
        if self.counter is not None:
            set_reference_id(self.counter, int(self.publication.registration_id))
        self.state = SessionState.CONNECTING
        return 1

    def _active(self, now_ns: int) -> int:
        work = 0
        if not self.publication.is_connected:
            self.abort("control response publication is not connected")
            return 1
        if now_ns >= self.ping_deadline_ns:
            self.ping_deadline_ns = now_ns + self.conductor.ctx.session_liveness_check_interval_ns
            self.send(sbe.encode(T.Ping, control_session_id=self.control_session_id), critical=False)
            work += 1
        work += self._drain(now_ns)
        if self.listing is not None and not self.queue:
            for _ in range(LISTING_BATCH):
                msg = next(self.listing, None)
                if msg is None:
                    self.listing = None
                    break
                self.send(msg)
                work += 1
                if self.queue:
                    break
        if self._send_failing and now_ns > self.activity_deadline_ns:
            self.abort(f"failed to send response for more than connectTimeoutMs={self.conductor.ctx.connect_timeout_ns // 1_000_000}")
        return work

    # -- sending ---------------------------------------------------------------------------

    def _offer(self, msg: bytes) -> bool:
        pub = self.publication
        if pub is None:
            return False
        for _ in range(SEND_ATTEMPTS):
            result = pub.offer(msg)
            if result > 0:
                return True
            if result in (results.NOT_CONNECTED, results.CLOSED, results.MAX_POSITION_EXCEEDED):
                return False
        return False

    def send(self, msg: bytes, critical: bool = True) -> None:
        """Send now or queue (keeping order); a failure arms the send deadline."""
        if not self.queue and self._offer(msg):
            self._send_failing = False
            return
        if critical:
            self.queue.append(msg)
        self._arm_failure()

    def _arm_failure(self) -> None:
        if not self._send_failing:
            self._send_failing = True
            self.activity_deadline_ns = self.conductor.nano_clock() + self.conductor.ctx.connect_timeout_ns

    def _drain(self, now_ns: int) -> int:
        work = 0
        while self.queue:
            if not self._offer(self.queue[0]):
                self._arm_failure()
                break
            self.queue.popleft()
            self._send_failing = False
            work += 1
        return work

    def _response(self, correlation_id: int, relevant_id: int, code: ControlResponseCode, message: str) -> bytes:
        return sbe.encode(
            T.ControlResponse, control_session_id=self.control_session_id, correlation_id=correlation_id,
            relevant_id=int(relevant_id), code=code, version=PROTOCOL_VERSION, error_message=message,
        )

    def ok(self, correlation_id: int, relevant_id: int = 0) -> None:
        self.send(self._response(correlation_id, relevant_id, ControlResponseCode.OK, ""))

    def error(self, correlation_id: int, code: int, message: str) -> None:
        self.send(self._response(correlation_id, code, ControlResponseCode.ERROR, message))

    def recording_unknown(self, correlation_id: int, recording_id: int) -> None:
        self.send(self._response(correlation_id, recording_id, ControlResponseCode.RECORDING_UNKNOWN, ""))

    def subscription_unknown(self, correlation_id: int) -> None:
        self.send(self._response(correlation_id, 0, ControlResponseCode.SUBSCRIPTION_UNKNOWN, ""))

    def signal(self, correlation_id: int, recording_id: int, subscription_id: int, position: int,
               signal: RecordingSignal) -> None:
        if self.state is not SessionState.ACTIVE:
            return
        self.send(sbe.encode(
            T.RecordingSignalEvent, control_session_id=self.control_session_id, correlation_id=correlation_id,
            recording_id=recording_id, subscription_id=subscription_id, position=position, signal=signal,
        ), critical=False)

    def close(self) -> None:
        self.listing = None
        if self.counter is not None:
            try:
                self.counter.close()
            except Exception:
                pass
            self.counter = None
        elif self.counter_registration_id >= 0:
            try:  # still pending: take it when it arrives, then drop it
                c = self.conductor.aeron.conductor.poll_registration(self.counter_registration_id)
                if c is not None:
                    c.close()
            except Exception:
                pass
        if self.publication is not None:
            try:
                self.publication.revoke()
            except Exception:
                try:
                    self.publication.close()
                except Exception:
                    pass
            self.publication = None


def _semver(v: int) -> str:
    return f"{(v >> 16) & 0xFF}.{(v >> 8) & 0xFF}.{v & 0xFF}"
