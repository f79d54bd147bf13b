"""Tests for aeronpy.uri: parsing, canonical form, parameter validation and params derivation."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aeronpy.driver.context import DriverContext
from aeronpy.errors import InvalidChannelError
from aeronpy.uri import (
    PROTOTYPE_CORRELATION_ID,
    RESERVED_VALUE_OFFSET,
    ChannelUri,
    FlowControlOptions,
    InterfaceSpec,
    PublicationParams,
    parse_endpoint,
    parse_flow_control,
    parse_interface,
    parse_tags,
    parse_timestamp_offset,
    publication_params,
    subscription_params,
    validate_params,
    validate_udp_channel,
)

CTX = DriverContext(aeron_dir="/tmp/aeron-test")


def uri(text: str) -> ChannelUri:
    return ChannelUri.parse(text)


def key_error(key: str) -> str:
    return "^" + re.escape(key) + "="


# --------------------------------------------------------------------------------- parsing


def test_parse_udp() -> None:
    u = uri("aeron:udp?endpoint=localhost:40123|mtu=8k|alias=a=b")
    assert (u.prefix, u.media) == ("", "udp")
    assert u.params == {"endpoint": "localhost:40123", "mtu": "8k", "alias": "a=b"}
    assert list(u.params) == ["endpoint", "mtu", "alias"]
    assert u.is_udp and not u.is_ipc and not u.is_spy
    assert u.get("mtu") == "8k"
    assert u.get("nope") is None and u.get("nope", "d") == "d"
    assert "mtu" in u


def test_parse_ipc_bare_and_with_params() -> None:
    assert uri("aeron:ipc") == ChannelUri("", "ipc", {})
    assert str(uri("aeron:ipc")) == "aeron:ipc"
    assert uri("aeron:ipc?").params == {}
    u = uri("aeron:ipc?term-length=64k|sparse=true")
    assert u.is_ipc and u.params == {"term-length": "64k", "sparse": "true"}


def test_parse_spy() -> None:
    u = uri("aeron-spy:aeron:udp?endpoint=224.0.1.1:40456")
    assert u.is_spy and u.is_udp
    assert str(u) == "aeron-spy:aeron:udp?endpoint=224.0.1.1:40456"
    assert str(u.without_prefix()) == "aeron:udp?endpoint=224.0.1.1:40456"


def test_trailing_pipe_accepted_as_in_c() -> None:
    assert uri("aeron:udp?endpoint=h:1|").params == {"endpoint": "h:1"}


def test_canonical_str() -> None:
    text = "aeron:udp?endpoint=h:1|interface=10.0.0.1/24|tags=1,2"
    assert str(uri(text)) == text
    assert str(uri("aeron:udp?")) == "aeron:udp?"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "scheme"),
        ("aeron", "scheme"),
        ("aeron:tcp?endpoint=h:1", "media at index 6"),
        ("Aeron:udp?endpoint=h:1", "scheme"),
        ("aeron:udp", "must be followed by '?'"),
        ("aeron:udpx?endpoint=h:1", "expected '?' at index 9"),
        ("aeron:ipcx", "expected '?' at index 9"),
        ("aeron-spy:aeron:ipc", "UDP"),
        ("aeron-spy:aeron:ipc?tags=1", "UDP"),
        ("aeron-spy:udp?endpoint=h:1", "scheme at index 10"),
        ("aeron:udp?=x", "empty key"),
        ("aeron:udp?endpoint=", "empty value"),
        ("aeron:udp?endpoint=|mtu=1", "empty value"),
        ("aeron:udp?endpoint|mtu=1", "invalid end of key"),
        ("aeron:udp?endpoint", "without '='"),
        ("aeron:udp?a=1||b=2", "invalid end of key"),
        ("aeron:udp?mtu=1|mtu=2", "duplicate key 'mtu'"),
        ("aeron:udp?a=\x00", "NUL"),
        ("aeron:udp?a=\ud800", "UTF-8"),
    ],
)
def test_parse_errors(text: str, fragment: str) -> None:
    with pytest.raises(InvalidChannelError, match=re.escape(fragment)):
        uri(text)


def test_max_length() -> None:
    base = "aeron:udp?endpoint=h:1|alias="
    ok = base + "x" * (4095 - len(base))
    assert len(ok) == 4095
    uri(ok)
    with pytest.raises(InvalidChannelError, match=r"URI length \(4096\) exceeds max supported length \(4095\)"):
        uri(ok + "x")
    with pytest.raises(InvalidChannelError, match="exceeds"):
        uri(base + "é" * 2040)  # counted in UTF-8 bytes


def test_constructor_validates() -> None:
    with pytest.raises(InvalidChannelError):
        ChannelUri("", "tcp", {})
    with pytest.raises(InvalidChannelError):
        ChannelUri("spy", "udp", {})
    with pytest.raises(InvalidChannelError):
        ChannelUri("aeron-spy", "ipc", {})
    with pytest.raises(InvalidChannelError, match="must not contain"):
        ChannelUri("", "udp", {"a": "b|c"})
    with pytest.raises(InvalidChannelError, match="must not contain"):
        ChannelUri("", "udp", {"a=": "b"})
    with pytest.raises(InvalidChannelError, match="empty"):
        ChannelUri("", "udp", {"a": ""})


def test_with_and_without_param() -> None:
    u = uri("aeron:udp?endpoint=h:1|mtu=1408")
    v = u.with_param("mtu", "8k").with_param("ttl", "4")
    assert str(v) == "aeron:udp?endpoint=h:1|mtu=8k|ttl=4"
    assert str(u) == "aeron:udp?endpoint=h:1|mtu=1408"  # unchanged
    assert str(v.without_param("endpoint")) == "aeron:udp?mtu=8k|ttl=4"
    assert v.without_param("absent") == v
    with pytest.raises(InvalidChannelError):
        u.with_param("bad|key", "x")


KEY_CHARS = st.characters(exclude_characters="=|\x00", exclude_categories=["Cs"])
VALUE_CHARS = st.characters(exclude_characters="|\x00", exclude_categories=["Cs"])


@st.composite
def channel_uris(draw: st.DrawFn) -> ChannelUri:
    media = draw(st.sampled_from(["udp", "ipc"]))
    prefix = draw(st.sampled_from(["", "aeron-spy"])) if media == "udp" else ""
    params = draw(
        st.dictionaries(
            st.text(KEY_CHARS, min_size=1, max_size=12),
            st.text(VALUE_CHARS, min_size=1, max_size=16),
            max_size=6,
        )
    )
    return ChannelUri(prefix, media, params)


@given(channel_uris())
def test_round_trip(u: ChannelUri) -> None:
    text = str(u)
    again = ChannelUri.parse(text)
    assert again == u
    assert list(again.params) == list(u.params)
    assert str(again) == text


@given(st.text(max_size=60))
def test_garbage_only_raises_invalid_channel(text: str) -> None:
    for candidate in (text, "aeron:udp?" + text, "aeron:ipc?" + text, "aeron-spy:aeron:udp?" + text):
        try:
            u = ChannelUri.parse(candidate)
        except InvalidChannelError:
            continue
        assert ChannelUri.parse(str(u)) == u


KNOWN_KEYS = [
    "endpoint", "interface", "control", "control-mode", "ttl", "tags", "session-id", "stream-id", "mtu",
    "term-length", "init-term-id", "term-id", "term-offset", "pub-wnd", "linger", "sparse", "eos", "ssc",
    "max-resend", "fc", "response-correlation-id", "reliable", "tether", "rejoin", "group", "gtag", "cc",
    "rcv-wnd", "so-rcvbuf", "so-sndbuf", "nak-delay", "untethered-window-limit-timeout",
    "untethered-linger-timeout", "untethered-resting-timeout", "media-rcv-ts-offset",
    "channel-rcv-ts-offset", "channel-snd-ts-offset", "ats",
]  # fmt: skip


@given(
    st.sampled_from(["udp", "ipc"]),
    st.dictionaries(
        st.sampled_from(KNOWN_KEYS),
        st.one_of(
            st.text(VALUE_CHARS, min_size=1, max_size=12),
            st.integers(-(2**65), 2**65).map(str),
            st.sampled_from(["true", "false", "64k", "1g", "1s", "h:0", "h:1", "[::1]:5", "tag:1", "max", "min,g:1/2"]),
        ),
        max_size=8,
    ),
)
def test_params_validation_only_raises_invalid_channel(media: str, params: dict[str, str]) -> None:
    u = ChannelUri("", media, params)
    for check in (
        lambda: validate_params(u),
        lambda: publication_params(u, CTX, is_ipc=u.is_ipc, is_exclusive=False),
        lambda: subscription_params(u, CTX),
        lambda: validate_udp_channel(u, is_publication=True),
        lambda: validate_udp_channel(u, is_publication=False),
        lambda: validate_udp_channel(u, is_publication=True, is_destination=True),
    ):
        try:
            check()
        except InvalidChannelError:
            pass


# ------------------------------------------------------------------------ per-key formats

PARAM_CASES = [
    ("endpoint", "localhost:40123", "localhost"),
    ("endpoint", "[::1]:40456", "::1:40456"),
    ("endpoint", "224.10.9.9:40456", "224.10.9.9:65536"),
    ("interface", "192.168.1.0/24", "192.168.1.0/33"),
    ("interface", "{eth0}:40456", "{eth0"),
    ("control", "10.0.0.1:0", "10.0.0.1:x"),
    ("control-mode", "manual", "automatic"),
    ("ttl", "16", "256"),
    ("tags", "1,2", "1,x"),
    ("tags", ",2", ","),
    ("session-id", "-5", "2147483648"),
    ("session-id", "tag:7", "tag:x"),
    ("stream-id", "1001", "1.5"),
    ("mtu", "8k", "1040"),
    ("mtu", "64", "32"),
    ("term-length", "64k", "96k"),
    ("term-length", "1g", "2g"),
    ("init-term-id", "-7", "0x100000000"),
    ("term-id", "0x7fffffff", "abc"),
    ("term-offset", "1024", "1000"),
    ("pub-wnd", "256k", "2g"),
    ("linger", "5s", "5min"),
    ("sparse", "true", "yes"),
    ("eos", "false", "0"),
    ("ssc", "true", "TRUE"),
    ("max-resend", "256", "257"),
    ("max-resend", "1", "0"),
    ("fc", "min,g:5/3,t:2s", "min,x:1"),
    ("fc", "tagged,g:/2", "fastest"),
    ("fc", "max,rrwm:4", "max,g:1"),
    ("response-correlation-id", "prototype", "-2"),
    ("response-correlation-id", "-1", "proto"),
    ("reliable", "false", "no"),
    ("tether", "true", "1"),
    ("rejoin", "false", "off"),
    ("group", "infer", "maybe"),
    ("gtag", "-99", "9223372036854775808"),
    ("cc", "cubic", "reno"),
    ("rcv-wnd", "1m", "1x"),
    ("so-rcvbuf", "2m", "4g"),
    ("so-sndbuf", "0", "-1"),
    ("nak-delay", "100us", "100 us"),
    ("untethered-window-limit-timeout", "10s", "10x"),
    ("untethered-linger-timeout", "1ms", "-1"),
    ("untethered-resting-timeout", "0", "s"),
    ("media-rcv-ts-offset", "reserved", "reserve"),
    ("channel-rcv-ts-offset", "0x10", "-8"),
    ("channel-snd-ts-offset", "64", "2147483648"),
    ("ats", "true", "enabled"),
]


@pytest.mark.parametrize(("key", "good", "bad"), PARAM_CASES)
@pytest.mark.parametrize("media", ["udp", "ipc"])
def test_param_formats(media: str, key: str, good: str, bad: str) -> None:
    validate_params(ChannelUri("", media, {key: good}))
    with pytest.raises(InvalidChannelError, match=key_error(key)):
        validate_params(ChannelUri("", media, {key: bad}))


def test_all_documented_keys_have_a_case() -> None:
    assert {k for k, _, _ in PARAM_CASES} == set(KNOWN_KEYS)


def test_unknown_keys_accepted() -> None:
    u = uri("aeron:udp?endpoint=h:1|mtux=garbage|custom=1")
    validate_params(u)
    assert publication_params(u, CTX, is_ipc=False, is_exclusive=False).mtu_length == CTX.mtu_length
    assert str(u) == "aeron:udp?endpoint=h:1|mtux=garbage|custom=1"


def test_alias_and_response_endpoint_are_free_text() -> None:
    validate_params(uri("aeron:udp?endpoint=h:1|alias=anything goes,;:|response-endpoint=x"))


def test_timestamp_offsets_must_not_overlap() -> None:
    validate_params(uri("aeron:udp?endpoint=h:1|media-rcv-ts-offset=0|channel-rcv-ts-offset=8"))
    validate_params(uri("aeron:udp?endpoint=h:1|media-rcv-ts-offset=reserved|channel-rcv-ts-offset=0"))
    with pytest.raises(InvalidChannelError, match="overlap"):
        validate_params(uri("aeron:udp?endpoint=h:1|media-rcv-ts-offset=0|channel-snd-ts-offset=7"))
    with pytest.raises(InvalidChannelError, match="overlap"):
        validate_params(uri("aeron:udp?endpoint=h:1|channel-rcv-ts-offset=reserved|channel-snd-ts-offset=reserved"))
    assert parse_timestamp_offset("reserved", "x") == RESERVED_VALUE_OFFSET


# ------------------------------------------------------------------------ addresses


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("localhost:40123", ("localhost", 40123)),
        ("192.168.0.1:0", ("192.168.0.1", 0)),
        ("[::1]:40456", ("::1", 40456)),
        ("[fe80::1%eth0]:1", ("fe80::1%eth0", 1)),
        ("my-host.example.com:65535", ("my-host.example.com", 65535)),
        ("host_1:0x10", ("host_1", 16)),
    ],
)
def test_parse_endpoint(text: str, expected: tuple[str, int]) -> None:
    assert parse_endpoint(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "host", "host:", ":40123", "::1:40456", "[::1]", "[::1]40456", "[::1:40456", "[zz::1]:1",
     "1.2.3.256:1", "1.2.3:1", "host:65536", "host:-1", "ho st:1", "[fe80::1%]:1", "a]:1"],
)  # fmt: skip
def test_parse_endpoint_invalid(text: str) -> None:
    with pytest.raises(InvalidChannelError, match=key_error("endpoint")):
        parse_endpoint(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.168.1.5", InterfaceSpec("192.168.1.5", None, 0, None)),
        ("192.168.1.5:40123", InterfaceSpec("192.168.1.5", None, 40123, None)),
        ("192.168.1.0/24", InterfaceSpec("192.168.1.0", None, 0, 24)),
        ("192.168.1.0:5/0", InterfaceSpec("192.168.1.0", None, 5, 0)),
        ("[fe80::]/64", InterfaceSpec("fe80::", None, 0, 64, True)),
        ("[::1]:9/128", InterfaceSpec("::1", None, 9, 128, True)),
        ("{eth0}", InterfaceSpec(None, "eth0", 0, None)),
        ("{enp0s31f6}:40456", InterfaceSpec(None, "enp0s31f6", 40456, None)),
        ("myhost", InterfaceSpec("myhost", None, 0, None)),
    ],
)
def test_parse_interface(text: str, expected: InterfaceSpec) -> None:
    assert parse_interface(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "{}", "{eth0", "{eth0}x", "{eth0}:", "{eth0}:70000", "{abcdefghijklmnop}", "1.2.3.4/33",
     "[::1]/129", "1.2.3.4/", "1.2.3.4/x", "1.2.3.4:/8", "::1", "1.2.3.4:99999"],
)  # fmt: skip
def test_parse_interface_invalid(text: str) -> None:
    with pytest.raises(InvalidChannelError, match=key_error("interface")):
        parse_interface(text)


def test_parse_tags() -> None:
    assert parse_tags("5") == (5, None)
    assert parse_tags("5,6") == (5, 6)
    assert parse_tags(",6") == (None, 6)
    assert parse_tags("5,") == (5, None)
    with pytest.raises(InvalidChannelError, match=key_error("tags")):
        parse_tags("1,2,3")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("max", FlowControlOptions("max")),
        ("max,rrwm:8", FlowControlOptions("max", rrwm=8)),
        ("min", FlowControlOptions("min")),
        ("min,t:500ms", FlowControlOptions("min", timeout_ns=500_000_000)),
        ("min,g:/3", FlowControlOptions("min", group_min_size=3)),
        ("tagged,g:100", FlowControlOptions("tagged", group_tag=100)),
        ("tagged,g:-1/2,t:1s,rrwm:2", FlowControlOptions("tagged", -1, 2, 1_000_000_000, 2)),
    ],
)
def test_parse_flow_control(text: str, expected: FlowControlOptions) -> None:
    assert parse_flow_control(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "maximum", "max,t:1s", "min,", "min,g:", "min,g:1/", "min,g:x", "min,t:", "min,t:x", "min,rrwm:0",
     "min,rrwm:-1", "tagged,z:1", "tagged,g:1/-2", ",min"],
)  # fmt: skip
def test_parse_flow_control_invalid(text: str) -> None:
    with pytest.raises(InvalidChannelError, match=key_error("fc")):
        parse_flow_control(text)


# ------------------------------------------------------------------------ UDP structure


@pytest.mark.parametrize(
    ("text", "is_pub", "is_dest"),
    [
        ("aeron:udp?endpoint=localhost:40123", True, False),
        ("aeron:udp?endpoint=localhost:0", False, False),
        ("aeron:udp?control=localhost:40124|control-mode=dynamic", True, False),
        ("aeron:udp?endpoint=h:0|control=h:1|control-mode=dynamic", True, False),
        ("aeron:udp?control-mode=manual", True, False),
        ("aeron:udp?control-mode=manual", False, False),
        ("aeron:udp?control-mode=response|control=h:1", False, False),
        ("aeron:udp?control-mode=response|response-correlation-id=prototype", True, False),
        ("aeron:udp?tags=5", True, False),
        ("aeron:udp?endpoint=224.0.1.1:40456|interface=10.0.0.0/8", True, False),
        ("aeron:udp?endpoint=[ff02::3]:40456", False, False),
        ("aeron:udp?control=h:1|endpoint=h:2", False, False),
        ("aeron:udp?endpoint=h:5", True, True),
        ("aeron:udp?endpoint=h:0", False, True),
        ("aeron-spy:aeron:udp?endpoint=h:5", False, False),
        ("aeron-spy:aeron:udp?endpoint=h:5", False, True),
    ],
)
def test_validate_udp_channel_valid(text: str, is_pub: bool, is_dest: bool) -> None:
    validate_udp_channel(uri(text), is_publication=is_pub, is_destination=is_dest)


@pytest.mark.parametrize(
    ("text", "is_pub", "is_dest", "fragment"),
    [
        ("aeron:ipc", True, False, "UDP channels must use UDP URIs"),
        ("aeron:udp?", False, False, "must specify endpoint, control, tags"),
        ("aeron:udp?interface=10.0.0.1|ttl=3", True, False, "must specify endpoint, control, tags"),
        ("aeron:udp?control-mode=dynamic|endpoint=h:1", True, False, "control-mode=dynamic requires 'control'"),
        ("aeron:udp?control=h:1", True, False, "requires that either 'endpoint' or 'control-mode'"),
        ("aeron:udp?endpoint=h:0", True, False, "port=0 for publication"),
        ("aeron:udp?control=h:0", False, False, "port=0 for subscription"),
        ("aeron:udp?control-mode=response|control=h:1", True, False, "no response-correlation-id"),
        ("aeron:udp?endpoint=224.0.1.2:40456", True, False, "must be odd"),
        ("aeron:udp?endpoint=[ff02::2]:40456", False, False, "must be odd"),
        ("aeron-spy:aeron:udp?endpoint=h:1", True, False, "aeron-spy"),
        ("aeron-spy:aeron:udp?endpoint=h:1", True, True, "send destinations"),
        ("aeron:udp?endpoint=h:0", True, True, "port=0 for send destination"),
        ("aeron:udp?control-mode=manual", True, True, "require an endpoint"),
        ("aeron:udp?endpoint=h:1|mtu=8k", True, True, "must not contain the key: mtu"),
        ("aeron:udp?endpoint=h:1|rcv-wnd=8k", False, True, "must not contain the key: rcv-wnd"),
        ("aeron:udp?endpoint=h:1|so-rcvbuf=8k", False, True, "must not contain the key: so-rcvbuf"),
        ("aeron:udp?endpoint=h:1|so-sndbuf=8k", True, True, "must not contain the key: so-sndbuf"),
        ("aeron:udp?endpoint=h:1|response-correlation-id=5", True, True, "response-correlation-id"),
        ("aeron:udp?endpoint=h:1|control=h:2|control-mode=response", False, True, "control-mode=response"),
        ("aeron:udp?endpoint=h:1|mtu=33", True, False, "mtu=33"),
    ],
)
def test_validate_udp_channel_invalid(text: str, is_pub: bool, is_dest: bool, fragment: str) -> None:
    with pytest.raises(InvalidChannelError, match=re.escape(fragment)):
        validate_udp_channel(uri(text), is_publication=is_pub, is_destination=is_dest)


# ------------------------------------------------------------------------ publication params


def pub(text: str, *, ipc: bool | None = None, ctx: DriverContext = CTX) -> PublicationParams:
    u = uri(text)
    return publication_params(u, ctx, is_ipc=u.is_ipc if ipc is None else ipc, is_exclusive=False)


def test_publication_defaults_udp_and_ipc() -> None:
    ctx = DriverContext(
        aeron_dir="/tmp/x",
        term_buffer_length=1024 * 1024,
        ipc_term_buffer_length=4 * 1024 * 1024,
        mtu_length=4096,
        ipc_mtu_length=8192,
        publication_term_window_length=128 * 1024,
        ipc_publication_term_window_length=0,
        term_buffer_sparse_file=False,
        spies_simulate_connection=True,
        max_resend=3,
    )
    p = pub("aeron:udp?endpoint=h:1", ctx=ctx)
    assert (p.term_length, p.mtu_length, p.publication_window_length) == (1024 * 1024, 4096, 128 * 1024)
    assert p.sparse is False and p.spies_simulate_connection is True and p.signal_eos is True
    assert p.max_resend == 3 and not p.has_max_resend
    assert p.linger_timeout_ns == ctx.publication_linger_timeout_ns
    assert p.session_id is None and not p.has_position
    assert p.response_correlation_id == -1 and not p.is_response
    q = pub("aeron:ipc", ctx=ctx)
    assert (q.term_length, q.mtu_length, q.publication_window_length) == (4 * 1024 * 1024, 8192, 2 * 1024 * 1024)


def test_publication_params_from_uri() -> None:
    p = pub(
        "aeron:udp?endpoint=h:1|term-length=128k|mtu=8k|pub-wnd=32k|linger=1s|sparse=false|eos=false|ssc=true"
        "|max-resend=4|session-id=77|tags=3,4|fc=min|stream-id=10"
        "|untethered-window-limit-timeout=7s|untethered-resting-timeout=9s"
    )
    assert (p.term_length, p.mtu_length, p.publication_window_length) == (128 * 1024, 8192, 32 * 1024)
    assert p.has_term_length and p.has_mtu_length and p.has_publication_window_length and p.has_max_resend
    assert p.linger_timeout_ns == 1_000_000_000
    assert (p.sparse, p.signal_eos, p.spies_simulate_connection) == (False, False, True)
    assert p.max_resend == 4
    assert p.session_id == 77 and p.session_id_tag is None
    assert (p.channel_tag, p.entity_tag) == (3, 4)
    assert p.flow_control == "min"
    assert p.stream_id == 10
    assert p.untethered_window_limit_timeout_ns == 7_000_000_000
    assert p.untethered_linger_timeout_ns == 7_000_000_000  # follows the window limit when unset
    assert p.untethered_resting_timeout_ns == 9_000_000_000


def test_untethered_linger() -> None:
    assert pub("aeron:ipc?untethered-linger-timeout=3s").untethered_linger_timeout_ns == 3_000_000_000
    ctx = DriverContext(aeron_dir="/x", untethered_linger_timeout_ns=2_000_000_000)
    assert pub("aeron:ipc", ctx=ctx).untethered_linger_timeout_ns == 2_000_000_000
    assert pub("aeron:ipc?untethered-linger-timeout=0", ctx=ctx).untethered_linger_timeout_ns == 2_000_000_000


def test_session_id_tag() -> None:
    p = pub("aeron:udp?endpoint=h:1|session-id=tag:0x10")
    assert p.session_id is None and p.session_id_tag == 16


def test_response_correlation_id() -> None:
    p = pub("aeron:udp?control-mode=response|response-correlation-id=prototype")
    assert p.is_response and p.response_correlation_id == PROTOTYPE_CORRELATION_ID
    assert pub("aeron:udp?endpoint=h:1|response-correlation-id=42").response_correlation_id == 42
    assert pub("aeron:ipc?control-mode=response|response-correlation-id=-1").is_response


def test_position_params() -> None:
    p = pub("aeron:ipc?term-length=64k|init-term-id=-5|term-id=10|term-offset=1024")
    assert (p.initial_term_id, p.term_id, p.term_offset) == (-5, 10, 1024) and p.has_position
    wrapped = pub("aeron:ipc?init-term-id=2147483647|term-id=-2147483648|term-offset=0")
    assert (wrapped.initial_term_id, wrapped.term_id) == (2**31 - 1, -(2**31))
    assert pub("aeron:ipc?term-length=64k|init-term-id=0|term-id=0|term-offset=65536").term_offset == 65536


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("aeron:ipc?init-term-id=1", "complete set"),
        ("aeron:ipc?init-term-id=1|term-id=1", "complete set"),
        ("aeron:ipc?term-offset=0", "complete set"),
        ("aeron:ipc?term-length=64k|init-term-id=0|term-id=0|term-offset=65568", "term-offset=65568"),
        ("aeron:ipc?init-term-id=0|term-id=0|term-offset=33", "term-offset=33: must be a multiple of 32"),
        ("aeron:ipc?init-term-id=5|term-id=4|term-offset=0", "term-id=4"),
        ("aeron:ipc?init-term-id=-2147483648|term-id=2147483647|term-offset=0", "term-id=2147483647"),
        ("aeron:ipc?term-length=64k|mtu=8k|pub-wnd=4k", "pub-wnd=4k: cannot be less than the mtu=8192"),
        ("aeron:ipc?term-length=64k|pub-wnd=33k", "pub-wnd=33k: must not exceed half the term-length=65536"),
        ("aeron:udp?endpoint=h:1|max-resend=300", "max-resend=300"),
        ("aeron:udp?endpoint=h:1|mtu=1424", "mtu=1424: must be a multiple of 32"),
        ("aeron:udp?endpoint=h:1|mtu=65536", "mtu=65536: must be > 32 and <= 65504"),
        ("aeron:udp?endpoint=h:1|term-length=100k", "term-length=100k: must be a power of 2"),
        ("aeron:udp?endpoint=h:1|term-length=32k", "term-length=32k: must be in"),
        ("aeron:udp?endpoint=h:1|sparse=True", "sparse=True"),
        ("aeron:udp?endpoint=h:1|fc=min,g", "fc=min,g"),
        ("aeron:udp?endpoint=h:1|tags=a", "tags=a"),
        ("aeron:udp?endpoint=h:1|session-id=tag:", "session-id=tag:"),
        ("aeron:udp?endpoint=h:1|response-correlation-id=-3", "response-correlation-id=-3"),
    ],
)
def test_publication_params_invalid(text: str, fragment: str) -> None:
    with pytest.raises(InvalidChannelError, match=re.escape(fragment)):
        pub(text)


def test_publication_window_default_capped_to_half_term() -> None:
    ctx = DriverContext(aeron_dir="/x", publication_term_window_length=64 * 1024 * 1024)
    assert pub("aeron:udp?endpoint=h:1|term-length=1m", ctx=ctx).publication_window_length == 512 * 1024


# ------------------------------------------------------------------------ subscription params


def test_subscription_defaults() -> None:
    ctx = DriverContext(
        aeron_dir="/x",
        reliable_stream=False,
        tether_subscriptions=False,
        rejoin_stream=False,
        term_buffer_sparse_file=False,
        receiver_group_consideration="true",
        receiver_group_tag=9,
        nak_unicast_delay_ns=5000,
    )
    s = subscription_params(uri("aeron:udp?endpoint=h:1"), ctx)
    assert (s.reliable, s.tether, s.rejoin, s.sparse) == (False, False, False, False)
    assert s.group == "true" and s.group_tag == 9
    assert s.nak_delay_ns == 5000 and s.congestion_control == "static"
    assert s.session_id is None and s.receiver_window_length is None and not s.is_response


def test_subscription_params_from_uri() -> None:
    s = subscription_params(
        uri(
            "aeron:udp?endpoint=h:1|control=h:2|control-mode=response|reliable=false|tether=false|rejoin=false"
            "|sparse=false|group=false|gtag=-4|cc=cubic|nak-delay=20us|session-id=-9|rcv-wnd=256k|tags=8"
            "|untethered-resting-timeout=1s"
        ),
        CTX,
    )
    assert (s.reliable, s.tether, s.rejoin, s.sparse, s.group) == (False, False, False, False, "false")
    assert s.group_tag == -4 and s.congestion_control == "cubic" and s.nak_delay_ns == 20_000
    assert s.session_id == -9 and s.receiver_window_length == 256 * 1024 and s.channel_tag == 8
    assert s.is_response and s.untethered_resting_timeout_ns == 1_000_000_000
    assert subscription_params(uri("aeron:ipc?control-mode=response"), CTX).is_response


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("aeron:udp?endpoint=h:1|session-id=tag:5", "session-id"),
        ("aeron:udp?endpoint=h:1|reliable=yes", "reliable"),
        ("aeron:udp?endpoint=h:1|group=sometimes", "group"),
        ("aeron:udp?endpoint=h:1|rcv-wnd=big", "rcv-wnd"),
        ("aeron:ipc?tether=1", "tether"),
    ],
)
def test_subscription_params_invalid(text: str, key: str) -> None:
    with pytest.raises(InvalidChannelError, match=key_error(key)):
        subscription_params(uri(text), CTX)
