"""ControlSession state machine with a manual clock and a fake response publication:
connect → authenticated OK re-sent until the first request → active with pings; timeouts,
rejection and send-failure deadlines (archive.md §1.4)."""

from __future__ import annotations

from typing import Any

from aeronpy.protocol import sbe
from aeronpy.archive.auth import DefaultAuthenticator
from aeronpy.archive.codecs import ARCHIVE_SCHEMA, ControlResponseCode
from aeronpy.archive.context import ArchiveContext
from aeronpy.archive.control_session import PROTOCOL_VERSION, ControlSession, SessionState
from aeronpy.client import results

MS = 1_000_000


class FakePublication:
    def __init__(self) -> None:
        self.is_connected = True
        self.sent: list[sbe.Decoded] = []
        self.result: int | None = None

    def offer(self, msg: bytes) -> int:
        if self.result is not None:
            return self.result
        d = sbe.decode(ARCHIVE_SCHEMA, msg)
        assert d is not None
        self.sent.append(d)
        return 64 * len(self.sent)

    def revoke(self) -> None:
        self.is_connected = False


class FakeAeron:
    def __init__(self, pub: FakePublication | None) -> None:
        self.pub = pub

    def get_exclusive_publication(self, registration_id: int) -> FakePublication | None:
        return self.pub


class FakeConductor:
    def __init__(self, pub: FakePublication | None, authenticator: Any = None) -> None:
        self.ctx = ArchiveContext(control_channel_enabled=False, replication_channel="")
        self.aeron = FakeAeron(pub)
        self.authenticator = authenticator or DefaultAuthenticator()
        self.now = 0

    def nano_clock(self) -> int:
        return self.now


def _session(conductor: FakeConductor, version: int = PROTOCOL_VERSION) -> ControlSession:
    return ControlSession(conductor, 1001, 42, 7, 5, version, "name=test", conductor.now)  # type: ignore[arg-type]


def _step(c: FakeConductor, s: ControlSession, to_ns: int) -> None:
    c.now = to_ns
    s.do_work(c.now, c.now // MS)


def test_connect_ok_resent_until_first_request_then_pings() -> None:
    pub = FakePublication()
    c = FakeConductor(pub)
    s = _session(c)
    for t in (0, 1, 2, 3):
        _step(c, s, t * MS)
    assert s.state is SessionState.AUTHENTICATED
    ok = pub.sent[0]
    assert ok.spec.name == "ControlResponse" and ok.values["code"] == ControlResponseCode.OK
    assert (ok.get_int("correlation_id"), ok.get_int("relevant_id"), ok.get_int("version")) == (42, 1001, PROTOCOL_VERSION)
    _step(c, s, 100 * MS)
    assert len(pub.sent) == 1
    _step(c, s, 204 * MS)
    assert len(pub.sent) == 2  # re-sent after 200 ms
    assert s.activate() and s.state is SessionState.ACTIVE
    _step(c, s, 205 * MS)
    assert pub.sent[-1].spec.name == "Ping"
    n = len(pub.sent)
    _step(c, s, 900 * MS)
    assert len(pub.sent) == n
    _step(c, s, 1205 * MS)
    assert pub.sent[-1].spec.name == "Ping" and len(pub.sent) == n + 1


def test_publication_never_connecting_times_out() -> None:
    pub = FakePublication()
    pub.is_connected = False
    c = FakeConductor(pub)
    s = _session(c)
    _step(c, s, 0)
    _step(c, s, 4_999 * MS)
    assert s.state is SessionState.CONNECTING
    _step(c, s, 5_001 * MS)
    assert s.is_done and "failed to establish initial connection" in (s.abort_reason or "")


def test_response_publication_that_is_never_created_times_out() -> None:
    c = FakeConductor(None)
    s = _session(c)
    _step(c, s, 6_000 * MS)
    assert s.is_done and "state=INIT" in (s.abort_reason or "")


class Rejecter(DefaultAuthenticator):
    def on_connected_session(self, proxy: Any, now_ms: int) -> None:
        proxy.reject()


def test_rejected_session_gets_errors_then_ends() -> None:
    pub = FakePublication()
    c = FakeConductor(pub, Rejecter())
    s = _session(c)
    for t in range(0, 5_200, 100):
        _step(c, s, t * MS)
    errors = [m for m in pub.sent if m.values["code"] == ControlResponseCode.ERROR]
    assert errors and errors[0].get_int("relevant_id") == 10 and errors[0].get_str("error_message") == "authentication rejected"
    assert s.is_done


def test_wrong_major_version_is_answered_with_an_error() -> None:
    pub = FakePublication()
    c = FakeConductor(pub)
    s = _session(c, version=2 << 16)
    for t in range(4):
        _step(c, s, t * MS)
    assert s.state is SessionState.INVALID_VERSION
    err = pub.sent[0]
    assert err.values["code"] == ControlResponseCode.ERROR and err.get_int("relevant_id") == 1001
    assert not s.activate()


def test_failing_sends_abort_after_connect_timeout() -> None:
    pub = FakePublication()
    c = FakeConductor(pub)
    s = _session(c)
    for t in range(4):
        _step(c, s, t * MS)
    s.activate()
    pub.result = results.BACK_PRESSURED
    s.ok(9, 0)  # queued
    assert len(s.queue) == 1
    _step(c, s, 4_000 * MS)
    assert s.state is SessionState.ACTIVE
    _step(c, s, 5_100 * MS)
    assert s.is_done and "failed to send response" in (s.abort_reason or "")


def test_queued_responses_keep_their_order() -> None:
    pub = FakePublication()
    c = FakeConductor(pub)
    s = _session(c)
    for t in range(4):
        _step(c, s, t * MS)
    s.activate()
    pub.result = results.BACK_PRESSURED
    s.ok(1, 0)
    pub.result = None
    s.ok(2, 0)  # must wait behind 1
    _step(c, s, 10 * MS)
    corrs = [m.get_int("correlation_id") for m in pub.sent if m.spec.name == "ControlResponse"][-2:]
    assert corrs == [1, 2]


def test_disconnected_response_publication_aborts() -> None:
    pub = FakePublication()
    c = FakeConductor(pub)
    s = _session(c)
    for t in range(4):
        _step(c, s, t * MS)
    s.activate()
    pub.is_connected = False
    _step(c, s, 10 * MS)
    assert s.is_done and s.abort_reason == "control response publication is not connected"
