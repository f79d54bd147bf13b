"""Cluster members: the static member list of ``aeron.cluster.members`` (cluster.md §1.3),
its textual forms and the quorum arithmetic of the consensus module (§4.6).

``<id>,<ingress>,<consensus>,<log>,<catchup>,<archive>[,<archiveResponse>[,<egressResponse>]]``
per member, members separated by ``|``.  A :class:`ClusterMember` also carries what the
consensus module learns about that member at run time (last append position, vote ...).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from aeronpy.errors import ConfigurationError

__all__ = [
    "ClusterMember",
    "parse_members",
    "parse_endpoint",
    "members_string",
    "ingress_endpoints",
    "quorum_threshold",
    "quorum_position",
    "find_member",
    "check_member_endpoints",
]

NULL_VALUE = -1


def parse_endpoint(text: str, what: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` allowed) -> (host, port); ConfigurationError naming ``what``."""
    text = text.strip()
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise ConfigurationError(f"{what}: endpoint {text!r} must be host:port")
    try:
        value = int(port)
    except ValueError:
        raise ConfigurationError(f"{what}: endpoint {text!r} has a port that is not a number") from None
    if not 0 <= value <= 65535:
        raise ConfigurationError(f"{what}: endpoint {text!r} has a port outside 0..65535")
    return host, value


@dataclass(eq=False)
class ClusterMember:
    """One member: its endpoints (static) and what the consensus module tracks about it."""

    id: int
    ingress_endpoint: str
    consensus_endpoint: str
    log_endpoint: str
    catchup_endpoint: str
    archive_endpoint: str
    archive_response_endpoint: str | None = None
    egress_response_endpoint: str | None = None
    # -- run-time state (Java's ClusterMember fields) --
    leadership_term_id: int = NULL_VALUE
    log_position: int = NULL_VALUE
    candidate_term_id: int = NULL_VALUE
    catchup_replay_session_id: int = NULL_VALUE
    catchup_replay_correlation_id: int = NULL_VALUE
    change_correlation_id: int = NULL_VALUE
    time_of_last_append_position_ns: int = NULL_VALUE
    vote: bool | None = None
    is_leader: bool = False
    is_ballot_sent: bool = False
    has_terminated: bool = False
    publication: object | None = field(default=None, repr=False)

    @property
    def endpoints(self) -> str:
        """``ingress,consensus,log,catchup,archive[,archiveResponse[,egressResponse]]``."""
        parts = [self.ingress_endpoint, self.consensus_endpoint, self.log_endpoint, self.catchup_endpoint,
                 self.archive_endpoint]
        if self.archive_response_endpoint is not None:
            parts.append(self.archive_response_endpoint)
            if self.egress_response_endpoint is not None:
                parts.append(self.egress_response_endpoint)
        return ",".join(parts)

    def reset(self) -> None:
        """Forget the views of an election (Java ``ClusterMember.reset``)."""
        self.is_ballot_sent = False
        self.vote = None
        self.candidate_term_id = NULL_VALUE
        self.leadership_term_id = NULL_VALUE
        self.log_position = NULL_VALUE

    def host(self, which: str) -> str:
        return parse_endpoint(getattr(self, which), which)[0]


def parse_members(text: str, what: str = "aeron.cluster.members") -> list[ClusterMember]:
    """Parse the members string; a ConfigurationError names ``what`` and the bad member."""
    if text is None or not str(text).strip():
        raise ConfigurationError(f"{what} must be set (id,ingress,consensus,log,catchup,archive|...)")
    members: list[ClusterMember] = []
    seen: set[int] = set()
    for index, raw in enumerate(str(text).split("|")):
        raw = raw.strip()
        if not raw:
            raise ConfigurationError(f"{what}: member {index} is empty")
        parts = [p.strip() for p in raw.split(",")]
        if not 6 <= len(parts) <= 8:
            raise ConfigurationError(
                f"{what}: member {raw!r} has {len(parts)} attributes, expected 6 to 8 "
                "(id,ingress,consensus,log,catchup,archive[,archiveResponse[,egressResponse]])"
            )
        try:
            member_id = int(parts[0])
        except ValueError:
            raise ConfigurationError(f"{what}: member id {parts[0]!r} is not an integer") from None
        if member_id in seen:
            raise ConfigurationError(f"{what}: duplicate member id {member_id}")
        seen.add(member_id)
        names = ("ingress", "consensus", "log", "catchup", "archive", "archiveResponse", "egressResponse")
        for name, endpoint in zip(names, parts[1:]):
            parse_endpoint(endpoint, f"{what}: member {member_id} {name}")
        members.append(ClusterMember(
            member_id, parts[1], parts[2], parts[3], parts[4], parts[5],
            parts[6] if len(parts) > 6 else None, parts[7] if len(parts) > 7 else None,
        ))
    return members


def check_member_endpoints(members: Sequence[ClusterMember], member_id: int, endpoints: str) -> None:
    """``aeron.cluster.member.endpoints`` must match this member's entry when it is set."""
    if not endpoints:
        return
    member = find_member(members, member_id)
    if member is None:
        raise ConfigurationError(f"aeron.cluster.member.id={member_id} is not in aeron.cluster.members")
    given = [p.strip() for p in endpoints.split(",")]
    mine = member.endpoints.split(",")[: len(given)]
    if given != mine:
        raise ConfigurationError(
            f"aeron.cluster.member.endpoints={endpoints} does not match member {member_id} of "
            f"aeron.cluster.members ({member.endpoints})"
        )


def members_string(members: Iterable[ClusterMember]) -> str:
    """``id,<endpoints>|...`` as in ClusterMembersResponse / BackupResponse."""
    return "|".join(f"{m.id},{m.endpoints}" for m in members)


def ingress_endpoints(members: Iterable[ClusterMember]) -> str:
    """``id=ingressHost:port,...`` in member order (REDIRECT detail, NewLeaderEvent)."""
    return ",".join(f"{m.id}={m.ingress_endpoint}" for m in members)


def quorum_threshold(member_count: int) -> int:
    """``floor(n / 2) + 1``."""
    return member_count // 2 + 1


def find_member(members: Iterable[ClusterMember], member_id: int) -> ClusterMember | None:
    for m in members:
        if m.id == member_id:
            return m
    return None


def quorum_position(members: Sequence[ClusterMember], now_ns: int, heartbeat_timeout_ns: int) -> int:
    """The ``quorum_threshold``-th highest log position among members heard from within the
    heartbeat timeout (members not heard from count as 0)."""
    ranked = [0] * quorum_threshold(len(members))
    for m in members:
        position = m.log_position
        if m.time_of_last_append_position_ns == NULL_VALUE or \
                now_ns - m.time_of_last_append_position_ns > heartbeat_timeout_ns:
            position = 0
        for i, value in enumerate(ranked):
            if position > value:
                ranked[i] = position
                position = value
    return ranked[-1]
