"""Member strings of ``aeron.cluster.members`` and quorum arithmetic."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aeronpy.cluster.members import (
    ClusterMember,
    check_member_endpoints,
    ingress_endpoints,
    members_string,
    parse_members,
    quorum_position,
    quorum_threshold,
)
from aeronpy.errors import ConfigurationError

THREE = (
    "0,h0:20110,h0:20220,h0:20330,h0:0,h0:8010|"
    "1,h1:20111,h1:20221,h1:20331,h1:0,h1:8011|"
    "2,h2:20112,h2:20222,h2:20332,h2:0,h2:8012,h2:9000,h2:9001"
)


def test_parse_three_members() -> None:
    members = parse_members(THREE)
    assert [m.id for m in members] == [0, 1, 2]
    assert members[1].consensus_endpoint == "h1:20221"
    assert members[1].catchup_endpoint == "h1:0"
    assert members[2].archive_response_endpoint == "h2:9000"
    assert members[2].egress_response_endpoint == "h2:9001"
    assert members[0].archive_response_endpoint is None


def test_textual_forms_round_trip() -> None:
    members = parse_members(THREE)
    assert members_string(members) == THREE
    assert ingress_endpoints(members) == "0=h0:20110,1=h1:20111,2=h2:20112"
    assert [m.endpoints for m in parse_members(members_string(members))] == [m.endpoints for m in members]


@pytest.mark.parametrize("text, needle", [
    ("", "must be set"),
    ("0,a:1,a:2,a:3,a:4", "5 attributes"),
    ("0,a:1,a:2,a:3,a:4,a:5,a:6,a:7,a:8", "9 attributes"),
    ("x,a:1,a:2,a:3,a:4,a:5", "not an integer"),
    ("0,a:1,a:2,a:3,a:4,a:5|0,b:1,b:2,b:3,b:4,b:5", "duplicate member id 0"),
    ("0,a:1,a2,a:3,a:4,a:5", "consensus"),
    ("0,a:1,a:2,a:3,a:4,a:99999", "outside 0..65535"),
    ("0,a:1,a:2,a:3,a:4,a:5||", "empty"),
])
def test_bad_members_strings_are_clear_errors(text: str, needle: str) -> None:
    with pytest.raises(ConfigurationError, match=needle):
        parse_members(text)


def test_member_endpoints_check() -> None:
    members = parse_members(THREE)
    check_member_endpoints(members, 1, "h1:20111,h1:20221,h1:20331,h1:0,h1:8011")
    check_member_endpoints(members, 1, "")
    with pytest.raises(ConfigurationError, match="does not match"):
        check_member_endpoints(members, 1, "h1:1,h1:20221,h1:20331,h1:0,h1:8011")


@pytest.mark.parametrize("n, q", [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (7, 4)])
def test_quorum_threshold(n: int, q: int) -> None:
    assert quorum_threshold(n) == q


def _member(i: int, pos: int, t: int) -> ClusterMember:
    return ClusterMember(i, "a:1", "a:2", "a:3", "a:4", "a:5", log_position=pos, time_of_last_append_position_ns=t)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1 << 40), st.booleans()), min_size=1, max_size=7))
def test_quorum_position_is_the_quorum_th_highest_live_position(entries: list[tuple[int, bool]]) -> None:
    now, timeout = 10_000, 1_000
    members = [_member(i, pos, now if live else now - 2 * timeout) for i, (pos, live) in enumerate(entries)]
    live_positions = sorted((p if live else 0 for p, live in entries), reverse=True)
    assert quorum_position(members, now, timeout) == live_positions[quorum_threshold(len(entries)) - 1]


def test_quorum_position_ignores_members_never_heard_from() -> None:
    members = [_member(0, 500, 100), _member(1, 400, -1), _member(2, 300, 100)]
    assert quorum_position(members, 100, 10) == 300
