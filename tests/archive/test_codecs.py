"""Archive SBE codecs: round trips for every template, the spec's hex examples, SBE versioning
rules (longer/shorter blocks, trailing bytes), unknown templates/enums and fuzzed input."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.protocol import sbe
from aeronpy.archive.codecs import (
    ARCHIVE_SCHEMA,
    MARK_FILE_HEADER,
    MARK_FILE_SCHEMA,
    SCHEMA_ID,
    SCHEMA_VERSION,
    T,
    ControlResponseCode,
)


def _field_value(f: sbe.Field) -> st.SearchStrategy[Any]:
    if f.enum is not None:
        return st.sampled_from([int(v) for v in f.enum])
    code, _ = sbe.PRIMITIVES[f.primitive]
    bits = struct.calcsize(code) * 8
    if code.islower():
        return st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    return st.integers(0, (1 << bits) - 1)


def _var_value(v: sbe.VarField) -> st.SearchStrategy[Any]:
    if v.kind == "ascii":
        return st.text(st.characters(min_codepoint=0, max_codepoint=127), max_size=300)
    return st.binary(max_size=300)


@st.composite
def messages(draw: st.DrawFn, schema: sbe.Schema = ARCHIVE_SCHEMA) -> tuple[sbe.MessageSpec, dict[str, Any]]:
    spec = draw(st.sampled_from(schema.messages))
    values: dict[str, Any] = {f.name: draw(_field_value(f)) for f in spec.fields}
    values.update({v.name: draw(_var_value(v)) for v in spec.var_fields})
    return spec, values


def test_schema_has_every_template_of_version_14() -> None:
    ids = sorted(ARCHIVE_SCHEMA.by_id)
    assert ids == [1, *range(3, 25), *range(50, 69), *range(101, 108)]
    assert 2 not in ARCHIVE_SCHEMA.by_id  # ConnectRequest was removed in v14
    assert all(m.schema_id == SCHEMA_ID and m.version == SCHEMA_VERSION for m in ARCHIVE_SCHEMA.messages)
    assert T.RecordingDescriptor.block_length == 80
    assert T.ReplicateRequest2.block_length == 68


@settings(max_examples=400, deadline=None)
@given(messages())
def test_round_trip(msg: tuple[sbe.MessageSpec, dict[str, Any]]) -> None:
    spec, values = msg
    data = sbe.encode(spec, values)
    assert sbe.decode_header(data) == (spec.block_length, spec.template_id, SCHEMA_ID, SCHEMA_VERSION)
    decoded = sbe.decode(ARCHIVE_SCHEMA, data)
    assert decoded is not None and decoded.spec is spec
    assert decoded.values == values
    assert decoded.length == len(data)


@given(messages(), st.binary(min_size=1, max_size=40), st.binary(max_size=40))
def test_longer_block_and_trailing_bytes_are_accepted(
    msg: tuple[sbe.MessageSpec, dict[str, Any]], extra_block: bytes, trailing: bytes
) -> None:
    spec, values = msg
    data = sbe.encode(spec, values)
    cut = 8 + spec.block_length
    longer = struct.pack("<H", spec.block_length + len(extra_block)) + data[2:cut] + extra_block + data[cut:] + trailing
    decoded = sbe.decode(ARCHIVE_SCHEMA, longer)
    assert decoded is not None and decoded.values == values
    assert decoded.length == len(longer) - len(trailing)


def test_older_version_reads_newer_fields_as_null() -> None:
    # ReplayRequest as a version-6 client sends it: 44-byte block, no fileIoMaxLength/replayToken.
    full = sbe.encode(T.ReplayRequest, control_session_id=5, correlation_id=6, recording_id=7, position=0,
                      length=-1, replay_stream_id=101, file_io_max_length=4096, replay_token=99,
                      replay_channel="aeron:ipc")
    old = struct.pack("<HHHH", 44, 6, SCHEMA_ID, 6) + full[8:8 + 44] + full[8 + 56:]
    d = sbe.decode(ARCHIVE_SCHEMA, old)
    assert d is not None
    assert d.get_int("replay_stream_id") == 101
    assert d.get_int("file_io_max_length") == -(1 << 31)  # int32 null
    assert d.get_int("replay_token") == -(1 << 63)
    assert d.get_str("replay_channel") == "aeron:ipc"
    # version 9 sends the full block, but replayToken (since 10) still reads as null.
    v9 = full[:6] + struct.pack("<H", 9) + full[8:]
    d9 = sbe.decode(ARCHIVE_SCHEMA, v9)
    assert d9 is not None and d9.get_int("file_io_max_length") == 4096 and d9.get_int("replay_token") == -(1 << 63)


def test_var_field_newer_than_acting_version_is_absent() -> None:
    data = sbe.encode(T.AuthConnectRequest, correlation_id=1, response_stream_id=20, version=0x010C00,
                      response_channel="aeron:ipc", encoded_credentials=b"", client_info="x")
    v11 = data[:6] + struct.pack("<H", 11) + data[8:-5]  # drop clientInfo (length + 'x')
    d = sbe.decode(ARCHIVE_SCHEMA, v11)
    assert d is not None and d.get_str("client_info") == "" and d.get_str("response_channel") == "aeron:ipc"


def test_spec_example_control_response_ok() -> None:
    raw = bytes.fromhex(
        "20 00 01 00 65 00 0e 00 e9 03 00 00 00 00 00 00"
        "2a 00 00 00 00 00 00 00 e9 03 00 00 00 00 00 00"
        "00 00 00 00 00 0c 01 00 00 00 00 00"
    )
    d = sbe.decode(ARCHIVE_SCHEMA, raw)
    assert d is not None and d.spec.name == "ControlResponse"
    assert d.values == {"control_session_id": 1001, "correlation_id": 42, "relevant_id": 1001,
                        "code": ControlResponseCode.OK, "version": 0x010C00, "error_message": ""}
    assert sbe.encode(T.ControlResponse, d.values) == raw


def test_spec_example_auth_connect_request() -> None:
    channel = b"aeron:udp?endpoint=localhost:0"
    info = b"name= version=1.53.0"
    raw = (bytes.fromhex("10 00 3a 00 65 00 0e 00") + struct.pack("<q", 42) + bytes.fromhex("14 00 00 00")
           + bytes.fromhex("00 0c 01 00") + bytes.fromhex("1e 00 00 00") + channel + bytes(4)
           + bytes.fromhex("14 00 00 00") + info)
    assert len(raw) == 86
    d = sbe.decode(ARCHIVE_SCHEMA, raw)
    assert d is not None and d.spec.name == "AuthConnectRequest"
    assert (d.get_int("correlation_id"), d.get_int("response_stream_id"), d.get_int("version")) == (42, 20, 0x010C00)
    assert d.get_str("response_channel") == channel.decode() and d.get_bytes("encoded_credentials") == b""
    assert d.get_str("client_info") == info.decode()


def test_signal_event_length() -> None:
    assert len(sbe.encode(T.RecordingSignalEvent, signal=0)) == 52


def test_unknown_template_is_none_and_wrong_schema_is_an_error() -> None:
    assert sbe.decode(ARCHIVE_SCHEMA, struct.pack("<HHHH", 8, 2, SCHEMA_ID, 13) + bytes(8)) is None
    with pytest.raises(sbe.CodecError, match="schemaId"):
        sbe.decode(ARCHIVE_SCHEMA, struct.pack("<HHHH", 8, 3, 102, 14) + bytes(8))


def test_unknown_enum_value_is_an_error() -> None:
    data = bytearray(sbe.encode(T.ControlResponse, code=0))
    struct.pack_into("<i", data, 8 + 24, 9)
    with pytest.raises(sbe.CodecError, match="ControlResponseCode"):
        sbe.decode(ARCHIVE_SCHEMA, data)


def test_encoder_rejects_unknown_names_and_out_of_range() -> None:
    with pytest.raises(ValueError, match="nope"):
        sbe.encode(T.Ping, nope=1)
    with pytest.raises(ValueError, match="out of range"):
        sbe.encode(T.Ping, control_session_id=1 << 64)
    with pytest.raises(ValueError, match="ASCII"):
        sbe.encode(T.StartRecordingRequest, channel="aeron:ipc?alias=é")


@settings(max_examples=300, deadline=None)
@given(messages(), st.data())
def test_truncations_and_corruptions_raise_only_codec_errors(
    msg: tuple[sbe.MessageSpec, dict[str, Any]], data: st.DataObject
) -> None:
    spec, values = msg
    raw = bytearray(sbe.encode(spec, values))
    cut = data.draw(st.integers(0, len(raw)))
    for _ in range(data.draw(st.integers(0, 4))):
        if raw:
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        sbe.decode(ARCHIVE_SCHEMA, bytes(raw[:cut]))
    except sbe.CodecError:
        pass


@given(st.sampled_from(sorted(ARCHIVE_SCHEMA.by_id)), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF),
       st.binary(max_size=200))
def test_random_bodies_raise_only_codec_errors(template_id: int, block_length: int, version: int, body: bytes) -> None:
    raw = struct.pack("<HHHH", block_length, template_id, SCHEMA_ID, version) + body
    try:
        d = sbe.decode(ARCHIVE_SCHEMA, raw)
    except sbe.CodecError:
        return
    assert d is not None and d.length <= len(raw)


@given(messages(MARK_FILE_SCHEMA))
def test_mark_file_header_round_trip(msg: tuple[sbe.MessageSpec, dict[str, Any]]) -> None:
    spec, values = msg
    assert spec is MARK_FILE_HEADER
    d = sbe.decode(MARK_FILE_SCHEMA, sbe.encode(spec, values))
    assert d is not None and d.values == values


def test_catalog_blocks_encode_without_header() -> None:
    block = sbe.encode(T.CatalogHeader, version=0x00030100, length=32, next_recording_id=5, alignment=64,
                       reserved=0, header=False)
    assert len(block) == 32
    d = sbe.decode_block(T.CatalogHeader, block, 0, 32, 32, SCHEMA_VERSION)
    assert d.get_int("next_recording_id") == 5 and d.get_int("alignment") == 64
