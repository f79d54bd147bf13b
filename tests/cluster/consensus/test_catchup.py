"""The leader's catch-up replays (cluster.md §4.7) when the archive refuses one.

A follower whose election restarts asks again for a catch-up on the same endpoint, with the
log's session id, while the replay publication of its previous attempt may still be lingering
in the driver: the archive then answers "existing publication has clashing sessionId".  The
leader must not drop the request (the follower would wait out its timeout, ask again and could
collide again): it retries until the replay starts, the follower canvasses again or the leader
heartbeat timeout passes.  The agent runs without I/O here: a fake archive, a manual clock.
"""

from __future__ import annotations

from typing import Any

from aeronpy.cluster.codecs import CLUSTER_SCHEMA, T
from aeronpy.cluster.consensus.agent import CATCHUP_RETRY_INTERVAL_NS, ConsensusModuleAgent
from aeronpy.cluster.counters import Role
from aeronpy.cluster.errors import ClusterError
from aeronpy.cluster.members import parse_members
from aeronpy.protocol import sbe

MEMBERS = "0,h:1,h:2,h:3,h:4,h:5|1,h:11,h:12,h:13,h:14,h:15|2,h:21,h:22,h:23,h:24,h:25"
SESSION = 4242
MS = 1_000_000


class FakeArchive:
    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.requests: list[tuple[int, str, int, int, int]] = []
        self.stopped: list[int] = []

    def start_replay(self, recording_id: int, channel: str, stream_id: int, position: int, length: int) -> int:
        self.requests.append((recording_id, channel, stream_id, position, length))
        if self.refusals > 0:
            self.refusals -= 1
            raise ClusterError(f"existing publication has clashing sessionId={SESSION} for streamId={stream_id}")
        return 1000 + len(self.requests)

    def stop_replay(self, replay_session_id: int) -> None:
        self.stopped.append(replay_session_id)


class Ctx:
    follower_catchup_channel = "aeron:udp"
    log_stream_id = 100
    leader_heartbeat_timeout_ns = 2_000 * MS


class Publisher:
    session_id = SESSION
    position = 4096


def _leader(archive: FakeArchive) -> tuple[Any, list[BaseException], list[int]]:
    agent: Any = object.__new__(ConsensusModuleAgent)
    errors: list[BaseException] = []
    clock = [1_000]
    agent.members = parse_members(MEMBERS)
    agent.this_member = agent.members[0]
    agent.role = Role.LEADER
    agent.leadership_term_id = 3
    agent.log_publisher = Publisher()
    agent.log_recording_id = 7
    agent.ctx = Ctx()
    agent.archive = archive
    agent.pending_catchups = {}
    agent.epoch_clock = lambda: clock[0]
    agent._on_error = errors.append
    return agent, errors, clock


def _catchup_position(follower: int, position: int) -> sbe.Decoded:
    data = sbe.encode(T.CatchupPosition, leadership_term_id=3, log_position=position, follower_member_id=follower,
                      catchup_endpoint="h:14")
    decoded = sbe.decode(CLUSTER_SCHEMA, data)
    assert decoded is not None
    return decoded


def _canvass(follower: int) -> sbe.Decoded:
    data = sbe.encode(T.CanvassPosition, log_leadership_term_id=3, log_position=1024, leadership_term_id=3,
                      follower_member_id=follower, protocol_version=0)
    decoded = sbe.decode(CLUSTER_SCHEMA, data)
    assert decoded is not None
    return decoded


def test_a_refused_catchup_replay_is_retried_until_it_starts() -> None:
    archive = FakeArchive(refusals=2)
    agent, errors, clock = _leader(archive)
    agent._consensus_CatchupPosition(_catchup_position(1, 1024), b"", None)
    follower = agent.members[1]
    assert follower.catchup_replay_session_id == -1 and len(errors) == 1 and "clashing" in str(errors[0])
    agent._retry_pending_catchups(clock[0] * MS)  # too soon: no request
    assert len(archive.requests) == 1
    for _ in range(2):
        clock[0] += CATCHUP_RETRY_INTERVAL_NS // MS
        agent._retry_pending_catchups(clock[0] * MS)
    assert follower.catchup_replay_session_id == 1003
    assert len(errors) == 1, "retries are not reported again"
    recording, channel, stream, position, length = archive.requests[-1]
    assert (recording, stream, position, length) == (7, 100, 1024, -1)
    assert f"session-id={SESSION}" in channel and "endpoint=h:14" in channel
    assert agent.pending_catchups == {}


def test_the_retry_ends_with_the_leader_heartbeat_timeout() -> None:
    archive = FakeArchive(refusals=1_000)
    agent, _, clock = _leader(archive)
    agent._consensus_CatchupPosition(_catchup_position(2, 512), b"", None)
    clock[0] += Ctx.leader_heartbeat_timeout_ns // MS + 1
    agent._retry_pending_catchups(clock[0] * MS)
    assert agent.pending_catchups == {} and len(archive.requests) == 1


def test_a_new_canvass_from_the_follower_drops_its_pending_catchup() -> None:
    archive = FakeArchive(refusals=1_000)
    agent, _, clock = _leader(archive)
    agent.election = None
    agent.commit_position = lambda: 0
    agent.recording_log = type("RL", (), {"find_term_entry": staticmethod(lambda term: None)})()
    agent.consensus_publisher = type("CP", (), {"new_leadership_term": staticmethod(lambda *a, **k: True)})()
    agent.member_id = 0
    agent.app_version = 1
    agent.ctx.app_version = 1
    agent._term_base = lambda term: 0
    agent._consensus_CatchupPosition(_catchup_position(1, 1024), b"", None)
    assert 1 in agent.pending_catchups
    agent._consensus_CanvassPosition(_canvass(1), b"", None)
    assert agent.pending_catchups == {}
