"""A small table-driven SBE (Simple Binary Encoding) engine.

A message is declared once as data — a :class:`MessageSpec` listing its template id, block
length, fixed fields (primitive type, offset, ``since_version``, optional enum) and var-data
fields in wire order — and :func:`encode` / :func:`decode` are built from that table.

Wire form (little-endian): an 8-byte header (blockLength u16, templateId u16, schemaId u16,
version u16), the root block, then each repeating group (a u16 blockLength and u16 count, then
each entry's block and its own var data), then each var-data field as a u32 length and its bytes.

Decoding follows SBE's versioning rules: var data starts at ``8 + header.blockLength`` (longer
or shorter blocks from other versions are fine), a fixed field that is beyond the acting block
or newer than the acting version reads as its null value, a var field newer than the acting
version is absent, and trailing bytes after the last var field are ignored.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Union

from aeronpy.errors import AeronError

__all__ = [
    "CodecError",
    "Field",
    "VarField",
    "Group",
    "MessageSpec",
    "Schema",
    "Decoded",
    "HEADER",
    "HEADER_LENGTH",
    "NULL",
    "encode",
    "encode_into",
    "decode",
    "decode_header",
    "BooleanType",
    "i8",
    "u8",
    "i32",
    "i64",
    "enum_field",
    "version_field",
    "ascii",
    "data",
]

HEADER = struct.Struct("<HHHH")
HEADER_LENGTH = HEADER.size
VAR_LENGTH = struct.Struct("<I")
GROUP_HEADER = struct.Struct("<HH")
MAX_VAR_LENGTH = 1 << 30

# Primitive type name -> (struct code, null value).
PRIMITIVES: dict[str, tuple[str, int]] = {
    "int8": ("b", -(1 << 7)),
    "uint8": ("B", 0xFF),
    "int16": ("h", -(1 << 15)),
    "uint16": ("H", 0xFFFF),
    "int32": ("i", -(1 << 31)),
    "uint32": ("I", 0xFFFFFFFF),
    "int64": ("q", -(1 << 63)),
    "uint64": ("Q", 0xFFFFFFFFFFFFFFFF),
}

#: Null marker in field tables meaning "the primitive type's null value".
NULL = object()

Value = Union[int, str, bytes, list[dict[str, Any]]]
Readable = Union[bytes, bytearray, memoryview, mmap.mmap]


class CodecError(AeronError, ValueError):
    """Bytes that are not a valid message of the expected schema/template."""


@dataclass(frozen=True)
class Field:
    """A fixed-size field of the root block."""

    name: str
    primitive: str
    offset: int
    since_version: int = 0
    enum: type[IntEnum] | None = None
    null_value: int | None = None  # overrides the primitive's null (e.g. version_t null 0)

    @property
    def size(self) -> int:
        return struct.calcsize("<" + PRIMITIVES[self.primitive][0])

    @property
    def null(self) -> int:
        return PRIMITIVES[self.primitive][1] if self.null_value is None else self.null_value


@dataclass(frozen=True)
class VarField:
    """A var-data field: u32 length then ASCII text (``ascii``) or opaque bytes (``bytes``)."""

    name: str
    kind: str = "ascii"
    since_version: int = 0


class BooleanType(IntEnum):
    """The ``BooleanType`` enum both the archive and cluster schemas declare (encoded int32)."""

    FALSE = 0
    TRUE = 1


def i8(name: str, offset: int, since: int = 0) -> Field:
    return Field(name, "int8", offset, since)


def u8(name: str, offset: int, since: int = 0) -> Field:
    return Field(name, "uint8", offset, since)


def i32(name: str, offset: int, since: int = 0) -> Field:
    return Field(name, "int32", offset, since)


def i64(name: str, offset: int, since: int = 0) -> Field:
    return Field(name, "int64", offset, since)


def enum_field(name: str, offset: int, enum: type[IntEnum], since: int = 0) -> Field:
    """An enum encoded as int32 (null ``0x80000000``)."""
    return Field(name, "int32", offset, since, enum)


def version_field(name: str, offset: int, since: int = 0) -> Field:
    """``version_t`` / ``capacity_t``: optional int32 whose null is 0."""
    return Field(name, "int32", offset, since, null_value=0)


def ascii(name: str, since: int = 0) -> VarField:  # noqa: A001 - SBE's name for the encoding
    return VarField(name, "ascii", since)


def data(name: str, since: int = 0) -> VarField:
    return VarField(name, "bytes", since)


@dataclass(frozen=True)
class Group:
    """A repeating group: entries of a fixed block (``fields``) and their own var data.

    Encoded and decoded as a list of dicts, one per entry."""

    name: str
    block_length: int
    fields: tuple[Field, ...] = ()
    var_fields: tuple[VarField, ...] = ()
    since_version: int = 0
    _entry: MessageSpec = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        entry = MessageSpec(0, self.name, self.block_length, self.fields, self.var_fields)
        object.__setattr__(self, "_entry", entry)


@dataclass(frozen=True)
class MessageSpec:
    """One template: its id, root block length and fields, all as data."""

    template_id: int
    name: str
    block_length: int
    fields: tuple[Field, ...] = ()
    var_fields: tuple[VarField, ...] = ()
    schema_id: int = 0
    version: int = 0
    since_version: int = 0
    groups: tuple[Group, ...] = ()
    _block: struct.Struct = field(init=False, repr=False, compare=False)
    _field_names: frozenset[str] = field(init=False, repr=False, compare=False)
    _ordered: tuple[Field, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        code = ["<"]
        at = 0
        object.__setattr__(self, "_ordered", tuple(sorted(self.fields, key=lambda f: f.offset)))
        for f in self._ordered:
            if f.primitive not in PRIMITIVES:
                raise ValueError(f"{self.name}.{f.name}: unknown primitive type {f.primitive!r}")
            if f.offset < at:
                raise ValueError(f"{self.name}.{f.name}: overlaps the previous field")
            if f.offset > at:
                code.append(f"{f.offset - at}x")
            code.append(PRIMITIVES[f.primitive][0])
            at = f.offset + f.size
        if at > self.block_length:
            raise ValueError(f"{self.name}: fields end at {at} beyond block length {self.block_length}")
        if at < self.block_length:
            code.append(f"{self.block_length - at}x")
        object.__setattr__(self, "_block", struct.Struct("".join(code)))
        names = [f.name for f in self.fields] + [g.name for g in self.groups]
        names += [v.name for v in self.var_fields]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: duplicate field names")
        object.__setattr__(self, "_field_names", frozenset(names))

    @property
    def ordered_fields(self) -> tuple[Field, ...]:
        """The fields by offset (sorted once: every encode and decode walks them)."""
        return self._ordered

    def field_names(self) -> frozenset[str]:
        return self._field_names


@dataclass(frozen=True)
class Schema:
    """A set of templates sharing a schema id and version."""

    schema_id: int
    version: int
    messages: tuple[MessageSpec, ...]
    by_id: dict[int, MessageSpec] = field(init=False, repr=False, compare=False)
    by_name: dict[str, MessageSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {m.template_id: m for m in self.messages})
        object.__setattr__(self, "by_name", {m.name: m for m in self.messages})
        if len(self.by_id) != len(self.messages) or len(self.by_name) != len(self.messages):
            raise ValueError("duplicate template id or name in schema")


@dataclass(frozen=True)
class Decoded:
    """A decoded message: its spec, the acting header values and the field values."""

    spec: MessageSpec
    block_length: int
    version: int
    values: dict[str, Value]
    length: int  # bytes consumed (header + block + var data), trailing bytes excluded

    @property
    def template_id(self) -> int:
        return self.spec.template_id

    def get_int(self, name: str) -> int:
        v = self.values[name]
        if not isinstance(v, int):
            raise TypeError(f"{self.spec.name}.{name} is not an integer field")
        return v

    def int_or(self, name: str, default: int) -> int:
        """The integer field ``name``, or ``default`` when this template has no such field."""
        v = self.values.get(name, default)
        if not isinstance(v, int):
            raise TypeError(f"{self.spec.name}.{name} is not an integer field")
        return v

    def get_str(self, name: str) -> str:
        v = self.values[name]
        if not isinstance(v, str):
            raise TypeError(f"{self.spec.name}.{name} is not a text field")
        return v

    def get_group(self, name: str) -> list[dict[str, Any]]:
        v = self.values[name]
        if not isinstance(v, list):
            raise TypeError(f"{self.spec.name}.{name} is not a group")
        return v

    def get_bytes(self, name: str) -> bytes:
        v = self.values[name]
        if not isinstance(v, (bytes, bytearray)):
            raise TypeError(f"{self.spec.name}.{name} is not a data field")
        return bytes(v)

    def __getitem__(self, name: str) -> Value:
        return self.values[name]


def _encode_var(f: VarField, value: Any) -> bytes:
    if value is None:
        return b""
    if f.kind == "ascii":
        if isinstance(value, (bytes, bytearray)):
            data = bytes(value)
        else:
            try:
                data = str(value).encode("ascii")
            except UnicodeEncodeError as e:
                raise ValueError(f"{f.name}: text must be ASCII: {value!r}") from e
    else:
        data = bytes(value)
    if len(data) > MAX_VAR_LENGTH:
        raise ValueError(f"{f.name}: length {len(data)} exceeds {MAX_VAR_LENGTH}")
    return data


def encode(
    spec: MessageSpec, values: Mapping[str, Any] | None = None, *, header: bool = True, **kw: Any
) -> bytes:
    """Encode one message (with its header unless ``header=False``, as in catalog files).

    Missing fixed fields get their null value, missing var fields are empty.  Unknown names are
    a :class:`ValueError` naming them."""
    vals: dict[str, Any] = dict(values or {})
    vals.update(kw)
    unknown = set(vals) - spec.field_names()
    if unknown:
        raise ValueError(f"{spec.name}: unknown field(s) {', '.join(sorted(unknown))}")
    nums = []
    for f in spec.ordered_fields:
        v = vals.get(f.name)
        if v is None:
            v = f.null
        elif f.enum is not None and v != f.null:
            try:
                v = int(f.enum(v))
            except ValueError:
                raise ValueError(f"{spec.name}.{f.name}: {v!r} is not a {f.enum.__name__}") from None
        nums.append(int(v))
    try:
        block = spec._block.pack(*nums)
    except struct.error as e:
        raise ValueError(f"{spec.name}: field value out of range: {e}") from None
    parts = []
    if header:
        parts.append(HEADER.pack(spec.block_length, spec.template_id, spec.schema_id, spec.version))
    parts.append(block)
    for g in spec.groups:
        entries = vals.get(g.name) or []
        if len(entries) > 0xFFFF:
            raise ValueError(f"{spec.name}.{g.name}: {len(entries)} entries exceed 65535")
        parts.append(GROUP_HEADER.pack(g.block_length, len(entries)))
        for entry in entries:
            parts.append(encode(g._entry, entry, header=False))
    for vf in spec.var_fields:
        data = _encode_var(vf, vals.get(vf.name))
        parts.append(VAR_LENGTH.pack(len(data)))
        parts.append(data)
    return b"".join(parts)


def encode_into(buffer: Any, offset: int, spec: MessageSpec, values: Mapping[str, Any]) -> int:
    """Encode into ``buffer`` (anything with ``put_bytes``) at ``offset``; returns the length."""
    data = encode(spec, values)
    buffer.put_bytes(offset, data)
    return len(data)


def decode_header(data: Readable, offset: int = 0) -> tuple[int, int, int, int]:
    """Return ``(blockLength, templateId, schemaId, version)``; CodecError if too short."""
    if len(data) - offset < HEADER_LENGTH:
        raise CodecError(f"message of {len(data) - offset} bytes is shorter than its 8-byte header")
    bl, tid, sid, ver = HEADER.unpack_from(data, offset)
    return int(bl), int(tid), int(sid), int(ver)


def decode_block(
    spec: MessageSpec,
    data: Readable,
    offset: int,
    length: int,
    block_length: int,
    version: int,
) -> Decoded:
    """Decode a block (no header) at ``offset`` whose acting length/version are given;
    ``length`` bounds block + var data."""
    if block_length < 0 or block_length > length:
        raise CodecError(
            f"{spec.name}: block length {block_length} exceeds the {length} bytes available"
        )
    values: dict[str, Value] = {}
    if block_length >= spec.block_length:
        nums = spec._block.unpack_from(data, offset)
        for f, v in zip(spec.ordered_fields, nums):
            values[f.name] = f.null if f.since_version > version else v
    else:
        for f in spec.ordered_fields:
            if f.since_version > version or f.offset + f.size > block_length:
                values[f.name] = f.null
            else:
                values[f.name] = struct.unpack_from("<" + PRIMITIVES[f.primitive][0], data, offset + f.offset)[0]
    for f in spec.fields:
        if f.enum is not None:
            ev = values[f.name]
            if isinstance(ev, int) and ev != f.null:
                try:
                    f.enum(ev)
                except ValueError:
                    raise CodecError(f"{spec.name}.{f.name}: unknown {f.enum.__name__} value {ev!r}") from None
    pos = offset + block_length
    end = offset + length
    for g in spec.groups:
        if g.since_version > version:
            values[g.name] = []
            continue
        if end - pos < GROUP_HEADER.size:
            raise CodecError(f"{spec.name}.{g.name}: truncated group header at {pos - offset}")
        entry_block, count = GROUP_HEADER.unpack_from(data, pos)
        pos += GROUP_HEADER.size
        entries: list[dict[str, Any]] = []
        for _ in range(count):
            e = decode_block(g._entry, data, pos, end - pos, entry_block, version)
            entries.append(e.values)
            pos += e.length
        values[g.name] = entries
    for vf in spec.var_fields:
        if vf.since_version > version:
            values[vf.name] = "" if vf.kind == "ascii" else b""
            continue
        if end - pos < 4:
            raise CodecError(f"{spec.name}.{vf.name}: truncated var-data length at {pos - offset}")
        (n,) = VAR_LENGTH.unpack_from(data, pos)
        pos += 4
        if n > MAX_VAR_LENGTH or n > end - pos:
            raise CodecError(
                f"{spec.name}.{vf.name}: var-data length {n} exceeds the {end - pos} bytes left"
            )
        raw = bytes(data[pos : pos + n])
        pos += n
        if vf.kind == "ascii":
            try:
                values[vf.name] = raw.decode("ascii")
            except UnicodeDecodeError:
                raise CodecError(f"{spec.name}.{vf.name}: text is not ASCII") from None
        else:
            values[vf.name] = raw
    return Decoded(spec, block_length, version, values, pos - offset)


def decode(
    schema: Schema,
    data: Readable,
    offset: int = 0,
    length: int = -1,
) -> Decoded | None:
    """Decode the message at ``offset``; ``None`` for a template id the schema doesn't know.

    A wrong schema id, a truncated block or var field, or an unknown enum value raises
    :class:`CodecError`."""
    if length < 0:
        length = len(data) - offset
    if offset < 0 or offset + length > len(data):
        raise CodecError(f"range {offset}+{length} outside the {len(data)} bytes given")
    if length < HEADER_LENGTH:
        raise CodecError(f"message of {length} bytes is shorter than its 8-byte header")
    bl, tid, sid, ver = HEADER.unpack_from(data, offset)
    if sid != schema.schema_id:
        raise CodecError(f"expected schemaId={schema.schema_id}, got {sid}")
    spec = schema.by_id.get(tid)
    if spec is None:
        return None
    d = decode_block(spec, data, offset + HEADER_LENGTH, length - HEADER_LENGTH, bl, ver)
    return Decoded(d.spec, d.block_length, d.version, d.values, d.length + HEADER_LENGTH)


def names(fields: Sequence[Field]) -> list[str]:
    return [f.name for f in fields]
