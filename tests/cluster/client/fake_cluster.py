"""A scripted stand-in for a cluster's client-facing side (cluster.md §3), for client tests.

Each fake member subscribes to ingress (stream 101) on its own UDP endpoint and answers as a
consensus module would: the leader opens an egress publication per session on the response
channel the client sent and answers SessionConnectRequest (OK by default, or ERROR,
AUTHENTICATION_REJECTED, a Challenge, or nothing), echoes session messages and answers admin
requests; a follower answers connects with REDIRECT.  Tests read every ingress message it got
(``received``) and script events (NewLeaderEvent, SessionEvent CLOSED, a member stopping).

Everything Aeron happens on the fake's own thread; tests hand it work with :meth:`FakeCluster.call`.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aeronpy.cluster.codecs import CLUSTER_SCHEMA, AdminResponseCode, EventCode, T
from aeronpy.logbuffer.fragment_assembler import FragmentAssembler
from aeronpy.protocol import sbe

INGRESS_STREAM_ID = 101


@dataclass
class Received:
    member_id: int
    data: bytes
    template_id: int
    values: dict[str, Any]


@dataclass
class FakeSession:
    session_id: int
    correlation_id: int
    response_channel: str
    response_stream_id: int
    member_id: int
    publication: Any = None
    open: bool = True


@dataclass
class FakeMember:
    member_id: int
    endpoint: str
    subscription: Any = None
    assembler: Any = None
    running: bool = True
    publications: dict[int, Any] = field(default_factory=dict)  # session id -> egress publication


class FakeCluster:
    """Members ``{id: "127.0.0.1:port"}``; ``leader_id`` answers, the rest redirect."""

    def __init__(self, aeron: Any, endpoints: dict[int, str], leader_id: int = 0, leadership_term_id: int = 5) -> None:
        self.aeron = aeron
        self.members = {mid: FakeMember(mid, ep) for mid, ep in endpoints.items()}
        self.leader_id = leader_id
        self.leadership_term_id = leadership_term_id
        self.next_session_id = 1
        self.sessions: dict[int, FakeSession] = {}
        self.received: list[Received] = []
        self.connect_mode = "ok"  # ok | error | auth_reject | challenge | silent
        self.error_detail = "concurrent session limit"
        self.challenge = b"who-goes-there"
        self.expected_credentials = b"friend"
        self.echo = True
        #: payload -> the echoes to send instead (to corrupt, drop or duplicate them)
        self.echo_transform: Callable[[bytes], list[bytes]] | None = None
        self.leader_heartbeat_timeout_ns: int | None = 3_000_000_000
        self.echo_timestamp = 1234
        self.admin_response_code = AdminResponseCode.UNAUTHORISED_ACCESS
        self._pending: list[tuple[Any, bytes]] = []
        self._calls: queue.SimpleQueue[tuple[Callable[[], Any], queue.SimpleQueue[Any]]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-cluster", daemon=True)
        self.error: BaseException | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeCluster:
        for m in self.members.values():
            channel = "aeron:ipc" if m.endpoint == "ipc" else f"aeron:udp?endpoint={m.endpoint}"
            m.subscription = self.aeron.add_subscription(channel, INGRESS_STREAM_ID)
            m.assembler = FragmentAssembler(self._handler(m))
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                work = 0
                while True:
                    try:
                        fn, reply = self._calls.get_nowait()
                    except queue.Empty:
                        break
                    try:
                        reply.put((True, fn()))
                    except BaseException as e:  # handed back to the caller
                        reply.put((False, e))
                    work += 1
                for m in list(self.members.values()):
                    if m.running and m.subscription is not None:
                        work += m.subscription.poll(m.assembler.on_fragment, 10)
                work += self._send_pending()
                if work == 0:
                    time.sleep(0.0005)
        except BaseException as e:
            self.error = e

    def call(self, fn: Callable[[], Any], timeout: float = 10) -> Any:
        """Run ``fn`` on the fake's thread and return its result (or raise its exception)."""
        reply: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._calls.put((fn, reply))
        ok, value = reply.get(timeout=timeout)
        if not ok:
            raise value
        return value

    # -- ingress ---------------------------------------------------------------------------

    def _handler(self, member: FakeMember) -> Callable[[Any, int, int, Any], None]:
        def on_fragment(buffer: Any, offset: int, length: int, header: Any) -> None:
            data = buffer.get_bytes(offset, length)
            decoded = sbe.decode(CLUSTER_SCHEMA, data)
            if decoded is None:
                return
            self.received.append(Received(member.member_id, data, decoded.template_id, dict(decoded.values)))
            self._on_message(member, decoded, data)

        return on_fragment

    def _on_message(self, member: FakeMember, msg: sbe.Decoded, data: bytes) -> None:
        name = msg.spec.name
        is_leader = member.member_id == self.leader_id
        if name == "SessionConnectRequest":
            self._on_connect(member, msg, is_leader)
        elif name == "ChallengeResponse":
            session = self.sessions.get(msg.get_int("cluster_session_id"))
            if session is None:
                return
            ok = msg.get_bytes("encoded_credentials") == self.expected_credentials
            self._event(session, msg.get_int("correlation_id"), EventCode.OK if ok else EventCode.AUTHENTICATION_REJECTED,
                        "" if ok else "bad credentials")
        elif name == "SessionMessageHeader" and is_leader and self.echo:
            session = self.sessions.get(msg.get_int("cluster_session_id"))
            if session is None or not session.open or msg.get_int("leadership_term_id") != self.leadership_term_id:
                return
            header = sbe.encode(T.SessionMessageHeader, leadership_term_id=self.leadership_term_id,
                                cluster_session_id=session.session_id, timestamp=self.echo_timestamp)
            payloads = [data[32:]] if self.echo_transform is None else self.echo_transform(data[32:])
            for payload in payloads:
                self._queue(session, header + payload)
        elif name == "SessionCloseRequest":
            session = self.sessions.get(msg.get_int("cluster_session_id"))
            if session is not None:
                session.open = False
        elif name == "AdminRequest" and is_leader:
            session = self.sessions.get(msg.get_int("cluster_session_id"))
            if session is not None:
                self._queue(session, sbe.encode(
                    T.AdminResponse, cluster_session_id=session.session_id, correlation_id=msg.get_int("correlation_id"),
                    request_type=msg.get_int("request_type"), response_code=self.admin_response_code,
                    message="Execution of the SNAPSHOT request was not authorised", payload=b"\x01\x02",
                ))

    def _on_connect(self, member: FakeMember, msg: sbe.Decoded, is_leader: bool) -> None:
        channel = msg.get_str("response_channel")
        stream = msg.get_int("response_stream_id")
        correlation_id = msg.get_int("correlation_id")
        publication = self.aeron.add_exclusive_publication(channel, stream)
        if not is_leader:
            self._pending.append((publication, sbe.encode(
                T.SessionEvent, cluster_session_id=-1, correlation_id=correlation_id,
                leadership_term_id=self.leadership_term_id, leader_member_id=self.leader_id,
                code=EventCode.REDIRECT, version=(0 << 16) | (3 << 8), detail=self.ingress_endpoints(),
            )))
            return
        session_id = self.next_session_id
        self.next_session_id += 1
        session = FakeSession(session_id, correlation_id, channel, stream, member.member_id, publication)
        self.sessions[session_id] = session
        member.publications[session_id] = publication
        mode = self.connect_mode
        if mode == "ok":
            self._event(session, correlation_id, EventCode.OK, "")
        elif mode == "error":
            self._event(session, correlation_id, EventCode.ERROR, self.error_detail)
        elif mode == "auth_reject":
            self._event(session, correlation_id, EventCode.AUTHENTICATION_REJECTED, "not welcome")
        elif mode == "challenge":
            self._queue(session, sbe.encode(T.Challenge, correlation_id=correlation_id, cluster_session_id=session_id,
                                            encoded_challenge=self.challenge))

    # -- egress ----------------------------------------------------------------------------

    def ingress_endpoints(self) -> str:
        return ",".join(f"{m.member_id}={m.endpoint}" for m in self.members.values())

    def _event(self, session: FakeSession, correlation_id: int, code: EventCode, detail: str) -> None:
        self._queue(session, sbe.encode(
            T.SessionEvent, cluster_session_id=session.session_id, correlation_id=correlation_id,
            leadership_term_id=self.leadership_term_id, leader_member_id=self.leader_id, code=code,
            version=(0 << 16) | (3 << 8), leader_heartbeat_timeout_ns=self.leader_heartbeat_timeout_ns, detail=detail,
        ))

    def _queue(self, session: FakeSession, message: bytes) -> None:
        self._pending.append((session.publication, message))

    def _send_pending(self) -> int:
        sent = 0
        still: list[tuple[Any, bytes]] = []
        blocked: set[int] = set()  # keep the order per publication
        for publication, message in self._pending:
            if publication.is_closed:
                continue
            if id(publication) not in blocked and publication.offer(message) > 0:
                sent += 1
            else:
                blocked.add(id(publication))
                still.append((publication, message))
        self._pending = still
        return sent

    # -- scripted events (call from the test thread) ----------------------------------------

    def send_raw(self, session_id: int, message: bytes) -> None:
        self.call(lambda: self._queue(self.sessions[session_id], message))

    def send_session_event(self, session_id: int, code: EventCode, detail: str = "", correlation_id: int = 0) -> None:
        self.call(lambda: self._event(self.sessions[session_id], correlation_id, code, detail))

    def stop_member(self, member_id: int) -> None:
        """The member dies: its ingress subscription and egress publications close."""
        def stop() -> None:
            m = self.members[member_id]
            m.running = False
            m.subscription.close()
            for p in m.publications.values():
                p.close()
        self.call(stop)

    def elect(self, new_leader_id: int, session_ids: list[int] | None = None, term: int | None = None) -> None:
        """``new_leader_id`` takes over: a new egress publication per open session and a
        NewLeaderEvent on it, as a new leader does after an election."""
        def elect() -> None:
            self.leader_id = new_leader_id
            self.leadership_term_id = term if term is not None else self.leadership_term_id + 1
            member = self.members[new_leader_id]
            for sid in session_ids if session_ids is not None else list(self.sessions):
                s = self.sessions[sid]
                s.publication = self.aeron.add_exclusive_publication(s.response_channel, s.response_stream_id)
                s.member_id = new_leader_id
                member.publications[sid] = s.publication
                self._queue(s, sbe.encode(
                    T.NewLeaderEvent, leadership_term_id=self.leadership_term_id, cluster_session_id=sid,
                    leader_member_id=new_leader_id, ingress_endpoints=self.ingress_endpoints(),
                ))
        self.call(elect)

    def of(self, template: str) -> list[Received]:
        return [r for r in list(self.received) if CLUSTER_SCHEMA.by_id[r.template_id].name == template]
