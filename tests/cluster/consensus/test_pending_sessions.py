"""The leader's pending sessions and the authenticator (cluster.md §3.1): while a session is
CONNECTED its authenticator is asked again every duty cycle until it challenges, authenticates or
rejects, and a CHALLENGED session is asked only while its egress is connected (Aeron's
``SessionManager.processPendingSessions``).  No driver: the agent's own method on a stand-in."""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any

from aeronpy.cluster.codecs import CLUSTER_SCHEMA
from aeronpy.cluster.consensus.agent import ConsensusModuleAgent
from aeronpy.cluster.consensus.cluster_session import ClusterSession, SessionState
from aeronpy.cluster.consensus.egress_publisher import EgressPublisher
from aeronpy.protocol import sbe
from aeronpy.client import results

SECOND = 10**9


class _Egress:
    """A session's egress publication: connected unless told, refusing its first ``refusals`` offers."""

    def __init__(self, refusals: int = 0, connected: bool = True) -> None:
        self.refusals = refusals
        self.is_connected = connected
        self.sent: list[str] = []

    def offer(self, data: Any) -> int:
        if not self.is_connected:
            return results.NOT_CONNECTED
        if self.refusals > 0:
            self.refusals -= 1
            return results.BACK_PRESSURED
        decoded = sbe.decode(CLUSTER_SCHEMA, bytes(data))
        assert decoded is not None
        self.sent.append(decoded.spec.name)
        return 64 * len(self.sent)

    def close(self) -> None:
        self.is_connected = False


class _Authenticator:
    """Challenges every connected session; authenticates once it has seen a challenge response."""

    def __init__(self) -> None:
        self.connected_calls = 0
        self.challenged_calls = 0
        self.answered = False

    def on_connect_request(self, session_id: int, encoded_credentials: bytes, now_ms: int) -> None:
        pass

    def on_challenge_response(self, session_id: int, encoded_credentials: bytes, now_ms: int) -> None:
        self.answered = True

    def on_connected_session(self, proxy: Any, now_ms: int) -> None:
        self.connected_calls += 1
        proxy.challenge(b"nonce")

    def on_challenged_session(self, proxy: Any, now_ms: int) -> None:
        self.challenged_calls += 1
        if self.answered:
            proxy.authenticate(b"principal")


def _leader(egress: _Egress, authenticator: _Authenticator) -> tuple[Any, ClusterSession]:
    session = ClusterSession(id=7, response_stream_id=102, response_channel="aeron:udp?endpoint=localhost:1",
                             correlation_id=3, state=SessionState.CONNECTING, publication=egress)
    agent = SimpleNamespace(
        ctx=SimpleNamespace(session_timeout_ns=5 * SECOND, authenticator=authenticator,
                            leader_heartbeat_timeout_ns=10 * SECOND),
        pending_sessions=[session], rejected_sessions=[], sessions={}, log_publisher=None, extension=None,
        egress_publisher=EgressPublisher(), leadership_term_id=0, member_id=0, errors=[])
    agent._on_error = agent.errors.append
    agent._authenticate = functools.partial(ConsensusModuleAgent._authenticate, agent)
    return agent, session


def _duty_cycle(agent: Any, now_ns: int) -> None:
    ConsensusModuleAgent._process_pending_sessions(agent, now_ns)


def test_a_challenge_the_egress_refused_is_tried_again_on_the_next_cycle() -> None:
    egress = _Egress(refusals=3)  # every attempt of the first cycle's send is back-pressured
    authenticator = _Authenticator()
    agent, session = _leader(egress, authenticator)
    _duty_cycle(agent, 1)
    assert session.state is SessionState.CONNECTED and egress.sent == []
    _duty_cycle(agent, 2)
    assert session.state is SessionState.CHALLENGED
    assert egress.sent == ["Challenge"]
    assert authenticator.connected_calls == 2
    assert agent.errors == []


def test_a_connected_session_is_asked_every_cycle_until_it_is_decided() -> None:
    egress = _Egress(refusals=3 * 4)
    authenticator = _Authenticator()
    agent, session = _leader(egress, authenticator)
    for now in range(1, 5):
        _duty_cycle(agent, now)
    assert (session.state, authenticator.connected_calls) == (SessionState.CONNECTED, 4)
    _duty_cycle(agent, 5)
    assert (session.state, authenticator.connected_calls) == (SessionState.CHALLENGED, 5)
    _duty_cycle(agent, 6)
    assert authenticator.connected_calls == 5, "no longer asked once challenged"


def test_a_challenged_session_is_asked_only_while_its_egress_is_connected() -> None:
    egress = _Egress()
    authenticator = _Authenticator()
    agent, session = _leader(egress, authenticator)
    _duty_cycle(agent, 1)
    assert session.state is SessionState.CHALLENGED and authenticator.challenged_calls == 1
    egress.is_connected = False
    authenticator.answered = True
    _duty_cycle(agent, 2)
    assert (session.state, authenticator.challenged_calls) == (SessionState.CHALLENGED, 1)
    egress.is_connected = True
    _duty_cycle(agent, 3)
    assert (session.state, authenticator.challenged_calls) == (SessionState.AUTHENTICATED, 2)


def test_a_session_waiting_for_its_egress_is_not_asked() -> None:
    egress = _Egress(connected=False)
    authenticator = _Authenticator()
    agent, session = _leader(egress, authenticator)
    _duty_cycle(agent, 1)
    assert (session.state, authenticator.connected_calls) == (SessionState.CONNECTING, 0)
    egress.is_connected = True
    _duty_cycle(agent, 2)
    assert (session.state, authenticator.connected_calls) == (SessionState.CHALLENGED, 1)


def test_a_pending_session_past_its_timeout_is_closed() -> None:
    egress = _Egress(refusals=10**6)
    authenticator = _Authenticator()
    agent, session = _leader(egress, authenticator)
    _duty_cycle(agent, 1)
    _duty_cycle(agent, 5 * SECOND + 1)
    assert agent.pending_sessions == [] and not egress.is_connected
