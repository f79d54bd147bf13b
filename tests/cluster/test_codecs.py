"""The cluster schemas as data: layouts match cluster.md, every template round-trips."""

from __future__ import annotations

import struct
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.cluster import codecs
from aeronpy.cluster.codecs import CLUSTER_SCHEMA, T
from aeronpy.protocol import sbe

# (template id, block length) from cluster.md §2.3-§2.7.
BLOCKS = {
    1: 24, 2: 44, 3: 16, 4: 16, 5: 16, 6: 20, 7: 16, 8: 16, 26: 28, 27: 24,
    20: 24, 21: 36, 22: 28, 23: 32, 24: 48, 25: 40,
    30: 8, 31: 16, 32: 8, 33: 36, 34: 12, 35: 8, 40: 40, 41: 12, 42: 12, 43: 24, 108: 8,
    50: 32, 51: 32, 52: 36, 53: 96, 54: 21, 55: 20, 56: 20, 57: 12, 70: 8, 71: 12, 72: 12, 73: 8,
    74: 12, 75: 16, 76: 20, 77: 24, 78: 60, 79: 12, 80: 8, 81: 16,
    100: 40, 102: 12, 103: 40, 104: 16, 105: 28, 106: 8, 107: 24,
}


def test_every_template_of_the_spec_is_declared_with_its_block_length() -> None:
    assert {m.template_id: m.block_length for m in CLUSTER_SCHEMA.messages} == BLOCKS
    assert CLUSTER_SCHEMA.schema_id == 111 and CLUSTER_SCHEMA.version == 17
    assert codecs.MARK_FILE_HEADER.block_length == 128
    assert len(codecs.NODE_STATE_SCHEMA.messages) == 4


def test_session_message_header_is_32_bytes_as_aeron_frames_it() -> None:
    data = sbe.encode(T.SessionMessageHeader, leadership_term_id=3, cluster_session_id=9, timestamp=0)
    assert len(data) == codecs.SESSION_HEADER_LENGTH
    assert struct.unpack("<HHHHqqq", data) == (24, 1, 111, 17, 3, 9, 0)


def test_new_leadership_term_field_offsets() -> None:
    data = sbe.encode(T.NewLeadershipTerm, leader_member_id=2, log_session_id=77, commit_position=4096,
                      is_startup=codecs.BooleanType.TRUE)
    assert struct.unpack_from("<i", data, 8 + 72)[0] == 2
    assert struct.unpack_from("<i", data, 8 + 76)[0] == 77
    assert struct.unpack_from("<i", data, 8 + 84)[0] == 1
    assert struct.unpack_from("<q", data, 8 + 88)[0] == 4096


def test_append_position_flags_byte_and_odd_block_length() -> None:
    data = sbe.encode(T.AppendPosition, leadership_term_id=1, log_position=64, follower_member_id=1, flags=1)
    assert len(data) == 8 + 21 and data[-1] == 1


def test_groups_round_trip_in_wire_order() -> None:
    entry = {"recording_id": 5, "leadership_term_id": 1, "term_base_log_position": 0, "log_position": 640,
             "timestamp": 9, "service_id": -1}
    data = sbe.encode(T.BackupResponse, correlation_id=7, snapshots=[entry, entry], cluster_members="0,a:1")
    # group header right after the 60-byte block, var data after the entries
    assert struct.unpack_from("<HH", data, 8 + 60) == (44, 2)
    d = sbe.decode(CLUSTER_SCHEMA, data)
    assert d is not None
    assert d.get_group("snapshots") == [entry, entry]
    assert d.get_str("cluster_members") == "0,a:1"


def _value(f: sbe.Field) -> st.SearchStrategy[int]:
    if f.enum is not None:
        return st.sampled_from([int(v) for v in f.enum])
    bits = f.size * 8
    if f.primitive.startswith("u"):
        return st.integers(0, (1 << bits) - 1)
    return st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)


def _var(v: sbe.VarField) -> st.SearchStrategy[Any]:
    if v.kind == "ascii":
        return st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
    return st.binary(max_size=40)


def _values(fields: tuple[sbe.Field, ...], var: tuple[sbe.VarField, ...]) -> st.SearchStrategy[dict[str, Any]]:
    parts: dict[str, st.SearchStrategy[Any]] = {f.name: _value(f) for f in fields}
    parts.update({v.name: _var(v) for v in var})
    return st.fixed_dictionaries(parts)


@st.composite
def messages(draw: st.DrawFn) -> tuple[sbe.MessageSpec, dict[str, Any]]:
    spec = draw(st.sampled_from(CLUSTER_SCHEMA.messages))
    values = draw(_values(spec.fields, spec.var_fields))
    for g in spec.groups:
        values[g.name] = draw(st.lists(_values(g.fields, g.var_fields), max_size=3))
    return spec, values


@settings(max_examples=300)
@given(messages())
def test_every_template_round_trips(message: tuple[sbe.MessageSpec, dict[str, Any]]) -> None:
    spec, values = message
    data = sbe.encode(spec, values)
    d = sbe.decode(CLUSTER_SCHEMA, data)
    assert d is not None and d.spec is spec and d.length == len(data)
    assert d.values == values
