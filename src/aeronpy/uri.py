"""Aeron channel URIs: parsing, canonical printing, parameter validation and the
publication/subscription parameters the driver derives from a channel.

Grammar (see ``uri.md``)::

    channel = [ "aeron-spy:" ] "aeron:" ("udp" | "ipc") [ "?" key "=" value *( "|" key "=" value ) ]

Deliberate differences from the C driver (stricter, never more lenient):

* duplicate keys and a key without ``=`` are rejected (C keeps the first/last or drops it);
* lookups match keys exactly (C compares only a prefix, so ``mtux=`` could pass for ``mtu``);
* booleans must be exactly ``true`` or ``false`` (C accepts any value *starting* with them),
  ``group`` must be ``true``/``infer``/``false`` and ``control-mode`` one of its three values;
* every documented key's value format is checked on both media, even where the driver would
  ignore the key (e.g. ``ttl`` on a unicast channel); unknown keys are accepted and kept.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from aeronpy.config import (
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    parse_duration_ns,
    parse_int,
    parse_size,
)
from aeronpy.concurrent.bit_util import int32 as _wrap_int32
from aeronpy.errors import ConfigurationError, InvalidChannelError
from aeronpy.protocol.data_header import FRAME_ALIGNMENT


__all__ = [
    "ChannelUri",
    "FlowControlOptions",
    "InterfaceSpec",
    "PublicationParams",
    "SubscriptionParams",
    "parse_endpoint",
    "parse_flow_control",
    "parse_interface",
    "parse_tags",
    "parse_timestamp_offset",
    "publication_params",
    "subscription_params",
    "validate_params",
    "validate_udp_channel",
]

MAX_URI_LENGTH = 4095
SCHEME = "aeron"
SPY_PREFIX = "aeron-spy"
UDP_MEDIA = "udp"
IPC_MEDIA = "ipc"
IPC_CHANNEL = "aeron:ipc"

ENDPOINT = "endpoint"
INTERFACE = "interface"
CONTROL = "control"
CONTROL_MODE = "control-mode"
TTL = "ttl"
TAGS = "tags"
ALIAS = "alias"
SESSION_ID = "session-id"
STREAM_ID = "stream-id"
MTU = "mtu"
TERM_LENGTH = "term-length"
INIT_TERM_ID = "init-term-id"
TERM_ID = "term-id"
TERM_OFFSET = "term-offset"
PUB_WND = "pub-wnd"
LINGER = "linger"
SPARSE = "sparse"
EOS = "eos"
SSC = "ssc"
MAX_RESEND = "max-resend"
FC = "fc"
RESPONSE_CORRELATION_ID = "response-correlation-id"
RELIABLE = "reliable"
TETHER = "tether"
REJOIN = "rejoin"
GROUP = "group"
GTAG = "gtag"
CC = "cc"
RCV_WND = "rcv-wnd"
SO_RCVBUF = "so-rcvbuf"
SO_SNDBUF = "so-sndbuf"
NAK_DELAY = "nak-delay"
UNTETHERED_WINDOW_LIMIT_TIMEOUT = "untethered-window-limit-timeout"
UNTETHERED_LINGER_TIMEOUT = "untethered-linger-timeout"
UNTETHERED_RESTING_TIMEOUT = "untethered-resting-timeout"
MEDIA_RCV_TS_OFFSET = "media-rcv-ts-offset"
CHANNEL_RCV_TS_OFFSET = "channel-rcv-ts-offset"
CHANNEL_SND_TS_OFFSET = "channel-snd-ts-offset"
ATS = "ats"
RESPONSE_ENDPOINT = "response-endpoint"

CONTROL_MODE_DYNAMIC = "dynamic"
CONTROL_MODE_MANUAL = "manual"
CONTROL_MODE_RESPONSE = "response"
CONTROL_MODES = (CONTROL_MODE_DYNAMIC, CONTROL_MODE_MANUAL, CONTROL_MODE_RESPONSE)

NULL_VALUE = -1
PROTOTYPE_CORRELATION_ID = -2
"""``response-correlation-id=prototype``."""
RESERVED_VALUE_OFFSET = -8
"""A timestamp offset of ``reserved``: write into the header's reserved value."""

TERM_MIN_LENGTH = 64 * 1024
TERM_MAX_LENGTH = 1024 * 1024 * 1024
DATA_HEADER_LENGTH = 32
MAX_UDP_PAYLOAD_LENGTH = 65504
MAX_RESEND_MAX = 256

# Keys that destinations (ADD_DESTINATION / ADD_RCV_DESTINATION) must not carry.
INVALID_DESTINATION_KEYS = (MTU, RCV_WND, SO_RCVBUF, SO_SNDBUF, RESPONSE_CORRELATION_ID)


def _bad(key: str, value: str, reason: str) -> InvalidChannelError:
    return InvalidChannelError(f"{key}={value}: {reason}")


def _is_power_of_two(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


# ---------------------------------------------------------------------------------------------
# ChannelUri


@dataclass
class ChannelUri:
    """A parsed channel: ``prefix`` (``""`` or ``"aeron-spy"``), ``media`` (``udp``/``ipc``)
    and ``params`` in their original order.  ``str()`` gives the canonical text back."""

    prefix: str
    media: str
    params: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.prefix not in ("", SPY_PREFIX):
            raise InvalidChannelError(f"invalid URI prefix: {self.prefix!r}")
        if self.media not in (UDP_MEDIA, IPC_MEDIA):
            raise InvalidChannelError(f"invalid URI media: {self.media!r} (expected udp or ipc)")
        if self.prefix == SPY_PREFIX and self.media != UDP_MEDIA:
            raise InvalidChannelError("aeron-spy: must be followed by a UDP channel")
        for key, value in self.params.items():
            _check_param_text(key, value)

    @classmethod
    def parse(cls, text: str) -> ChannelUri:
        """Parse ``text``; raise :class:`InvalidChannelError` saying what and where."""
        try:
            length = len(text.encode("utf-8"))
        except UnicodeEncodeError as e:
            raise InvalidChannelError(f"channel URI is not valid UTF-8 text: {e}") from e
        if length > MAX_URI_LENGTH:
            raise InvalidChannelError(
                f"URI length ({length}) exceeds max supported length ({MAX_URI_LENGTH}): "
                f"{text[:64]}..."
            )
        if "\x00" in text:
            raise InvalidChannelError(f"NUL character at index {text.index(chr(0))}: {text!r}")

        prefix = ""
        pos = 0
        if text.startswith(SPY_PREFIX + ":"):
            prefix = SPY_PREFIX
            pos = len(SPY_PREFIX) + 1
        if not text.startswith(SCHEME + ":", pos):
            raise InvalidChannelError(f"invalid URI scheme at index {pos} (expected 'aeron:'): {text!r}")
        pos += len(SCHEME) + 1
        media = text[pos : pos + 3]
        if media not in (UDP_MEDIA, IPC_MEDIA):
            raise InvalidChannelError(
                f"invalid URI media at index {pos} (expected udp or ipc): {text!r}"
            )
        if prefix == SPY_PREFIX and media != UDP_MEDIA:
            raise InvalidChannelError(f"aeron-spy: must be followed by a UDP channel: {text!r}")
        pos += 3
        if pos == len(text):
            if media == UDP_MEDIA:
                raise InvalidChannelError(f"aeron:udp must be followed by '?' and parameters: {text!r}")
            return cls(prefix, media, {})
        if text[pos] != "?":
            raise InvalidChannelError(f"expected '?' at index {pos}: {text!r}")
        return cls(prefix, media, _parse_params(text, pos + 1))

    def get(self, key: str, default: str | None = None) -> str | None:
        """Return the value of ``key`` (exact match) or ``default``."""
        return self.params.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.params

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.params.items())

    def __str__(self) -> str:
        head = f"{self.prefix}:" if self.prefix else ""
        head += f"{SCHEME}:{self.media}"
        if not self.params and self.media == IPC_MEDIA:
            return head
        return head + "?" + "|".join(f"{k}={v}" for k, v in self.params.items())

    @property
    def is_udp(self) -> bool:
        """True for UDP (including spy) channels."""
        return self.media == UDP_MEDIA

    @property
    def is_ipc(self) -> bool:
        """True for IPC channels."""
        return self.media == IPC_MEDIA

    @property
    def is_spy(self) -> bool:
        """True for ``aeron-spy:`` channels."""
        return self.prefix == SPY_PREFIX

    def with_param(self, key: str, value: str) -> ChannelUri:
        """Return a copy with ``key`` set (replaced in place if present, else appended)."""
        params = dict(self.params)
        params[key] = value
        return ChannelUri(self.prefix, self.media, params)

    def without_param(self, key: str) -> ChannelUri:
        """Return a copy without ``key``."""
        return ChannelUri(self.prefix, self.media, {k: v for k, v in self.params.items() if k != key})

    def without_prefix(self) -> ChannelUri:
        """Return the channel without an ``aeron-spy:`` prefix."""
        return ChannelUri("", self.media, dict(self.params))


def _check_param_text(key: str, value: str) -> None:
    if not key:
        raise InvalidChannelError("empty key not allowed")
    if not value:
        raise InvalidChannelError(f"empty value not allowed for key {key!r}")
    for ch in "|=\x00":
        if ch in key:
            raise InvalidChannelError(f"key {key!r} must not contain {ch!r}")
    for ch in "|\x00":
        if ch in value:
            raise InvalidChannelError(f"value of {key!r} must not contain {ch!r}")


def _parse_params(text: str, start: int) -> dict[str, str]:
    params: dict[str, str] = {}
    pos = start
    n = len(text)
    while pos < n:
        end = text.find("|", pos)
        if end < 0:
            end = n
        segment = text[pos:end]
        eq = segment.find("=")
        if eq < 0:
            if end < n:
                raise InvalidChannelError(f"invalid end of key at index {end}: {text!r}")
            raise InvalidChannelError(f"key without '=' at index {pos}: {text!r}")
        if eq == 0:
            raise InvalidChannelError(f"empty key not allowed at index {pos}: {text!r}")
        key = segment[:eq]
        value = segment[eq + 1 :]
        if not value:
            raise InvalidChannelError(f"empty value not allowed for key {key!r} at index {pos + eq + 1}: {text!r}")
        if key in params:
            raise InvalidChannelError(f"duplicate key {key!r} at index {pos}: {text!r}")
        params[key] = value
        pos = end + 1
    return params


# ---------------------------------------------------------------------------------------------
# Addresses

_HOSTNAME_RE = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252})")
_DOTTED_RE = re.compile(r"[0-9.]+")
_IFNAME_MAX = 15


@dataclass(frozen=True)
class InterfaceSpec:
    """A parsed ``interface`` value: either ``host`` (address or host name, IPv6 without
    brackets) with an optional ``prefix_length``, or a ``name`` from ``{ifname}``; ``port`` is
    0 when absent."""

    host: str | None
    name: str | None
    port: int
    prefix_length: int | None
    is_ipv6: bool = False


def _parse_port(text: str, key: str, value: str, optional: bool) -> int:
    if text == "":
        if optional:
            return 0
        raise _bad(key, value, "missing port")
    try:
        port = parse_int(text, key)
    except ConfigurationError:
        raise _bad(key, value, f"invalid port {text!r}") from None
    if not 0 <= port <= 65535:
        raise _bad(key, value, f"port {port} out of range [0, 65535]")
    return port


def _check_host(host: str, key: str, value: str, ipv6: bool) -> None:
    if ipv6:
        addr, _, scope = host.partition("%")
        if "%" in host and not scope:
            raise _bad(key, value, "empty IPv6 scope id")
        try:
            ipaddress.IPv6Address(addr)
        except ValueError:
            raise _bad(key, value, f"invalid IPv6 address {addr!r}") from None
        return
    if not host:
        raise _bad(key, value, "missing host")
    if _DOTTED_RE.fullmatch(host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise _bad(key, value, f"invalid IPv4 address {host!r}") from None
        return
    if ":" in host:
        raise _bad(key, value, "IPv6 addresses must be enclosed in [ ]")
    if not _HOSTNAME_RE.fullmatch(host):
        raise _bad(key, value, f"invalid host name {host!r}")


def _split_host(text: str, key: str, value: str) -> tuple[str, str | None, bool]:
    """Split ``host[:port]`` or ``[v6][:port]`` into (host, port text or None, is_ipv6)."""
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise _bad(key, value, "missing ']' after IPv6 address")
        host = text[1:close]
        rest = text[close + 1 :]
        if rest and not rest.startswith(":"):
            raise _bad(key, value, f"unexpected {rest!r} after IPv6 address")
        _check_host(host, key, value, True)
        return host, (rest[1:] if rest else None), True
    if "[" in text or "]" in text:
        raise _bad(key, value, "misplaced '[' or ']'")
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port_text = text, None
    else:
        port_text = port
    _check_host(host, key, value, False)
    return host, port_text, False


def parse_endpoint(value: str, key: str = ENDPOINT) -> tuple[str, int]:
    """Parse ``host:port`` (``[v6addr]:port`` for IPv6, host names allowed) into
    ``(host, port)``; the port is required, 0 allowed.  IPv6 hosts come back without brackets."""
    host, port_text, _ = _split_host(value, key, value)
    if port_text is None:
        raise _bad(key, value, "missing port (expected host:port)")
    return host, _parse_port(port_text, key, value, optional=False)


def parse_interface(value: str, key: str = INTERFACE) -> InterfaceSpec:
    """Parse ``addr[:port][/prefixlen]`` or ``{ifname}[:port]``."""
    if value.startswith("{"):
        close = value.find("}")
        if close < 0:
            raise _bad(key, value, "missing '}' after interface name")
        name = value[1:close]
        if not 1 <= len(name) <= _IFNAME_MAX or any(c in name for c in "{}/:"):
            raise _bad(key, value, f"invalid interface name {name!r}")
        rest = value[close + 1 :]
        port = 0
        if rest:
            if not rest.startswith(":"):
                raise _bad(key, value, "unexpected character after interface name")
            port = _parse_port(rest[1:], key, value, optional=False)
        return InterfaceSpec(None, name, port, None)
    text, slash, prefix_text = value.partition("/")
    host, port_text, ipv6 = _split_host(text, key, value)
    port = 0 if port_text is None else _parse_port(port_text, key, value, optional=False)
    prefix_length: int | None = None
    if slash:
        limit = 128 if ipv6 else 32
        if not prefix_text.isdecimal() or not 0 <= int(prefix_text) <= limit:
            raise _bad(key, value, f"prefix length must be 0..{limit}")
        prefix_length = int(prefix_text)
    return InterfaceSpec(host, None, port, prefix_length, ipv6)


def _literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# Individual value formats


def _int_in(key: str, value: str, low: int, high: int) -> int:
    try:
        result = parse_int(value, key)
    except ConfigurationError:
        raise _bad(key, value, "not an integer") from None
    if not low <= result <= high:
        raise _bad(key, value, f"out of range [{low}, {high}]")
    return result


def _size(key: str, value: str) -> int:
    try:
        return parse_size(value, key)
    except ConfigurationError:
        raise _bad(key, value, "not a size (digits with optional k, m or g suffix)") from None


def _duration(key: str, value: str) -> int:
    try:
        return parse_duration_ns(value, key)
    except ConfigurationError:
        raise _bad(key, value, "not a duration (digits with optional s, ms, us or ns suffix)") from None


def _bool(key: str, value: str) -> bool:
    if value == "true":
        return True
    if value == "false":
        return False
    raise _bad(key, value, "must be true or false")


def _decimal_int64(key: str, value: str, text: str, what: str) -> int:
    if not re.fullmatch(r"-?[0-9]+", text) or not INT64_MIN <= int(text) <= INT64_MAX:
        raise _bad(key, value, f"invalid {what} {text!r} (decimal int64 expected)")
    return int(text)


def parse_tags(value: str) -> tuple[int | None, int | None]:
    """Parse ``tags=channelTag[,entityTag]`` (either part may be empty, not both)."""
    channel_text, _, entity_text = value.partition(",")
    if not channel_text and not entity_text:
        raise _bad(TAGS, value, "no tag given")
    channel = _decimal_int64(TAGS, value, channel_text, "channel tag") if channel_text else None
    entity = _decimal_int64(TAGS, value, entity_text, "entity tag") if entity_text else None
    return channel, entity


def check_mtu(key: str, value: str, mtu: int) -> int:
    """Check ``32 < mtu <= 65504`` and ``mtu % 32 == 0``."""
    if not DATA_HEADER_LENGTH < mtu <= MAX_UDP_PAYLOAD_LENGTH:
        raise _bad(key, value, f"must be > {DATA_HEADER_LENGTH} and <= {MAX_UDP_PAYLOAD_LENGTH}")
    if mtu % FRAME_ALIGNMENT:
        raise _bad(key, value, f"must be a multiple of {FRAME_ALIGNMENT}")
    return mtu


def check_term_length(key: str, value: str, length: int) -> int:
    """Check the term length is a power of two in [64 KiB, 1 GiB]."""
    if not TERM_MIN_LENGTH <= length <= TERM_MAX_LENGTH:
        raise _bad(key, value, f"must be in [{TERM_MIN_LENGTH}, {TERM_MAX_LENGTH}]")
    if not _is_power_of_two(length):
        raise _bad(key, value, "must be a power of 2")
    return length


@dataclass(frozen=True)
class FlowControlOptions:
    """A parsed ``fc=`` value: strategy ``max``/``min``/``tagged`` and its options."""

    strategy: str
    group_tag: int | None = None
    group_min_size: int | None = None
    timeout_ns: int | None = None
    rrwm: int | None = None


def parse_flow_control(value: str) -> FlowControlOptions:
    """Parse ``fc=<max|min|tagged>[,g:<tag>[/<minSize>]|g:/<minSize>][,t:<duration>][,rrwm:<n>]``
    (``max`` takes only ``rrwm``)."""
    parts = value.split(",")
    strategy = parts[0]
    if strategy not in ("max", "min", "tagged"):
        raise _bad(FC, value, f"unknown flow control strategy {strategy!r} (expected max, min or tagged)")
    group_tag: int | None = None
    group_min_size: int | None = None
    timeout_ns: int | None = None
    rrwm: int | None = None
    for option in parts[1:]:
        if option.startswith("rrwm:"):
            text = option[5:]
            if not text.isdecimal() or not 0 < int(text) <= INT32_MAX:
                raise _bad(FC, value, f"invalid rrwm option {option!r} (positive integer expected)")
            rrwm = int(text)
        elif strategy != "max" and option.startswith("g:") and len(option) > 2:
            m = re.fullmatch(r"(-?[0-9]+)?(?:/([0-9]+))?", option[2:])
            if m is None or (m.group(1) is None and m.group(2) is None):
                raise _bad(FC, value, f"invalid group option {option!r} (g:<tag>[/<minSize>])")
            if m.group(1) is not None:
                group_tag = int(m.group(1))
                if not INT64_MIN <= group_tag <= INT64_MAX:
                    raise _bad(FC, value, f"group tag out of int64 range in {option!r}")
            if m.group(2) is not None:
                group_min_size = int(m.group(2))
                if group_min_size > INT32_MAX:
                    raise _bad(FC, value, f"group min size out of range in {option!r}")
        elif strategy != "max" and option.startswith("t:") and len(option) > 2:
            try:
                timeout_ns = parse_duration_ns(option[2:], FC)
            except ConfigurationError:
                raise _bad(FC, value, f"invalid timeout option {option!r}") from None
        else:
            raise _bad(FC, value, f"unrecognised flow control option {option!r}")
    return FlowControlOptions(strategy, group_tag, group_min_size, timeout_ns, rrwm)


def parse_timestamp_offset(value: str, key: str) -> int:
    """Parse a timestamp offset: ``reserved`` (→ :data:`RESERVED_VALUE_OFFSET`) or an int32 ≥ 0."""
    if value == "reserved":
        return RESERVED_VALUE_OFFSET
    return _int_in(key, value, 0, INT32_MAX)


def _response_correlation_id(value: str) -> int:
    if value == "prototype":
        return PROTOTYPE_CORRELATION_ID
    try:
        result = parse_int(value, RESPONSE_CORRELATION_ID)
    except ConfigurationError:
        result = INT64_MIN - 1
    if not -1 <= result <= INT64_MAX:
        raise _bad(RESPONSE_CORRELATION_ID, value, "must be an int64 >= -1 or 'prototype'")
    return result


def _session_id(value: str) -> tuple[int | None, int | None]:
    """Return (session_id, tag) for ``session-id=<int32>`` or ``session-id=tag:<int64>``."""
    if value.startswith("tag:"):
        return None, _tag_ref(value)
    return _int_in(SESSION_ID, value, INT32_MIN, INT32_MAX), None


def _tag_ref(value: str) -> int:
    try:
        tag = parse_int(value[4:], SESSION_ID)
    except ConfigurationError:
        raise _bad(SESSION_ID, value, "invalid tag reference (tag:<int64>)") from None
    if not INT64_MIN <= tag <= INT64_MAX:
        raise _bad(SESSION_ID, value, "tag out of int64 range")
    return tag


def _group(value: str) -> str:
    if value not in ("true", "infer", "false"):
        raise _bad(GROUP, value, "must be true, infer or false")
    return value


def _one_of(*choices: str) -> Callable[[str, str], str]:
    def check(key: str, value: str) -> str:
        if value not in choices:
            raise _bad(key, value, "must be one of " + ", ".join(choices))
        return value

    return check


def _max_resend(key: str, value: str) -> int:
    result = _size(key, value)
    if not 1 <= result <= MAX_RESEND_MAX:
        raise _bad(key, value, f"must be > 0 and <= {MAX_RESEND_MAX}")
    return result


def _mtu(key: str, value: str) -> int:
    return check_mtu(key, value, _size(key, value))


def _term_length(key: str, value: str) -> int:
    return check_term_length(key, value, _size(key, value))


def _term_offset(key: str, value: str) -> int:
    result = _int_in(key, value, 0, TERM_MAX_LENGTH)
    if result % FRAME_ALIGNMENT:
        raise _bad(key, value, f"must be a multiple of {FRAME_ALIGNMENT}")
    return result


def _pub_wnd(key: str, value: str) -> int:
    result = _size(key, value)
    if result > TERM_MAX_LENGTH // 2:
        raise _bad(key, value, f"must be <= {TERM_MAX_LENGTH // 2}")
    return result


def _socket_buffer(key: str, value: str) -> int:
    result = _size(key, value)
    if result > INT32_MAX:
        raise _bad(key, value, f"must be <= {INT32_MAX}")
    return result


def _checked(fn: Callable[[str, str], object]) -> Callable[[str, str], None]:
    def check(key: str, value: str) -> None:
        fn(key, value)

    return check


_VALIDATORS: dict[str, Callable[[str, str], None]] = {
    ENDPOINT: _checked(lambda k, v: parse_endpoint(v, k)),
    INTERFACE: _checked(lambda k, v: parse_interface(v, k)),
    CONTROL: _checked(lambda k, v: parse_endpoint(v, k)),
    CONTROL_MODE: _checked(_one_of(*CONTROL_MODES)),
    TTL: _checked(lambda k, v: _int_in(k, v, 0, 255)),
    TAGS: _checked(lambda k, v: parse_tags(v)),
    SESSION_ID: _checked(lambda k, v: _session_id(v)),
    STREAM_ID: _checked(lambda k, v: _int_in(k, v, INT32_MIN, INT32_MAX)),
    MTU: _checked(_mtu),
    TERM_LENGTH: _checked(_term_length),
    INIT_TERM_ID: _checked(lambda k, v: _int_in(k, v, INT32_MIN, INT32_MAX)),
    TERM_ID: _checked(lambda k, v: _int_in(k, v, INT32_MIN, INT32_MAX)),
    TERM_OFFSET: _checked(_term_offset),
    PUB_WND: _checked(_pub_wnd),
    LINGER: _checked(_duration),
    SPARSE: _checked(_bool),
    EOS: _checked(_bool),
    SSC: _checked(_bool),
    MAX_RESEND: _checked(_max_resend),
    FC: _checked(lambda k, v: parse_flow_control(v)),
    RESPONSE_CORRELATION_ID: _checked(lambda k, v: _response_correlation_id(v)),
    RELIABLE: _checked(_bool),
    TETHER: _checked(_bool),
    REJOIN: _checked(_bool),
    GROUP: _checked(lambda k, v: _group(v)),
    GTAG: _checked(lambda k, v: _int_in(k, v, INT64_MIN, INT64_MAX)),
    CC: _checked(_one_of("static", "cubic")),
    RCV_WND: _checked(_socket_buffer),
    SO_RCVBUF: _checked(_socket_buffer),
    SO_SNDBUF: _checked(_socket_buffer),
    NAK_DELAY: _checked(_duration),
    UNTETHERED_WINDOW_LIMIT_TIMEOUT: _checked(_duration),
    UNTETHERED_LINGER_TIMEOUT: _checked(_duration),
    UNTETHERED_RESTING_TIMEOUT: _checked(_duration),
    MEDIA_RCV_TS_OFFSET: _checked(lambda k, v: parse_timestamp_offset(v, k)),
    CHANNEL_RCV_TS_OFFSET: _checked(lambda k, v: parse_timestamp_offset(v, k)),
    CHANNEL_SND_TS_OFFSET: _checked(lambda k, v: parse_timestamp_offset(v, k)),
    ATS: _checked(_bool),
}

KNOWN_KEYS = frozenset(_VALIDATORS) | {ALIAS, RESPONSE_ENDPOINT}
"""Every documented key; others are accepted and ignored."""


def validate_params(uri: ChannelUri) -> None:
    """Check the value format of every documented key present (both media) and that the
    timestamp offsets are at least 8 bytes apart; unknown keys pass."""
    for key, value in uri.params.items():
        check = _VALIDATORS.get(key)
        if check is not None:
            check(key, value)
    offsets = [
        (key, parse_timestamp_offset(uri.params[key], key))
        for key in (MEDIA_RCV_TS_OFFSET, CHANNEL_RCV_TS_OFFSET, CHANNEL_SND_TS_OFFSET)
        if key in uri.params
    ]
    for i, (key_a, a) in enumerate(offsets):
        for key_b, b in offsets[i + 1 :]:
            if abs(a - b) < 8:
                raise InvalidChannelError(f"{key_a} and {key_b} overlap (must be >= 8 bytes apart)")


# ---------------------------------------------------------------------------------------------
# Structural rules for UDP channels


def validate_udp_channel(uri: ChannelUri, *, is_publication: bool, is_destination: bool = False) -> None:
    """Apply the C driver's structural UDP channel rules (uri.md §3) plus value formats.

    ``is_destination`` with ``is_publication`` means a send destination (ADD_DESTINATION),
    without it a receive destination (ADD_RCV_DESTINATION).
    """
    if not uri.is_udp:
        raise InvalidChannelError(f"UDP channels must use UDP URIs: {uri}")
    if uri.is_spy and is_publication:
        what = "send destinations" if is_destination else "publications"
        raise InvalidChannelError(f"aeron-spy: channels are invalid for {what}: {uri}")
    validate_params(uri)

    endpoint = uri.get(ENDPOINT)
    control = uri.get(CONTROL)
    control_mode = uri.get(CONTROL_MODE)
    channel_tag = parse_tags(uri.params[TAGS])[0] if TAGS in uri.params else None

    if control_mode == CONTROL_MODE_DYNAMIC and control is None:
        raise InvalidChannelError(f"control-mode=dynamic requires 'control': {uri}")
    if (
        endpoint is None
        and control is None
        and channel_tag is None
        and control_mode not in (CONTROL_MODE_MANUAL, CONTROL_MODE_RESPONSE)
    ):
        raise InvalidChannelError(
            f"URIs for UDP must specify endpoint, control, tags, or control-mode=manual/response: {uri}"
        )

    if endpoint is not None:
        host, port = parse_endpoint(endpoint)
        addr = _literal_address(host)
        if addr is not None and addr.is_multicast and addr.packed[-1] & 1 == 0:
            raise InvalidChannelError(f"endpoint={endpoint}: multicast data address must be odd: {uri}")
    else:
        port = None

    if is_destination:
        for key in INVALID_DESTINATION_KEYS:
            if key in uri.params:
                raise InvalidChannelError(f"destinations must not contain the key: {key} channel={uri}")
        if control_mode == CONTROL_MODE_RESPONSE:
            raise InvalidChannelError(f"destinations may not specify control-mode=response: {uri}")
        if is_publication:
            if endpoint is None:
                raise InvalidChannelError(f"send destinations require an endpoint: {uri}")
            if port == 0:
                raise InvalidChannelError(f"endpoint has port=0 for send destination: {uri}")
        return

    if is_publication:
        is_mdc = control_mode in (CONTROL_MODE_MANUAL, CONTROL_MODE_DYNAMIC)
        if control is not None and endpoint is None and control_mode is None:
            raise InvalidChannelError(
                f"'control' parameter requires that either 'endpoint' or 'control-mode' is specified: {uri}"
            )
        if port == 0 and not is_mdc:
            raise InvalidChannelError(f"endpoint has port=0 for publication: {uri}")
        if control_mode == CONTROL_MODE_RESPONSE and RESPONSE_CORRELATION_ID not in uri.params:
            raise InvalidChannelError(
                f"control-mode=response was specified, but no response-correlation-id set: {uri}"
            )
    elif control is not None and parse_endpoint(control, CONTROL)[1] == 0:
        raise InvalidChannelError(f"control has port=0 for subscription: {uri}")


# ---------------------------------------------------------------------------------------------
# Publication and subscription parameters


class ChannelDefaults(Protocol):
    """The driver settings a channel's parameters default to (``DriverContext`` has them all)."""

    ipc_mtu_length: int
    ipc_publication_term_window_length: int
    ipc_term_buffer_length: int
    max_resend: int
    mtu_length: int
    nak_unicast_delay_ns: int
    publication_linger_timeout_ns: int
    publication_term_window_length: int
    receiver_group_consideration: str
    receiver_group_tag: int | None
    rejoin_stream: bool
    reliable_stream: bool
    spies_simulate_connection: bool
    term_buffer_length: int
    term_buffer_sparse_file: bool
    tether_subscriptions: bool
    untethered_linger_timeout_ns: int
    untethered_resting_timeout_ns: int
    untethered_window_limit_timeout_ns: int


@dataclass
class PublicationParams:
    """Everything a publication takes from its channel (defaults from the driver context)."""

    term_length: int
    mtu_length: int
    publication_window_length: int
    linger_timeout_ns: int
    sparse: bool
    signal_eos: bool
    spies_simulate_connection: bool
    max_resend: int
    untethered_window_limit_timeout_ns: int
    untethered_linger_timeout_ns: int
    untethered_resting_timeout_ns: int
    session_id: int | None = None
    session_id_tag: int | None = None
    """``session-id=tag:N``: the conductor copies session id, mtu and term length from the
    network publication with entity tag N (explicit ``mtu``/``term-length`` must then match)."""
    initial_term_id: int | None = None
    term_id: int | None = None
    term_offset: int | None = None
    entity_tag: int | None = None
    channel_tag: int | None = None
    response_correlation_id: int = NULL_VALUE
    is_response: bool = False
    is_exclusive: bool = False
    stream_id: int | None = None
    flow_control: str | None = None
    has_term_length: bool = False
    has_mtu_length: bool = False
    has_publication_window_length: bool = False
    has_max_resend: bool = False

    @property
    def has_position(self) -> bool:
        """True when ``init-term-id``/``term-id``/``term-offset`` were given."""
        return self.initial_term_id is not None


@dataclass
class SubscriptionParams:
    """Everything a subscription takes from its channel (defaults from the driver context)."""

    reliable: bool
    tether: bool
    rejoin: bool
    sparse: bool
    group: str
    """``true``, ``infer`` or ``false``."""
    group_tag: int | None
    congestion_control: str
    nak_delay_ns: int
    untethered_window_limit_timeout_ns: int
    untethered_linger_timeout_ns: int
    untethered_resting_timeout_ns: int
    session_id: int | None = None
    receiver_window_length: int | None = None
    is_response: bool = False
    channel_tag: int | None = None


def producer_window_length(configured: int, term_length: int) -> int:
    """Publication window: ``term_length / 2`` unless a smaller non-zero value is configured."""
    half = term_length // 2
    return half if configured == 0 else min(configured, half)


def _untethered(uri: ChannelUri, ctx: ChannelDefaults) -> tuple[int, int, int]:
    window = ctx.untethered_window_limit_timeout_ns
    if (v := uri.get(UNTETHERED_WINDOW_LIMIT_TIMEOUT)) is not None:
        window = _duration(UNTETHERED_WINDOW_LIMIT_TIMEOUT, v)
    linger = ctx.untethered_linger_timeout_ns
    given = _duration(UNTETHERED_LINGER_TIMEOUT, v) if (v := uri.get(UNTETHERED_LINGER_TIMEOUT)) else 0
    if given > 0:
        linger = given
    elif linger == NULL_VALUE:
        linger = window
    resting = ctx.untethered_resting_timeout_ns
    if (v := uri.get(UNTETHERED_RESTING_TIMEOUT)) is not None:
        resting = _duration(UNTETHERED_RESTING_TIMEOUT, v)
    return window, linger, resting


def _is_response(uri: ChannelUri) -> bool:
    return uri.get(CONTROL_MODE) == CONTROL_MODE_RESPONSE


def publication_params(
    uri: ChannelUri, ctx: ChannelDefaults, *, is_ipc: bool, is_exclusive: bool
) -> PublicationParams:
    """Derive and validate a publication's parameters from ``uri`` (uri.md §2)."""
    validate_params(uri)
    p = uri.params
    window, linger, resting = _untethered(uri, ctx)
    params = PublicationParams(
        term_length=ctx.ipc_term_buffer_length if is_ipc else ctx.term_buffer_length,
        mtu_length=ctx.ipc_mtu_length if is_ipc else ctx.mtu_length,
        publication_window_length=0,
        linger_timeout_ns=ctx.publication_linger_timeout_ns,
        sparse=ctx.term_buffer_sparse_file,
        signal_eos=True,
        spies_simulate_connection=ctx.spies_simulate_connection,
        max_resend=ctx.max_resend,
        untethered_window_limit_timeout_ns=window,
        untethered_linger_timeout_ns=linger,
        untethered_resting_timeout_ns=resting,
        is_exclusive=is_exclusive,
        is_response=_is_response(uri),
        flow_control=p.get(FC),
    )
    if SESSION_ID in p:
        params.session_id, params.session_id_tag = _session_id(p[SESSION_ID])
    if TAGS in p:
        params.channel_tag, params.entity_tag = parse_tags(p[TAGS])
    if STREAM_ID in p:
        params.stream_id = _int_in(STREAM_ID, p[STREAM_ID], INT32_MIN, INT32_MAX)
    if LINGER in p:
        params.linger_timeout_ns = _duration(LINGER, p[LINGER])
    if TERM_LENGTH in p:
        params.term_length = _term_length(TERM_LENGTH, p[TERM_LENGTH])
        params.has_term_length = True
    if MAX_RESEND in p:
        params.max_resend = _max_resend(MAX_RESEND, p[MAX_RESEND])
        params.has_max_resend = True
    if MTU in p:
        params.mtu_length = _mtu(MTU, p[MTU])
        params.has_mtu_length = True

    configured = ctx.ipc_publication_term_window_length if is_ipc else ctx.publication_term_window_length
    params.publication_window_length = producer_window_length(configured, params.term_length)
    if PUB_WND in p:
        value = p[PUB_WND]
        wnd = _size(PUB_WND, value)
        if wnd < params.mtu_length:
            raise _bad(PUB_WND, value, f"cannot be less than the mtu={params.mtu_length}")
        if wnd > params.term_length // 2:
            raise _bad(PUB_WND, value, f"must not exceed half the term-length={params.term_length}")
        params.publication_window_length = wnd
        params.has_publication_window_length = True

    present = [k for k in (INIT_TERM_ID, TERM_ID, TERM_OFFSET) if k in p]
    if present:
        if len(present) < 3:
            raise InvalidChannelError(
                f"params {INIT_TERM_ID} {TERM_ID} {TERM_OFFSET} must be used as a complete set: {uri}"
            )
        initial_term_id = _int_in(INIT_TERM_ID, p[INIT_TERM_ID], INT32_MIN, INT32_MAX)
        term_id = _int_in(TERM_ID, p[TERM_ID], INT32_MIN, INT32_MAX)
        term_offset = _term_offset(TERM_OFFSET, p[TERM_OFFSET])
        if term_offset > params.term_length:
            raise _bad(TERM_OFFSET, p[TERM_OFFSET], f"must not exceed term-length={params.term_length}")
        if _wrap_int32(term_id - initial_term_id) < 0:
            raise _bad(
                TERM_ID, p[TERM_ID], f"difference from {INIT_TERM_ID}={initial_term_id} exceeds 2^31-1"
            )
        params.initial_term_id, params.term_id, params.term_offset = initial_term_id, term_id, term_offset

    if SPARSE in p:
        params.sparse = _bool(SPARSE, p[SPARSE])
    if EOS in p:
        params.signal_eos = _bool(EOS, p[EOS])
    if SSC in p:
        params.spies_simulate_connection = _bool(SSC, p[SSC])
    if RESPONSE_CORRELATION_ID in p:
        params.response_correlation_id = _response_correlation_id(p[RESPONSE_CORRELATION_ID])
    return params


def subscription_params(uri: ChannelUri, ctx: ChannelDefaults) -> SubscriptionParams:
    """Derive and validate a subscription's parameters from ``uri`` (uri.md §2)."""
    validate_params(uri)
    p = uri.params
    window, linger, resting = _untethered(uri, ctx)
    params = SubscriptionParams(
        reliable=_bool(RELIABLE, p[RELIABLE]) if RELIABLE in p else ctx.reliable_stream,
        tether=_bool(TETHER, p[TETHER]) if TETHER in p else ctx.tether_subscriptions,
        rejoin=_bool(REJOIN, p[REJOIN]) if REJOIN in p else ctx.rejoin_stream,
        sparse=_bool(SPARSE, p[SPARSE]) if SPARSE in p else ctx.term_buffer_sparse_file,
        group=_group(p[GROUP]) if GROUP in p else ctx.receiver_group_consideration,
        group_tag=ctx.receiver_group_tag,
        congestion_control=p.get(CC, "static"),
        nak_delay_ns=_duration(NAK_DELAY, p[NAK_DELAY]) if NAK_DELAY in p else ctx.nak_unicast_delay_ns,
        untethered_window_limit_timeout_ns=window,
        untethered_linger_timeout_ns=linger,
        untethered_resting_timeout_ns=resting,
        is_response=_is_response(uri),
    )
    if GTAG in p:
        params.group_tag = _int_in(GTAG, p[GTAG], INT64_MIN, INT64_MAX)
    if SESSION_ID in p:
        value = p[SESSION_ID]
        if value.startswith("tag:"):
            raise _bad(SESSION_ID, value, "tag: references are only valid for publications")
        params.session_id = _int_in(SESSION_ID, value, INT32_MIN, INT32_MAX)
    if RCV_WND in p:
        params.receiver_window_length = _socket_buffer(RCV_WND, p[RCV_WND])
    if TAGS in p:
        params.channel_tag = parse_tags(p[TAGS])[0]
    return params
