"""The consensus module's pluggable authenticator with a challenge (cluster.md §3.1, §1.6):
connect request credentials, a Challenge on egress, the client's ChallengeResponse, then the
session is authenticated (its principal reaches the service in SessionOpenEvent) or rejected
(the client gets AUTHENTICATION_REJECTED and no session is opened).  One member in this process,
the real cluster client."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aeronpy.cluster.client import AeronCluster, ClusterClientContext
from aeronpy.cluster.client.credentials import StaticCredentialsSupplier
from aeronpy.cluster.client.errors import AuthenticationError
from aeronpy.cluster.members import ingress_endpoints, parse_members
from aeronpy.cluster.service import ClusteredService
from tests.cluster.consensus.harness import Collector, Member, members_string, new_base_dir
from tests.conftest import wait_for

NONCE = b"nonce-7"


class ChallengingAuthenticator:
    """Challenges a connect request carrying ``user``; accepts the answer ``<nonce>:secret``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.credentials: dict[int, bytes] = {}
        self.responses: dict[int, bytes] = {}
        self.challenged: list[int] = []

    def on_connect_request(self, session_id: int, encoded_credentials: bytes, now_ms: int) -> None:
        with self.lock:
            self.credentials[session_id] = encoded_credentials

    def on_challenge_response(self, session_id: int, encoded_credentials: bytes, now_ms: int) -> None:
        with self.lock:
            self.responses[session_id] = encoded_credentials

    def on_connected_session(self, proxy: Any, now_ms: int) -> None:
        with self.lock:
            credentials = self.credentials.get(proxy.session_id())
        if credentials == b"boom":
            raise RuntimeError("authenticator bug")
        if credentials == b"user":
            if proxy.challenge(NONCE):
                self.challenged.append(proxy.session_id())
        else:
            proxy.reject()

    def on_challenged_session(self, proxy: Any, now_ms: int) -> None:
        with self.lock:
            response = self.responses.get(proxy.session_id())
        if response is None:
            return
        if response == NONCE + b":secret":
            proxy.authenticate(b"principal:user")
        else:
            proxy.reject()


class PrincipalService(ClusteredService):
    def __init__(self) -> None:
        self.principals: list[bytes] = []

    def on_session_open(self, session: Any, timestamp: int) -> None:
        self.principals.append(bytes(session.encoded_principal))


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Member]:
    from aeronpy.cluster import counters as cc

    m = Member(0, members_string(1), new_base_dir(tmp_path), PrincipalService(),
               cm_attrs={"authenticator": ChallengingAuthenticator()})
    try:
        m.start()
        wait_for(lambda: m.cm.agent.election is None and m.cm.agent.role == cc.Role.LEADER, 20, "the leader")
        yield m
    finally:
        m.stop()
        m.cleanup()


def _connect(node: Member, credentials: bytes, answer: bytes) -> AeronCluster:
    ctx = ClusterClientContext.from_properties(
        env={}, aeron_dir=node.aeron_dir, ingress_channel="aeron:udp?term-length=128k",
        ingress_endpoints=ingress_endpoints(parse_members(node.members)),
        egress_channel="aeron:udp?endpoint=localhost:0|term-length=128k", message_timeout_ns=10 * 10**9,
        egress_listener=Collector(),
        credentials_supplier=StaticCredentialsSupplier(credentials, lambda challenge: challenge + answer))
    return AeronCluster.connect(ctx)


def test_challenged_session_with_the_right_answer_is_authenticated(node: Member) -> None:
    authenticator = node.cm_attrs["authenticator"]
    client = _connect(node, b"user", b":secret")
    try:
        assert client.cluster_session_id in authenticator.challenged
        wait_for(lambda: node.service.principals == [b"principal:user"], 10, "the session open with its principal")
    finally:
        client.close()


def test_wrong_answer_or_unknown_user_is_rejected(node: Member) -> None:
    with pytest.raises(AuthenticationError):
        _connect(node, b"user", b":guess")
    with pytest.raises(AuthenticationError):
        _connect(node, b"intruder", b":secret")
    assert node.service.principals == []
    assert node.cm.agent.sessions == {}


def test_an_authenticator_that_raises_rejects_the_session_and_the_cluster_carries_on(node: Member) -> None:
    errors = node.cm.agent.counters["errors"]
    before = errors.get()
    with pytest.raises(AuthenticationError):
        _connect(node, b"boom", b"")
    assert errors.get() == before + 1, "counted in the cluster's errors counter"
    assert node.cm.errors == [], "the consensus module did not fail"
    client = _connect(node, b"user", b":secret")
    try:
        wait_for(lambda: node.service.principals == [b"principal:user"], 10, "a good session afterwards")
    finally:
        client.close()
