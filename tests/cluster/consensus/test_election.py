"""The election state machine alone (cluster.md §4.2-§4.4), driven like Aeron's ElectionTest:
a manual clock, a fake consensus module agent and a fake consensus sender."""

from __future__ import annotations

import random
from typing import Any

import pytest

from aeronpy.cluster.consensus.election import Election, ElectionRestart, ElectionState, compare_log
from aeronpy.cluster.counters import ConsensusModuleState, Role
from aeronpy.cluster.members import ClusterMember, parse_members

MS = 1_000_000
S = 1_000 * MS
HEARTBEAT_TIMEOUT = 10 * S
ELECTION_TIMEOUT = 1 * S
STATUS_INTERVAL = 100 * MS
HEARTBEAT_INTERVAL = 200 * MS
STARTUP_CANVASS = 60 * S


def members(n: int) -> list[ClusterMember]:
    return parse_members("|".join(f"{i},h{i}:1,h{i}:2,h{i}:3,h{i}:4,h{i}:5" for i in range(n)))


class FakeReplay:
    def __init__(self, agent: FakeAgent, start: int, stop: int) -> None:
        self.agent, self.start, self.stop, self.pos, self.closed = agent, start, stop, start, False

    def do_work(self) -> int:
        self.pos = self.stop
        return 1

    def is_done(self) -> bool:
        return self.pos >= self.stop

    def position(self) -> int:
        return self.pos

    def close(self) -> None:
        self.closed = True


class FakeAgent:
    """Records what the election asks of the consensus module."""

    def __init__(self, this: ClusterMember, all_members: list[ClusterMember]) -> None:
        self.this = this
        self.all = all_members
        self.calls: list[tuple[Any, ...]] = []
        self.role = Role.FOLLOWER
        self.node_candidate_term = -1
        self.commit = 0
        self.last_leader_update = 0
        self.log_recording_id = 7
        self.cm_state = ConsensusModuleState.ACTIVE
        self.term_entries: dict[int, Any] = {}
        self.subscribed = False
        self.image_join: int | None = None
        self.catchup_destination = False
        self.live_destination = False

    def set_role(self, role: Role) -> None:
        self.role = role
        self.calls.append(("role", role))

    def current_role(self) -> Role:
        return self.role

    def candidate_term_id(self) -> int:
        return self.node_candidate_term

    def propose_max_candidate_term_id(self, candidate_term_id: int, log_position: int) -> int:
        self.node_candidate_term = max(self.node_candidate_term, candidate_term_id)
        self.calls.append(("persist", candidate_term_id))
        return self.node_candidate_term

    def prepare_for_new_leadership(self, log_position: int, now_ns: int) -> int:
        self.calls.append(("prepare", log_position))
        return -1

    def commit_position(self) -> int:
        return self.commit

    def time_of_last_leader_update_ns(self) -> int:
        return self.last_leader_update

    def add_log_publication(self, append_position: int) -> int:
        self.calls.append(("log_publication", append_position))
        return 42

    def quorum_position_bounded(self, append_position: int, now_ns: int) -> int:
        from aeronpy.cluster.members import quorum_position

        return min(quorum_position(self.all, now_ns, HEARTBEAT_TIMEOUT), append_position)

    def publish_commit_position(self, position: int, leadership_term_id: int) -> None:
        self.calls.append(("commit", position, leadership_term_id))

    def update_leader_position(self, now_ns: int, append_position: int, quorum_position: int) -> int:
        self.this.log_position = append_position
        self.this.time_of_last_append_position_ns = now_ns
        return 0

    def new_log_replay(self, from_position: int, to_position: int) -> FakeReplay:
        self.calls.append(("replay", from_position, to_position))
        return FakeReplay(self, from_position, to_position)

    def new_log_replication(self, leader: ClusterMember, leader_recording_id: int, stop_position: int,
                            now_ns: int) -> Any:
        self.calls.append(("replicate", leader.id, stop_position))
        raise AssertionError("no replication expected")

    def join_log_as_leader(self, leadership_term_id: int, log_position: int, log_session_id: int,
                           is_startup: bool) -> None:
        self.calls.append(("join_leader", leadership_term_id, log_position, log_session_id))

    def append_new_leadership_term_event(self, now_ns: int) -> bool:
        self.calls.append(("term_event",))
        return True

    def election_complete(self, election: Election, now_ns: int) -> None:
        self.calls.append(("complete", election.leadership_term_id))

    def ensure_recording_log_coherent(self, leadership_term_id: int, term_base_log_position: int,
                                      log_position: int, now_ns: int) -> None:
        self.calls.append(("recording_log", leadership_term_id, term_base_log_position, log_position))

    def find_term_entry(self, leadership_term_id: int) -> Any:
        return self.term_entries.get(leadership_term_id)

    def truncate_log_entry(self, leadership_term_id: int, position: int) -> None:
        self.calls.append(("truncate", leadership_term_id, position))

    def track_catchup_completion(self, follower: ClusterMember, leadership_term_id: int, flags: int) -> None:
        pass

    def stop_all_catchups(self) -> None:
        pass

    def follower_subscribe(self, log_session_id: int) -> None:
        self.subscribed = True
        self.calls.append(("subscribe", log_session_id))

    def has_follower_subscription(self) -> bool:
        return self.subscribed

    def close_follower_subscription(self) -> None:
        self.subscribed = False

    def add_catchup_log_destination(self) -> None:
        self.catchup_destination = True

    def add_live_log_destination(self) -> None:
        self.live_destination = True

    def resolved_catchup_endpoint(self) -> str | None:
        return self.this.catchup_endpoint

    def follower_image_join_position(self, log_session_id: int) -> int | None:
        return self.image_join

    def try_join_log_as_follower(self, log_session_id: int, is_startup: bool, now_ns: int) -> bool:
        self.calls.append(("join_follower", log_session_id))
        return True

    def catchup_initiated(self, now_ns: int) -> None:
        pass

    def catchup_poll(self, limit_position: int, now_ns: int) -> int:
        return 0

    def is_catchup_near_live(self, position: int) -> bool:
        return True

    def has_catchup_log_destination(self) -> bool:
        return self.catchup_destination

    def has_live_log_destination(self) -> bool:
        return self.live_destination

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]


class FakeSender:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []

    def canvass_position(self, member: ClusterMember, *args: int) -> bool:
        self.sent.append(("canvass", member.id, *args))
        return True

    def request_vote(self, member: ClusterMember, *args: int) -> bool:
        self.sent.append(("request_vote", member.id, *args))
        return True

    def place_vote(self, member: ClusterMember, candidate_term_id: int, log_leadership_term_id: int,
                   log_position: int, candidate_member_id: int, follower_member_id: int, vote: bool) -> bool:
        self.sent.append(("vote", member.id, candidate_term_id, vote))
        return True

    def new_leadership_term(self, member: ClusterMember, **fields: int) -> bool:
        self.sent.append(("new_leadership_term", member.id, fields))
        return True

    def append_position(self, member: ClusterMember, *args: int) -> bool:
        self.sent.append(("append_position", member.id, *args))
        return True

    def catchup_position(self, member: ClusterMember, *args: Any) -> bool:
        self.sent.append(("catchup_position", member.id, *args))
        return True

    def kinds(self, kind: str) -> list[tuple[Any, ...]]:
        return [s for s in self.sent if s[0] == kind]


def new_election(n: int, member_id: int = 0, *, now: int = 0, term: int = -1, log_position: int = 0,
                 append: int = 0, startup: bool = True) -> tuple[Election, FakeAgent, FakeSender]:
    ms = members(n)
    this = ms[member_id]
    agent = FakeAgent(this, ms)
    sender = FakeSender()
    election = Election(
        is_node_startup=startup, leadership_term_id=term, term_base_log_position=0, log_position=log_position,
        append_position=append, members=ms, this_member=this, agent=agent, sender=sender, now_ns=now,
        election_timeout_ns=ELECTION_TIMEOUT, election_status_interval_ns=STATUS_INTERVAL,
        leader_heartbeat_interval_ns=HEARTBEAT_INTERVAL, leader_heartbeat_timeout_ns=HEARTBEAT_TIMEOUT,
        startup_canvass_timeout_ns=STARTUP_CANVASS, rng=random.Random(7))
    return election, agent, sender


def run(election: Election, start: int, until: int, step: int = 10 * MS) -> int:
    t = start
    while t <= until and election.state != ElectionState.CLOSED:
        election.do_work(t)
        t += step
    return t


def test_single_node_becomes_leader_of_the_next_term_at_once() -> None:
    election, agent, _ = new_election(1)
    election.do_work(0)
    assert election.state == ElectionState.LEADER_LOG_REPLICATION
    assert ("persist", 0) in agent.calls and agent.role == Role.LEADER
    run(election, 1, 100 * MS)
    assert election.state == ElectionState.CLOSED
    assert agent.names()[-4:] == ["join_leader", "recording_log", "term_event", "complete"]
    assert ("join_leader", 0, 0, 42) in agent.calls


def test_single_node_restart_replays_its_log_before_leading() -> None:
    election, agent, _ = new_election(1, term=3, log_position=100, append=500)
    run(election, 0, 100 * MS)
    assert election.state == ElectionState.CLOSED
    assert ("replay", 100, 500) in agent.calls
    assert election.leadership_term_id == 4
    assert agent.names().index("replay") < agent.names().index("join_leader")


def test_canvass_sends_positions_on_the_status_interval() -> None:
    election, _, sender = new_election(3)
    election.do_work(0)
    election.do_work(0)
    assert election.state == ElectionState.CANVASS
    assert {s[1] for s in sender.kinds("canvass")} == {1, 2}
    election.do_work(50 * MS)
    assert len(sender.kinds("canvass")) == 2
    election.do_work(100 * MS)
    assert len(sender.kinds("canvass")) == 4


def _canvass_all(election: Election, now: int, term: int = -1, position: int = 0) -> None:
    for m in election.members:
        if m is not election.this_member:
            election.on_canvass_position(term, position, term, m.id, now)


def test_unanimous_candidate_nominates_then_wins_with_every_vote() -> None:
    election, agent, sender = new_election(3)
    election.do_work(0)
    _canvass_all(election, 1)
    election.do_work(2)
    assert election.state == ElectionState.NOMINATE
    t = run_until_state(election, 3, ElectionState.CANDIDATE_BALLOT)
    election.do_work(t)
    assert agent.role == Role.CANDIDATE and election.candidate_term_id == 0
    assert ("persist", 0) in agent.calls
    assert {s[1] for s in sender.kinds("request_vote")} == {1, 2}
    for voter in (1, 2):
        election.on_vote(0, -1, 0, 0, voter, True, 700 * MS)
    election.do_work(701 * MS)
    assert election.state == ElectionState.LEADER_LOG_REPLICATION
    assert agent.role == Role.LEADER and election.leadership_term_id == 0


def run_until_state(election: Election, start: int, state: ElectionState, limit: int = 5 * S) -> int:
    t = start
    while election.state != state:
        assert t < start + limit, f"stuck in {election.state.name}"
        election.do_work(t)
        t += 10 * MS
    return t


def test_candidate_with_a_quorum_wins_after_the_election_timeout() -> None:
    election, agent, _ = new_election(3)
    election.do_work(0)
    _canvass_all(election, 1)
    t = run_until_state(election, 2, ElectionState.CANDIDATE_BALLOT)
    election.on_vote(0, -1, 0, 0, 1, True, t)
    election.do_work(t + ELECTION_TIMEOUT // 2)
    assert election.state == ElectionState.CANDIDATE_BALLOT
    election.do_work(t + ELECTION_TIMEOUT + 1)
    assert election.state == ElectionState.LEADER_LOG_REPLICATION


def test_candidate_refused_returns_to_canvass() -> None:
    election, agent, _ = new_election(3)
    election.do_work(0)
    _canvass_all(election, 1)
    t = run_until_state(election, 2, ElectionState.CANDIDATE_BALLOT)
    election.on_vote(0, -1, 0, 0, 1, True, t)
    election.on_vote(0, -1, 0, 0, 2, False, t)
    election.do_work(t + ELECTION_TIMEOUT + 1)
    assert election.state == ElectionState.CANVASS and agent.role == Role.FOLLOWER


def test_canvass_with_a_silent_member_waits_for_the_startup_canvass_timeout() -> None:
    election, _, _ = new_election(3)
    election.do_work(0)
    election.on_canvass_position(-1, 0, -1, 1, 1)
    election.do_work(10 * S)
    assert election.state == ElectionState.CANVASS
    election.on_canvass_position(-1, 0, -1, 1, STARTUP_CANVASS)
    election.do_work(STARTUP_CANVASS + 1)
    assert election.state == ElectionState.NOMINATE


def test_member_behind_does_not_nominate_itself() -> None:
    election, _, _ = new_election(3, append=100)
    election.do_work(0)
    election.on_canvass_position(-1, 500, -1, 1, 1)
    election.on_canvass_position(-1, 500, -1, 2, 1)
    election.do_work(STARTUP_CANVASS + 1)
    assert election.state == ElectionState.CANVASS


def test_vote_rules() -> None:
    election, agent, sender = new_election(3, term=2, append=1000)
    election.do_work(0)
    assert election.candidate_term_id == 2
    election.on_request_vote(2, 1000, 2, 1, 1)  # not a newer term
    assert sender.kinds("vote")[-1] == ("vote", 1, 2, False)
    election.on_request_vote(2, 500, 3, 1, 2)  # my log is newer
    assert sender.kinds("vote")[-1] == ("vote", 1, 3, False) and election.candidate_term_id == 3
    assert election.state == ElectionState.CANVASS
    election.on_request_vote(2, 1000, 4, 2, 3)  # as good as mine, newer term: yes
    assert sender.kinds("vote")[-1] == ("vote", 2, 4, True)
    assert election.state == ElectionState.FOLLOWER_BALLOT
    persist = agent.calls.index(("persist", 4))
    assert persist >= 0, "the vote's term is persisted before the vote goes out"
    election.on_request_vote(2, 1000, 4, 1, 4)  # second candidate in the same term: no
    assert sender.kinds("vote")[-1] == ("vote", 1, 4, False)


def test_follower_ballot_times_out_to_canvass() -> None:
    election, _, _ = new_election(3)
    election.do_work(0)
    election.on_request_vote(-1, 0, 0, 1, 1)
    assert election.state == ElectionState.FOLLOWER_BALLOT
    election.do_work(ELECTION_TIMEOUT + 2)
    assert election.state == ElectionState.CANVASS


def _new_leadership_term(election: Election, now: int, **over: Any) -> None:
    fields: dict[str, Any] = dict(
        log_leadership_term_id=-1, next_leadership_term_id=0, next_term_base_log_position=0, next_log_position=-1,
        leadership_term_id=0, term_base_log_position=0, log_position=0, commit_position=0, leader_recording_id=9,
        leader_member_id=1, log_session_id=77, is_startup=True, now_ns=now)
    fields.update(over)
    election.on_new_leadership_term(**fields)


def test_follower_joins_the_new_leaders_log() -> None:
    election, agent, sender = new_election(3, member_id=2)
    election.do_work(0)
    election.on_request_vote(-1, 0, 0, 1, 1)
    _new_leadership_term(election, 2)
    assert election.state == ElectionState.FOLLOWER_REPLAY and election.leader_member is not None
    election.do_work(3)
    assert election.state == ElectionState.FOLLOWER_LOG_INIT
    election.do_work(4)
    assert election.state == ElectionState.FOLLOWER_LOG_AWAIT and ("subscribe", 77) in agent.calls
    assert agent.live_destination
    election.do_work(5)
    assert election.state == ElectionState.FOLLOWER_LOG_AWAIT
    agent.image_join = 0
    election.do_work(6)
    assert election.state == ElectionState.FOLLOWER_READY
    election.do_work(7)
    assert election.state == ElectionState.CLOSED
    assert sender.kinds("append_position")[-1][1] == 1
    assert ("complete", 0) in agent.calls


def test_follower_behind_the_leader_catches_up_first() -> None:
    election, agent, sender = new_election(3, member_id=2, term=0, append=100, log_position=100)
    election.do_work(0)
    _new_leadership_term(election, 1, log_leadership_term_id=0, leadership_term_id=1, term_base_log_position=50,
                         log_position=300, commit_position=300, next_term_base_log_position=-1)
    assert election.catchup_join_position == 300
    election.do_work(2)
    assert election.state == ElectionState.FOLLOWER_CATCHUP_INIT
    election.do_work(3)
    assert election.state == ElectionState.FOLLOWER_CATCHUP_AWAIT and agent.catchup_destination
    assert sender.kinds("catchup_position")[-1][1:3] == (1, 1)
    agent.image_join = 100
    election.do_work(4)
    assert election.state == ElectionState.FOLLOWER_CATCHUP
    agent.commit = 300
    election.do_work(5)
    assert election.state == ElectionState.FOLLOWER_CATCHUP, "waits for the leader to stop the catch-up"
    agent.catchup_destination = False
    election.do_work(6)
    assert election.state == ElectionState.FOLLOWER_LOG_INIT


def test_uncommitted_tail_beyond_the_new_term_base_is_truncated() -> None:
    election, agent, _ = new_election(3, member_id=2, term=0, append=500, log_position=200)
    election.do_work(0)
    with pytest.raises(ElectionRestart, match="truncating"):
        _new_leadership_term(election, 1, log_leadership_term_id=0, leadership_term_id=1, next_leadership_term_id=1,
                             next_term_base_log_position=300, term_base_log_position=300, log_position=300)
    assert ("truncate", 0, 300) in agent.calls
    assert election.append_position == 300


def test_leader_waits_for_a_quorum_of_followers_in_the_new_term() -> None:
    election, agent, sender = new_election(3, term=0, append=100, log_position=100)
    election.do_work(0)
    _canvass_all(election, 1, term=0, position=100)
    t = run_until_state(election, 2, ElectionState.CANDIDATE_BALLOT)
    for voter in (1, 2):
        election.on_vote(election.candidate_term_id, 0, 100, 0, voter, True, t)
    t = run_until_state(election, t, ElectionState.LEADER_READY)
    assert sender.kinds("new_leadership_term"), "NewLeadershipTerm goes to the followers"
    election.do_work(t + 1)
    assert election.state == ElectionState.LEADER_READY
    election.on_append_position(1, 100, 1, 0, t + 2)
    election.do_work(t + 3)
    assert election.state == ElectionState.CLOSED
    assert agent.names()[-2:] == ["term_event", "complete"]


def test_compare_log() -> None:
    assert compare_log(1, 0, 0, 999) == 1
    assert compare_log(0, 5, 0, 6) == -1
    assert compare_log(3, 7, 3, 7) == 0


def test_error_restarts_the_election_at_init_from_the_commit_position() -> None:
    election, agent, _ = new_election(3, term=0, append=100)
    election.do_work(0)
    agent.commit = 64
    election.handle_error(5, "boom")
    assert election.state == ElectionState.INIT and election.log_position == 64
    election.do_work(6)
    assert election.state == ElectionState.CANVASS and ("prepare", 64) in agent.calls


def test_appointed_leader_mode_only_the_appointed_member_nominates() -> None:
    for member_id, expect_nominate in ((1, False), (0, True)):
        ms = members(3)
        this = ms[member_id]
        agent = FakeAgent(this, ms)
        election = Election(
            is_node_startup=True, leadership_term_id=-1, term_base_log_position=0, log_position=0,
            append_position=0, members=ms, this_member=this, agent=agent, sender=FakeSender(), now_ns=0,
            election_timeout_ns=ELECTION_TIMEOUT, election_status_interval_ns=STATUS_INTERVAL,
            leader_heartbeat_interval_ns=HEARTBEAT_INTERVAL, leader_heartbeat_timeout_ns=HEARTBEAT_TIMEOUT,
            startup_canvass_timeout_ns=STARTUP_CANVASS, appointed_leader_id=0)
        election.do_work(0)
        for m in ms:
            if m is not this:
                election.on_canvass_position(-1, 0, -1, m.id, 1)
        election.do_work(2)
        assert (election.state == ElectionState.NOMINATE) is expect_nominate


class FakeReplication:
    def __init__(self, stop: int) -> None:
        self.stop, self.pos, self.done, self.closed = stop, 0, False, False

    def poll(self, now_ns: int) -> int:
        return 0

    def is_done(self) -> bool:
        return self.done

    def position(self) -> int:
        return self.pos

    def close(self) -> None:
        self.closed = True


def test_member_missing_whole_terms_replicates_them_then_canvasses_again() -> None:
    election, agent, sender = new_election(3, member_id=2, term=0, append=100, log_position=100)
    replication = FakeReplication(500)

    def new_log_replication(leader: ClusterMember, rid: int, stop: int, now: int) -> FakeReplication:
        agent.calls.append(("replicate", leader.id, stop))
        return replication

    agent.new_log_replication = new_log_replication  # type: ignore[method-assign]
    election.do_work(0)
    _new_leadership_term(election, 1, log_leadership_term_id=0, next_leadership_term_id=1,
                         next_term_base_log_position=500, next_log_position=-1, leadership_term_id=2,
                         term_base_log_position=800, log_position=900, commit_position=900)
    assert election.state == ElectionState.FOLLOWER_LOG_REPLICATION
    election.do_work(2)
    assert ("replicate", 1, 500) in agent.calls
    replication.pos = 500
    election.do_work(3)
    assert sender.kinds("append_position")[-1][1:4] == (1, 2, 500)
    replication.done = True
    election.on_commit_position(2, 900, 1, 4)
    election.do_work(5)
    assert election.state == ElectionState.CANVASS and replication.closed
    assert ("recording_log", 0, -1, 500) in agent.calls
    assert election.log_leadership_term_id == 0 and election.append_position == 500


def test_replication_without_commit_progress_times_out() -> None:
    election, agent, _ = new_election(3, member_id=2, term=0, append=100, log_position=100)
    replication = FakeReplication(500)
    agent.new_log_replication = lambda *a: replication  # type: ignore[method-assign,assignment,return-value]
    election.do_work(0)
    _new_leadership_term(election, 1, log_leadership_term_id=0, next_leadership_term_id=1,
                         next_term_base_log_position=500, next_log_position=-1, leadership_term_id=2,
                         term_base_log_position=800, log_position=900, commit_position=0)
    election.do_work(2)
    replication.pos, replication.done = 500, True
    with pytest.raises(ElectionRestart, match="commit position"):
        election.do_work(2 + HEARTBEAT_TIMEOUT + 1)
