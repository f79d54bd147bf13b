"""The leader election of one member (cluster.md §4.2-§4.4), sans-IO.

:class:`Election` is a state machine over the 18 :class:`ElectionState` s.  It takes ``now_ns``
(cluster time in nanoseconds) in :meth:`Election.do_work` and decoded consensus messages through
its ``on_*`` methods, and acts through two small protocols it declares: the
:class:`ElectionAgent` (the consensus module: log publication and subscription, replays,
recording log, roles) and the :class:`ConsensusSender` (one method per consensus message sent
to a member).  Tests drive it with fakes of both and a manual clock.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from enum import IntEnum
from typing import Any, Protocol

from aeronpy.cluster.counters import ConsensusModuleState, Role
from aeronpy.cluster.errors import ClusterError
from aeronpy.cluster.members import ClusterMember, find_member, quorum_threshold

__all__ = [
    "ElectionState",
    "Election",
    "ElectionAgent",
    "ConsensusSender",
    "LogReplay",
    "LogReplication",
    "ElectionRestart",
    "compare_log",
]

NULL_VALUE = -1
NULL_POSITION = -1
NULL_SESSION_ID = -(1 << 31)


class ElectionState(IntEnum):
    """Value of counter 207."""

    INIT = 0
    CANVASS = 1
    NOMINATE = 2
    CANDIDATE_BALLOT = 3
    FOLLOWER_BALLOT = 4
    LEADER_LOG_REPLICATION = 5
    LEADER_REPLAY = 6
    LEADER_INIT = 7
    LEADER_READY = 8
    FOLLOWER_LOG_REPLICATION = 9
    FOLLOWER_REPLAY = 10
    FOLLOWER_CATCHUP_INIT = 11
    FOLLOWER_CATCHUP_AWAIT = 12
    FOLLOWER_CATCHUP = 13
    FOLLOWER_LOG_INIT = 14
    FOLLOWER_LOG_AWAIT = 15
    FOLLOWER_READY = 16
    CLOSED = 17


class ElectionRestart(ClusterError):
    """An event that sends the election back to INIT (Java's ``ClusterEvent``)."""


class LogReplay(Protocol):
    def do_work(self) -> int: ...
    def is_done(self) -> bool: ...
    def position(self) -> int: ...
    def close(self) -> None: ...


class LogReplication(Protocol):
    def poll(self, now_ns: int) -> int: ...
    def is_done(self) -> bool: ...
    def position(self) -> int: ...
    def close(self) -> None: ...


class ConsensusSender(Protocol):
    """Sends one consensus message to ``member`` (its publication); True when it went out."""

    def canvass_position(self, member: ClusterMember, log_leadership_term_id: int, log_position: int,
                         leadership_term_id: int, follower_member_id: int) -> bool: ...

    def request_vote(self, member: ClusterMember, log_leadership_term_id: int, log_position: int,
                     candidate_term_id: int, candidate_member_id: int) -> bool: ...

    def place_vote(self, member: ClusterMember, candidate_term_id: int, log_leadership_term_id: int,
                   log_position: int, candidate_member_id: int, follower_member_id: int, vote: bool) -> bool: ...

    def new_leadership_term(self, member: ClusterMember, **fields: int) -> bool: ...

    def append_position(self, member: ClusterMember, leadership_term_id: int, log_position: int,
                        follower_member_id: int, flags: int) -> bool: ...

    def catchup_position(self, member: ClusterMember, leadership_term_id: int, log_position: int,
                         follower_member_id: int, catchup_endpoint: str) -> bool: ...


class ElectionAgent(Protocol):
    """What the election needs of the consensus module (Java's ``ConsensusModuleAgent``)."""

    @property
    def cm_state(self) -> ConsensusModuleState: ...
    @property
    def log_recording_id(self) -> int: ...
    def set_role(self, role: Role) -> None: ...
    def current_role(self) -> Role: ...
    def candidate_term_id(self) -> int: ...
    def propose_max_candidate_term_id(self, candidate_term_id: int, log_position: int) -> int: ...
    def prepare_for_new_leadership(self, log_position: int, now_ns: int) -> int: ...
    def commit_position(self) -> int: ...
    def time_of_last_leader_update_ns(self) -> int: ...
    def add_log_publication(self, append_position: int) -> int: ...
    def quorum_position_bounded(self, append_position: int, now_ns: int) -> int: ...
    def publish_commit_position(self, position: int, leadership_term_id: int) -> None: ...
    def update_leader_position(self, now_ns: int, append_position: int, quorum_position: int) -> int: ...
    def new_log_replay(self, from_position: int, to_position: int) -> LogReplay: ...
    def new_log_replication(self, leader: ClusterMember, leader_recording_id: int, stop_position: int,
                            now_ns: int) -> LogReplication: ...
    def join_log_as_leader(self, leadership_term_id: int, log_position: int, log_session_id: int,
                           is_startup: bool) -> None: ...
    def append_new_leadership_term_event(self, now_ns: int) -> bool: ...
    def election_complete(self, election: Election, now_ns: int) -> None: ...
    def ensure_recording_log_coherent(self, leadership_term_id: int, term_base_log_position: int,
                                      log_position: int, now_ns: int) -> None: ...
    def find_term_entry(self, leadership_term_id: int) -> Any: ...
    def truncate_log_entry(self, leadership_term_id: int, position: int) -> None: ...
    def track_catchup_completion(self, follower: ClusterMember, leadership_term_id: int, flags: int) -> None: ...
    def stop_all_catchups(self) -> None: ...
    def follower_subscribe(self, log_session_id: int) -> None: ...
    def has_follower_subscription(self) -> bool: ...
    def close_follower_subscription(self) -> None: ...
    def add_catchup_log_destination(self) -> None: ...
    def add_live_log_destination(self) -> None: ...
    def resolved_catchup_endpoint(self) -> str | None: ...
    def follower_image_join_position(self, log_session_id: int) -> int | None: ...
    def try_join_log_as_follower(self, log_session_id: int, is_startup: bool, now_ns: int) -> bool: ...
    def catchup_initiated(self, now_ns: int) -> None: ...
    def catchup_poll(self, limit_position: int, now_ns: int) -> int: ...
    def is_catchup_near_live(self, position: int) -> bool: ...
    def has_catchup_log_destination(self) -> bool: ...
    def has_live_log_destination(self) -> bool: ...


def compare_log(term_a: int, position_a: int, term_b: int, position_b: int) -> int:
    """Compare two logs: by log leadership term, then by position (-1, 0, 1)."""
    if term_a != term_b:
        return 1 if term_a > term_b else -1
    if position_a != position_b:
        return 1 if position_a > position_b else -1
    return 0


def _is_active(m: ClusterMember, now_ns: int, timeout_ns: int) -> bool:
    return m.time_of_last_append_position_ns != NULL_VALUE and m.time_of_last_append_position_ns + timeout_ns > now_ns


def _will_vote_for(m: ClusterMember, candidate: ClusterMember) -> bool:
    return m.log_position != NULL_POSITION and compare_log(
        m.leadership_term_id, m.log_position, candidate.leadership_term_id, candidate.log_position) <= 0


class Election:
    """One election; discarded once CLOSED."""

    def __init__(
        self,
        *,
        is_node_startup: bool,
        leadership_term_id: int,
        term_base_log_position: int,
        log_position: int,
        append_position: int,
        members: Sequence[ClusterMember],
        this_member: ClusterMember,
        agent: ElectionAgent,
        sender: ConsensusSender,
        now_ns: int,
        election_timeout_ns: int,
        election_status_interval_ns: int,
        leader_heartbeat_interval_ns: int,
        leader_heartbeat_timeout_ns: int,
        startup_canvass_timeout_ns: int,
        app_version: int = 1,
        appointed_leader_id: int = NULL_VALUE,
        graceful_closed_leader_id: int = NULL_VALUE,
        rng: random.Random | None = None,
        on_state_change: Any = None,
    ) -> None:
        self.is_node_startup = is_node_startup
        self.is_extended_canvass = is_node_startup
        self.is_first_init = True
        self.is_leader_startup = False
        self.log_leadership_term_id = leadership_term_id
        self.initial_log_leadership_term_id = leadership_term_id
        self.initial_term_base_log_position = term_base_log_position
        self.leadership_term_id = leadership_term_id
        self.candidate_term_id = NULL_VALUE
        self.log_position = log_position
        self.append_position = append_position
        self.notified_commit_position = 0
        self.catchup_join_position = NULL_POSITION
        self.replication_leadership_term_id = NULL_VALUE
        self.replication_stop_position = NULL_POSITION
        self.replication_term_base_log_position = NULL_VALUE
        self.replication_deadline_ns = 0
        self.leader_recording_id = NULL_VALUE
        self.log_session_id = NULL_SESSION_ID
        self.members = list(members)
        self.this_member = this_member
        self.leader_member: ClusterMember | None = None
        self.agent = agent
        self.sender = sender
        self.election_timeout_ns = election_timeout_ns
        self.election_status_interval_ns = election_status_interval_ns
        self.leader_heartbeat_interval_ns = leader_heartbeat_interval_ns
        self.leader_heartbeat_timeout_ns = leader_heartbeat_timeout_ns
        self.startup_canvass_timeout_ns = startup_canvass_timeout_ns
        self.app_version = app_version
        self.appointed_leader_id = appointed_leader_id
        self.graceful_closed_leader_id = graceful_closed_leader_id
        self.rng = rng or random.Random()
        self.on_state_change = on_state_change
        self._initial_update_ns = now_ns - max(election_status_interval_ns, leader_heartbeat_interval_ns) - 1
        self.time_of_last_state_change_ns = now_ns
        self.time_of_last_update_ns = self._initial_update_ns
        self.time_of_last_commit_update_ns = self._initial_update_ns
        self.nomination_deadline_ns = 0
        self.last_published_commit_position = 0
        self.last_published_append_position = 0
        self.log_replay: LogReplay | None = None
        self.log_replication: LogReplication | None = None
        self.state = ElectionState.INIT
        this_member.leadership_term_id = leadership_term_id
        this_member.log_position = append_position

    # -- duty cycle ------------------------------------------------------------------------

    def do_work(self, now_ns: int) -> int:
        try:
            return self._step(now_ns)
        except ElectionRestart:
            raise
        except ClusterError:
            raise

    def _step(self, now_ns: int) -> int:
        s = self.state
        if s == ElectionState.INIT:
            return self._init(now_ns)
        if s == ElectionState.CANVASS:
            return self._canvass(now_ns)
        if s == ElectionState.NOMINATE:
            return self._nominate(now_ns)
        if s == ElectionState.CANDIDATE_BALLOT:
            return self._candidate_ballot(now_ns)
        if s == ElectionState.FOLLOWER_BALLOT:
            return self._follower_ballot(now_ns)
        if s == ElectionState.LEADER_LOG_REPLICATION:
            return self._leader_log_replication(now_ns)
        if s == ElectionState.LEADER_REPLAY:
            return self._leader_replay(now_ns)
        if s == ElectionState.LEADER_INIT:
            return self._leader_init(now_ns)
        if s == ElectionState.LEADER_READY:
            return self._leader_ready(now_ns)
        if s == ElectionState.FOLLOWER_LOG_REPLICATION:
            return self._follower_log_replication(now_ns)
        if s == ElectionState.FOLLOWER_REPLAY:
            return self._follower_replay(now_ns)
        if s == ElectionState.FOLLOWER_CATCHUP_INIT:
            return self._follower_catchup_init(now_ns)
        if s == ElectionState.FOLLOWER_CATCHUP_AWAIT:
            return self._follower_catchup_await(now_ns)
        if s == ElectionState.FOLLOWER_CATCHUP:
            return self._follower_catchup(now_ns)
        if s == ElectionState.FOLLOWER_LOG_INIT:
            return self._follower_log_init(now_ns)
        if s == ElectionState.FOLLOWER_LOG_AWAIT:
            return self._follower_log_await(now_ns)
        if s == ElectionState.FOLLOWER_READY:
            return self._follower_ready(now_ns)
        return 0

    def handle_error(self, now_ns: int, reason: str) -> None:
        """An error inside the election: restart it at INIT from the commit position."""
        self.log_position = self.agent.commit_position()
        self._state(ElectionState.INIT, now_ns, reason)

    def close(self) -> None:
        self._stop_replay()
        self._stop_log_replication()

    # -- inputs ----------------------------------------------------------------------------

    def _member(self, member_id: int) -> ClusterMember | None:
        return find_member(self.members, member_id)

    def _update_member(self, m: ClusterMember, log_leadership_term_id: int, log_position: int, now_ns: int) -> None:
        m.leadership_term_id = log_leadership_term_id
        m.log_position = log_position
        m.time_of_last_append_position_ns = now_ns

    def on_canvass_position(self, log_leadership_term_id: int, log_position: int, leadership_term_id: int,
                            follower_member_id: int, now_ns: int) -> None:
        if self.state == ElectionState.INIT:
            return
        if follower_member_id == self.graceful_closed_leader_id:
            self.graceful_closed_leader_id = NULL_VALUE
        follower = self._member(follower_member_id)
        if follower is None or follower is self.this_member:
            return
        self._update_member(follower, log_leadership_term_id, log_position, now_ns)
        if log_leadership_term_id < self.leadership_term_id:
            if self.agent.current_role() == Role.LEADER:
                quorum = self.agent.quorum_position_bounded(self.append_position, now_ns)
                self._publish_new_leadership_term_to(follower, log_leadership_term_id, quorum, now_ns)
        elif log_leadership_term_id > self.leadership_term_id and self.state in (
                ElectionState.LEADER_LOG_REPLICATION, ElectionState.LEADER_READY):
            raise ElectionRestart("potential new election in progress")

    def on_request_vote(self, log_leadership_term_id: int, log_position: int, candidate_term_id: int,
                        candidate_id: int, now_ns: int) -> None:
        if self.state == ElectionState.INIT or candidate_id == self.this_member.id:
            return
        if candidate_term_id <= self.candidate_term_id:
            self._place_vote(candidate_term_id, candidate_id, False)
        elif compare_log(self.log_leadership_term_id, self.append_position, log_leadership_term_id, log_position) > 0:
            self.candidate_term_id = self.agent.propose_max_candidate_term_id(candidate_term_id, log_position)
            self._place_vote(candidate_term_id, candidate_id, False)
            candidate = self._member(candidate_id)
            if candidate is not None and self.agent.current_role() == Role.LEADER:
                quorum = self.agent.quorum_position_bounded(self.append_position, now_ns)
                self._publish_new_leadership_term_to(candidate, log_leadership_term_id, quorum, now_ns)
        elif self.state in (ElectionState.CANVASS, ElectionState.NOMINATE, ElectionState.CANDIDATE_BALLOT,
                            ElectionState.FOLLOWER_BALLOT):
            self.candidate_term_id = self.agent.propose_max_candidate_term_id(candidate_term_id, log_position)
            self._place_vote(candidate_term_id, candidate_id, True)
            self._state(ElectionState.FOLLOWER_BALLOT, now_ns, "")

    def on_vote(self, candidate_term_id: int, log_leadership_term_id: int, log_position: int, candidate_id: int,
                voter_id: int, vote: bool, now_ns: int) -> None:
        if self.state != ElectionState.CANDIDATE_BALLOT:
            return
        if candidate_term_id == self.candidate_term_id and candidate_id == self.this_member.id:
            voter = self._member(voter_id)
            if voter is not None:
                voter.candidate_term_id = candidate_term_id
                voter.vote = vote
                self._update_member(voter, log_leadership_term_id, log_position, now_ns)

    def on_new_leadership_term(
        self, *, log_leadership_term_id: int, next_leadership_term_id: int, next_term_base_log_position: int,
        next_log_position: int, leadership_term_id: int, term_base_log_position: int, log_position: int,
        commit_position: int, leader_recording_id: int, leader_member_id: int, log_session_id: int,
        is_startup: bool, now_ns: int,
    ) -> None:
        if self.state == ElectionState.INIT:
            return
        leader = self._member(leader_member_id)
        if leader is None or (leader is self.this_member and leadership_term_id == self.leadership_term_id):
            return
        if leader_member_id == self.graceful_closed_leader_id:
            self.graceful_closed_leader_id = NULL_VALUE
        in_ballot = self.state in (ElectionState.FOLLOWER_BALLOT, ElectionState.CANDIDATE_BALLOT) and \
            leadership_term_id == self.candidate_term_id
        if in_ballot or self.state == ElectionState.CANVASS:
            if log_leadership_term_id == self.log_leadership_term_id:
                if next_term_base_log_position != NULL_POSITION and next_term_base_log_position < self.append_position:
                    self.agent.truncate_log_entry(log_leadership_term_id, next_term_base_log_position)
                    old = self.append_position
                    self.append_position = next_term_base_log_position
                    raise ElectionRestart(
                        f"truncating the log of term {log_leadership_term_id} from {old} to {next_term_base_log_position}"
                    )
                self.leader_member = leader
                self.is_leader_startup = is_startup
                self.leadership_term_id = leadership_term_id
                self.candidate_term_id = max(leadership_term_id, self.candidate_term_id)
                self.log_session_id = log_session_id
                self.leader_recording_id = leader_recording_id
                self.catchup_join_position = log_position if self.append_position < log_position else NULL_POSITION
                self.notified_commit_position = max(self.notified_commit_position, commit_position)
                if self.append_position < term_base_log_position:
                    if next_leadership_term_id != NULL_VALUE:
                        if self.append_position < next_term_base_log_position:
                            self.replication_leadership_term_id = log_leadership_term_id
                            self.replication_stop_position = next_term_base_log_position
                            self.replication_term_base_log_position = NULL_VALUE
                            self._state(ElectionState.FOLLOWER_LOG_REPLICATION, now_ns, "")
                        elif self.append_position == next_term_base_log_position and next_log_position != NULL_POSITION:
                            self.replication_leadership_term_id = next_leadership_term_id
                            self.replication_stop_position = next_log_position
                            self.replication_term_base_log_position = next_term_base_log_position
                            self._state(ElectionState.FOLLOWER_LOG_REPLICATION, now_ns, "")
                    else:
                        raise ClusterError(
                            f"invalid NewLeadershipTerm: appendPosition={self.append_position} < "
                            f"termBaseLogPosition={term_base_log_position} and no next term"
                        )
                else:
                    self._state(ElectionState.FOLLOWER_REPLAY, now_ns, "")
            else:
                self._state(ElectionState.CANVASS, now_ns, "")
        if self.state == ElectionState.FOLLOWER_LOG_REPLICATION and \
                log_leadership_term_id == self.log_leadership_term_id and \
                self.leader_member is not None and self.leader_member.id == leader_member_id:
            self.replication_deadline_ns = now_ns + self.leader_heartbeat_timeout_ns

    def on_append_position(self, leadership_term_id: int, log_position: int, follower_member_id: int, flags: int,
                           now_ns: int) -> None:
        if self.state == ElectionState.INIT or leadership_term_id > self.leadership_term_id:
            return
        follower = self._member(follower_member_id)
        if follower is not None:
            self._update_member(follower, leadership_term_id, log_position, now_ns)
            self.agent.track_catchup_completion(follower, leadership_term_id, flags)

    def on_commit_position(self, leadership_term_id: int, log_position: int, leader_member_id: int,
                           now_ns: int) -> None:
        if self.state == ElectionState.INIT:
            return
        if self.leader_member is not None and self.leader_member.id == leader_member_id:
            self.notified_commit_position = max(self.notified_commit_position, log_position)
            if self.state == ElectionState.FOLLOWER_LOG_REPLICATION:
                self.replication_deadline_ns = now_ns + self.leader_heartbeat_timeout_ns
        elif leadership_term_id > self.leadership_term_id and self.state == ElectionState.LEADER_READY:
            raise ElectionRestart(f"new leader {leader_member_id} detected by its commit position")

    def on_replay_new_leadership_term_event(self, leadership_term_id: int, log_position: int,
                                            term_base_log_position: int, now_ns: int) -> None:
        if self.state in (ElectionState.FOLLOWER_CATCHUP, ElectionState.FOLLOWER_REPLAY):
            self.agent.ensure_recording_log_coherent(leadership_term_id, term_base_log_position, NULL_POSITION,
                                                     now_ns)
            self.log_position = log_position
            self.log_leadership_term_id = leadership_term_id

    # -- states ----------------------------------------------------------------------------

    def _init(self, now_ns: int) -> int:
        if self.is_first_init:
            self.is_first_init = False
            if not self.is_node_startup:
                self._prepare_for_new_leadership(now_ns)
        else:
            self._stop_log_replication()
            self.agent.stop_all_catchups()
            self.catchup_join_position = NULL_POSITION
            self._prepare_for_new_leadership(now_ns)
            self.log_session_id = NULL_SESSION_ID
            self._stop_replay()
            self.agent.close_follower_subscription()
        self.notified_commit_position = 0
        self.candidate_term_id = max(self.agent.candidate_term_id(), self.leadership_term_id)
        if len(self.members) == 1 and self.members[0] is self.this_member:
            self.candidate_term_id = self.agent.propose_max_candidate_term_id(self.candidate_term_id + 1,
                                                                              self.log_position)
            self.leader_member = self.this_member
            self.leadership_term_id = self.candidate_term_id
            self._state(ElectionState.LEADER_LOG_REPLICATION, now_ns, "single-node cluster leader")
        else:
            self._state(ElectionState.CANVASS, now_ns, "")
        return 1

    def _prepare_for_new_leadership(self, now_ns: int) -> None:
        append = self.agent.prepare_for_new_leadership(self.log_position, now_ns)
        if append != NULL_POSITION:
            self.append_position = append
        self.this_member.log_position = self.append_position
        self.this_member.leadership_term_id = self.log_leadership_term_id

    def _canvass(self, now_ns: int) -> int:
        work = 0
        if self.is_extended_canvass:
            deadline = self.time_of_last_state_change_ns + self.startup_canvass_timeout_ns
        else:
            deadline = self.agent.time_of_last_leader_update_ns() + self.leader_heartbeat_timeout_ns
        if now_ns - self.time_of_last_update_ns >= self.election_status_interval_ns:
            self.time_of_last_update_ns = now_ns
            self._publish_canvass_position()
            work += 1
        if self.appointed_leader_id != NULL_VALUE and self.appointed_leader_id != self.this_member.id:
            return work
        if self._is_unanimous_candidate() or (now_ns >= deadline and self._is_quorum_candidate()):
            delay = int(self.rng.random() * (self.election_timeout_ns >> 1))
            self.nomination_deadline_ns = now_ns + delay
            self._state(ElectionState.NOMINATE, now_ns, "")
            work += 1
        return work

    def _nominate(self, now_ns: int) -> int:
        if now_ns >= self.nomination_deadline_ns:
            self.candidate_term_id = self.agent.propose_max_candidate_term_id(self.candidate_term_id + 1,
                                                                              self.log_position)
            for m in self.members:
                if m is self.this_member:
                    m.vote, m.candidate_term_id, m.is_ballot_sent = True, self.candidate_term_id, True
                else:
                    m.vote, m.candidate_term_id, m.is_ballot_sent = None, NULL_VALUE, False
            self._state(ElectionState.CANDIDATE_BALLOT, now_ns, "")
            return 1
        if now_ns - self.time_of_last_update_ns >= self.election_status_interval_ns:
            self.time_of_last_update_ns = now_ns
            self._publish_canvass_position()
            return 1
        return 0

    def _candidate_ballot(self, now_ns: int) -> int:
        if self._is_unanimous_leader():
            self.leader_member = self.this_member
            self.leadership_term_id = self.candidate_term_id
            self._state(ElectionState.LEADER_LOG_REPLICATION, now_ns, "unanimous leader")
            return 1
        if now_ns >= self.time_of_last_state_change_ns + self.election_timeout_ns:
            if self._is_quorum_leader():
                self.leader_member = self.this_member
                self.leadership_term_id = self.candidate_term_id
                self._state(ElectionState.LEADER_LOG_REPLICATION, now_ns, "quorum leader")
            else:
                self._state(ElectionState.CANVASS, now_ns, "")
            return 1
        work = 0
        for m in self.members:
            if not m.is_ballot_sent:
                work += 1
                m.is_ballot_sent = self.sender.request_vote(
                    m, self.log_leadership_term_id, self.append_position, self.candidate_term_id, self.this_member.id)
        return work

    def _follower_ballot(self, now_ns: int) -> int:
        if now_ns >= self.time_of_last_state_change_ns + self.election_timeout_ns:
            self._state(ElectionState.CANVASS, now_ns, "")
            return 1
        return 0

    def _leader_log_replication(self, now_ns: int) -> int:
        self.this_member.log_position = self.append_position
        self.this_member.time_of_last_append_position_ns = now_ns
        quorum = self.agent.quorum_position_bounded(self.append_position, now_ns)
        work = self._publish_new_leadership_term_on_interval(quorum, now_ns)
        work += self._publish_commit_position_on_interval(quorum, now_ns)
        if quorum >= self.append_position:
            self._state(ElectionState.LEADER_REPLAY, now_ns, "")
            work += 1
        return work

    def _leader_replay(self, now_ns: int) -> int:
        work = 0
        if self.log_replay is None:
            if self.log_position < self.append_position:
                self.log_replay = self.agent.new_log_replay(self.log_position, self.append_position)
            else:
                self._state(ElectionState.LEADER_INIT, now_ns, "")
            work += 1
            self.is_leader_startup = self.is_node_startup
            self.this_member.leadership_term_id = self.leadership_term_id
            self.this_member.log_position = self.append_position
            self.this_member.time_of_last_append_position_ns = now_ns
        else:
            work += self.log_replay.do_work()
            if self.log_replay.is_done():
                self._stop_replay()
                self.log_position = self.append_position
                self._state(ElectionState.LEADER_INIT, now_ns, "")
        quorum = self.agent.quorum_position_bounded(self.append_position, now_ns)
        work += self._publish_new_leadership_term_on_interval(quorum, now_ns)
        work += self._publish_commit_position_on_interval(quorum, now_ns)
        return work

    def _leader_init(self, now_ns: int) -> int:
        self.agent.join_log_as_leader(self.leadership_term_id, self.log_position, self.log_session_id,
                                      self.is_leader_startup)
        self._update_recording_log(now_ns)
        self._state(ElectionState.LEADER_READY, now_ns, "")
        return 1

    def _leader_ready(self, now_ns: int) -> int:
        quorum = self.agent.quorum_position_bounded(self.append_position, now_ns)
        work = self.agent.update_leader_position(now_ns, self.append_position, quorum)
        work += self._publish_new_leadership_term_on_interval(quorum, now_ns)
        votes = sum(
            1 for m in self.members
            if _is_active(m, now_ns, self.leader_heartbeat_timeout_ns)
            and m.leadership_term_id == self.leadership_term_id and m.log_position >= self.log_position
        )
        if votes >= quorum_threshold(len(self.members)) and self.agent.append_new_leadership_term_event(now_ns):
            self.agent.election_complete(self, now_ns)
            self._state(ElectionState.CLOSED, now_ns, "")
            work += 1
        return work

    def _follower_log_replication(self, now_ns: int) -> int:
        assert self.leader_member is not None
        if self.log_replication is None:
            if self.append_position < self.replication_stop_position:
                self.log_replication = self.agent.new_log_replication(
                    self.leader_member, self.leader_recording_id, self.replication_stop_position, now_ns)
                self.replication_deadline_ns = now_ns + self.leader_heartbeat_timeout_ns
                return 1
            self._update_recording_log_for_replication(now_ns)
            self._state(ElectionState.CANVASS, now_ns, "")
            return 1
        work = self.log_replication.poll(now_ns)
        done = self.log_replication.is_done()
        work += self._publish_follower_replication_position(now_ns)
        if done:
            if self.notified_commit_position >= self.append_position:
                self.append_position = self.log_replication.position()
                self._stop_log_replication()
                self._update_recording_log_for_replication(now_ns)
                self._state(ElectionState.CANVASS, now_ns, "")
                work += 1
            elif now_ns >= self.replication_deadline_ns:
                raise ElectionRestart("timeout awaiting the commit position after log replication")
        return work

    def _follower_replay(self, now_ns: int) -> int:
        if self.log_replay is None:
            if self.log_position < self.append_position:
                if self.notified_commit_position == 0:
                    return self._publish_follower_append_position(now_ns)
                if self.log_position >= self.notified_commit_position:
                    self._state(ElectionState.CANVASS, now_ns,
                                f"log replay rejected: logPosition={self.log_position} >= "
                                f"commit {self.notified_commit_position}")
                else:
                    self.log_replay = self.agent.new_log_replay(
                        self.log_position, min(self.append_position, self.notified_commit_position))
                return 1
            self._state(ElectionState.FOLLOWER_CATCHUP_INIT if self.catchup_join_position != NULL_POSITION
                        else ElectionState.FOLLOWER_LOG_INIT, now_ns, "nothing to replay")
            return 1
        work = self.log_replay.do_work()
        if self.log_replay.is_done():
            self.log_position = self.log_replay.position()
            self._stop_replay()
            if self.log_position == self.append_position:
                self._state(ElectionState.FOLLOWER_CATCHUP_INIT if self.catchup_join_position != NULL_POSITION
                            else ElectionState.FOLLOWER_LOG_INIT, now_ns, "log replay done")
            else:
                self._state(ElectionState.CANVASS, now_ns, "incomplete log replay")
        return work

    def _follower_catchup_init(self, now_ns: int) -> int:
        assert self.leader_member is not None
        if not self.agent.has_follower_subscription():
            self.agent.follower_subscribe(self.log_session_id)
            self.agent.add_catchup_log_destination()
        endpoint = self.agent.resolved_catchup_endpoint()
        if endpoint is not None and self.sender.catchup_position(
                self.leader_member, self.leadership_term_id, self.log_position, self.this_member.id, endpoint):
            self.time_of_last_update_ns = now_ns
            self.agent.catchup_initiated(now_ns)
            self._state(ElectionState.FOLLOWER_CATCHUP_AWAIT, now_ns, "")
        elif now_ns >= self.time_of_last_state_change_ns + self.leader_heartbeat_timeout_ns:
            raise ElectionRestart("failed to send the catch-up position")
        return 1

    def _verify_join_position(self, join_position: int, where: str) -> None:
        if join_position != self.log_position:
            raise ElectionRestart(f"{where}: joinPosition={join_position} but logPosition={self.log_position}")

    def _follower_catchup_await(self, now_ns: int) -> int:
        join = self.agent.follower_image_join_position(self.log_session_id)
        if join is not None:
            self._verify_join_position(join, "follower catch-up await")
            if self.agent.try_join_log_as_follower(self.log_session_id, self.is_leader_startup, now_ns):
                self._state(ElectionState.FOLLOWER_CATCHUP, now_ns, "")
                return 1
        if now_ns >= self.time_of_last_state_change_ns + self.leader_heartbeat_timeout_ns:
            raise ElectionRestart("failed to join the catch-up log")
        return 0

    def _follower_catchup(self, now_ns: int) -> int:
        work = self.agent.catchup_poll(self.notified_commit_position, now_ns)
        if not self.agent.has_live_log_destination() and self.agent.is_catchup_near_live(
                max(self.catchup_join_position, self.notified_commit_position)):
            self.agent.add_live_log_destination()
            work += 1
        position = self.agent.commit_position()
        if position >= self.catchup_join_position and position >= self.notified_commit_position and \
                not self.agent.has_catchup_log_destination() and \
                self.agent.cm_state != ConsensusModuleState.SNAPSHOT:
            self.append_position = position
            self.log_position = position
            self._state(ElectionState.FOLLOWER_LOG_INIT, now_ns, "")
            work += 1
        return work

    def _follower_log_init(self, now_ns: int) -> int:
        if not self.agent.has_follower_subscription():
            if self.log_session_id != NULL_SESSION_ID:
                self.agent.follower_subscribe(self.log_session_id)
                self.agent.add_live_log_destination()
                self._state(ElectionState.FOLLOWER_LOG_AWAIT, now_ns, "")
        else:
            self._state(ElectionState.FOLLOWER_READY, now_ns, "")
        return 1

    def _follower_log_await(self, now_ns: int) -> int:
        join = self.agent.follower_image_join_position(self.log_session_id)
        if join is not None:
            self._verify_join_position(join, "follower log await")
            if self.agent.try_join_log_as_follower(self.log_session_id, self.is_leader_startup, now_ns):
                self._update_recording_log(now_ns)
                self._state(ElectionState.FOLLOWER_READY, now_ns, "")
                return 1
        if now_ns >= self.time_of_last_state_change_ns + self.leader_heartbeat_timeout_ns:
            raise ElectionRestart("failed to join the live log")
        return 0

    def _follower_ready(self, now_ns: int) -> int:
        assert self.leader_member is not None
        if self.sender.append_position(self.leader_member, self.leadership_term_id, self.log_position,
                                       self.this_member.id, 0):
            self.agent.election_complete(self, now_ns)
            self._state(ElectionState.CLOSED, now_ns, "")
        elif now_ns >= self.time_of_last_state_change_ns + self.leader_heartbeat_timeout_ns:
            raise ElectionRestart("ready follower failed to notify the leader")
        return 1

    # -- helpers ---------------------------------------------------------------------------

    def _is_unanimous_candidate(self) -> bool:
        votes = 0
        for m in self.members:
            if m.id == self.graceful_closed_leader_id:
                continue
            if not _will_vote_for(m, self.this_member):
                return False
            votes += 1
        return votes >= quorum_threshold(len(self.members))

    def _is_quorum_candidate(self) -> bool:
        votes = sum(1 for m in self.members if _will_vote_for(m, self.this_member))
        return votes >= quorum_threshold(len(self.members))

    def _is_unanimous_leader(self) -> bool:
        votes = 0
        for m in self.members:
            if m.id == self.graceful_closed_leader_id:
                continue
            if m.candidate_term_id != self.candidate_term_id or m.vote is not True:
                return False
            votes += 1
        return votes >= quorum_threshold(len(self.members))

    def _is_quorum_leader(self) -> bool:
        votes = 0
        for m in self.members:
            if m.candidate_term_id == self.candidate_term_id:
                if m.vote is False:
                    return False
                if m.vote is True:
                    votes += 1
        return votes >= quorum_threshold(len(self.members))

    def _place_vote(self, candidate_term_id: int, candidate_id: int, vote: bool) -> None:
        candidate = self._member(candidate_id)
        if candidate is not None:
            self.sender.place_vote(candidate, candidate_term_id, self.log_leadership_term_id, self.append_position,
                                   candidate_id, self.this_member.id, vote)

    def _publish_canvass_position(self) -> None:
        for m in self.members:
            if m is not self.this_member:
                self.sender.canvass_position(m, self.log_leadership_term_id, self.append_position,
                                             self.leadership_term_id, self.this_member.id)

    def _publish_new_leadership_term_on_interval(self, quorum: int, now_ns: int) -> int:
        if now_ns - self.time_of_last_update_ns >= self.leader_heartbeat_interval_ns:
            self.time_of_last_update_ns = now_ns
            for m in self.members:
                self._publish_new_leadership_term_to(m, self.log_leadership_term_id, quorum, now_ns)
            return 1
        return 0

    def _publish_new_leadership_term_to(self, m: ClusterMember, log_leadership_term_id: int, quorum: int,
                                        now_ns: int) -> None:
        if m is self.this_member or self.log_session_id == NULL_SESSION_ID:
            return
        entry = self.agent.find_term_entry(log_leadership_term_id + 1)
        if entry is not None:
            next_term = entry.leadership_term_id
            next_base = entry.term_base_log_position
            next_log = entry.log_position if entry.log_position != NULL_POSITION else self.append_position
        else:
            next_term, next_base, next_log = self.leadership_term_id, self.append_position, NULL_POSITION
        self.sender.new_leadership_term(
            m, log_leadership_term_id=log_leadership_term_id, next_leadership_term_id=next_term,
            next_term_base_log_position=next_base, next_log_position=next_log,
            leadership_term_id=self.leadership_term_id, term_base_log_position=self.append_position,
            log_position=self.append_position, commit_position=quorum,
            leader_recording_id=self.agent.log_recording_id, timestamp=now_ns // 1_000_000,
            leader_member_id=self.this_member.id, log_session_id=self.log_session_id,
            app_version=self.app_version, is_startup=1 if self.is_leader_startup else 0,
        )

    def _publish_commit_position_on_interval(self, quorum: int, now_ns: int) -> int:
        if self.last_published_commit_position < quorum or (
                self.last_published_commit_position == quorum
                and now_ns - self.time_of_last_commit_update_ns >= self.leader_heartbeat_interval_ns):
            self.time_of_last_commit_update_ns = now_ns
            self.last_published_commit_position = quorum
            self.agent.publish_commit_position(quorum, self.leadership_term_id)
            return 1
        return 0

    def _publish_follower_append_position(self, now_ns: int) -> int:
        assert self.leader_member is not None
        if self.last_published_append_position != self.append_position or \
                now_ns - self.time_of_last_update_ns >= self.leader_heartbeat_interval_ns:
            if self.sender.append_position(self.leader_member, self.leadership_term_id, self.append_position,
                                           self.this_member.id, 0):
                self.last_published_append_position = self.append_position
                self.time_of_last_update_ns = now_ns
                return 1
        return 0

    def _publish_follower_replication_position(self, now_ns: int) -> int:
        assert self.leader_member is not None and self.log_replication is not None
        position = self.log_replication.position()
        if position > self.append_position or (
                position == self.append_position
                and now_ns - self.time_of_last_update_ns >= self.leader_heartbeat_interval_ns):
            if self.sender.append_position(self.leader_member, self.leadership_term_id, position,
                                           self.this_member.id, 0):
                self.append_position = position
                self.time_of_last_update_ns = now_ns
                return 1
        return 0

    def _update_recording_log(self, now_ns: int) -> None:
        self.agent.ensure_recording_log_coherent(self.leadership_term_id, self.log_position, NULL_POSITION, now_ns)
        self.log_leadership_term_id = self.leadership_term_id

    def _update_recording_log_for_replication(self, now_ns: int) -> None:
        self.agent.ensure_recording_log_coherent(self.replication_leadership_term_id,
                                                 self.replication_term_base_log_position,
                                                 self.replication_stop_position, now_ns)
        self.log_leadership_term_id = self.replication_leadership_term_id

    def _stop_replay(self) -> None:
        if self.log_replay is not None:
            self.log_replay.close()
            self.log_replay = None
        self.last_published_append_position = 0

    def _stop_log_replication(self) -> None:
        if self.log_replication is not None:
            self.log_replication.close()
            self.log_replication = None
        self.replication_deadline_ns = 0
        self.last_published_commit_position = 0

    def _state(self, new_state: ElectionState, now_ns: int, reason: str) -> None:
        if new_state == self.state:
            return
        if self.state == ElectionState.CANVASS:
            self.is_extended_canvass = False
        if new_state == ElectionState.CANVASS:
            for m in self.members:
                m.reset()
            self.this_member.leadership_term_id = self.leadership_term_id
            self.this_member.log_position = self.append_position
            self.leader_member = None
            self.agent.set_role(Role.FOLLOWER)
        elif new_state == ElectionState.CANDIDATE_BALLOT:
            self.agent.set_role(Role.CANDIDATE)
        elif new_state == ElectionState.LEADER_LOG_REPLICATION:
            self.agent.set_role(Role.LEADER)
            self.log_session_id = self.agent.add_log_publication(self.append_position)
        elif new_state in (ElectionState.FOLLOWER_LOG_REPLICATION, ElectionState.FOLLOWER_REPLAY):
            self.agent.set_role(Role.FOLLOWER)
        old = self.state
        self.state = new_state
        self.time_of_last_state_change_ns = now_ns
        self.time_of_last_update_ns = self._initial_update_ns
        self.time_of_last_commit_update_ns = self._initial_update_ns
        if self.on_state_change is not None:
            self.on_state_change(old, new_state, reason)
