"""UdpChannel: address rules and canonical forms (cases from the C driver's channel tests)."""

from __future__ import annotations

import itertools
import re
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.driver.media.netutil import (
    IFF_LOOPBACK,
    IFF_MULTICAST,
    IFF_UP,
    InterfaceAddress,
    find_interface_by_address,
    list_interface_addresses,
)
from aeronpy.driver.media.udp_channel import UdpChannel, UnknownHostError
from aeronpy.errors import InvalidChannelError
from aeronpy.uri import ChannelUri

LO = IFF_UP | IFF_LOOPBACK
ETH = IFF_UP | IFF_MULTICAST

FAKE_IFS = [
    InterfaceAddress("lo", 1, socket.AF_INET, "127.0.0.1", 8, LO),
    InterfaceAddress("eth0", 2, socket.AF_INET, "192.168.1.20", 24, ETH),
    InterfaceAddress("eth1", 3, socket.AF_INET, "10.0.0.5", 8, ETH),
    InterfaceAddress("down0", 4, socket.AF_INET, "172.16.0.1", 16, IFF_MULTICAST),
    InterfaceAddress("lo", 1, socket.AF_INET6, "::1", 128, LO),
    InterfaceAddress("eth0", 2, socket.AF_INET6, "fe80::1", 64, ETH),
]


def fake_resolver(name: str, family: int) -> str:
    table = {"localhost": "127.0.0.1", "NAME_ENDPOINT": "192.168.1.1", "NAME_CONTROL": "192.168.1.2"}
    if name in table:
        return table[name]
    raise UnknownHostError(f"unknown host {name}")


def parse(uri: str, **kw: object) -> UdpChannel:
    kw.setdefault("resolve", fake_resolver)
    kw.setdefault("interfaces", lambda: FAKE_IFS)
    return UdpChannel.parse(uri, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "uri, canonical",
    [
        ("aeron:udp?endpoint=192.168.0.1:20000", "UDP-0.0.0.0:0-192.168.0.1:20000"),
        ("aeron:udp?interface=127.0.0.1|endpoint=192.168.0.1:20000", "UDP-127.0.0.1:0-192.168.0.1:20000"),
        ("aeron:udp?interface=127.0.0.1:40455|endpoint=192.168.0.1:20000", "UDP-127.0.0.1:40455-192.168.0.1:20000"),
        ("aeron:udp?interface=localhost|endpoint=localhost:20000", "UDP-127.0.0.1:0-localhost:20000"),
        (
            "aeron:udp?interface=127.0.0.1:40455|endpoint=[fe80::5246:5dff:fe73:df06]:20000",
            "UDP-127.0.0.1:40455-[fe80::5246:5dff:fe73:df06]:20000",
        ),
        ("aeron:udp?endpoint=192.168.0.1:20000|interface=[::1]", "UDP-[::1]:0-192.168.0.1:20000"),
        ("aeron:udp?interface=127.0.0.1:40455|endpoint=224.0.1.1:20000", "UDP-127.0.0.1:40455-224.0.1.1:20000"),
        ("aeron:udp?interface=localhost|endpoint=224.0.1.1:20000", "UDP-127.0.0.1:0-224.0.1.1:20000"),
        ("aeron:udp?interface=127.0.0.1|endpoint=224.0.1.1:20000", "UDP-127.0.0.1:0-224.0.1.1:20000"),
        ("aeron:udp?interface=127.0.0.0:40455/29|endpoint=224.0.1.1:20000", "UDP-127.0.0.1:40455-224.0.1.1:20000"),
        ("aeron:udp?interface=localhost/29|endpoint=224.0.1.1:20000", "UDP-127.0.0.1:0-224.0.1.1:20000"),
        ("aeron:udp?interface=[::1]|endpoint=[FF01::FD]:20000", "UDP-[::1]:0-[ff01::fd]:20000"),
        ("aeron:udp?interface=[::1]:54321/64|endpoint=[FF01::FD]:20000", "UDP-[::1]:54321-[ff01::fd]:20000"),
        ("aeron:udp?tags=1001|endpoint=[::1]:0", "UDP-[::]:0-[::1]:0#1001"),
        ("aeron:udp?tags=1001|endpoint=[::1]:9999|control=[::1]:0", "UDP-[::1]:0-[::1]:9999#1001"),
        ("aeron:udp?tags=1001|endpoint=127.0.0.1:0", "UDP-0.0.0.0:0-127.0.0.1:0#1001"),
        ("aeron:udp?tags=1001|endpoint=127.0.0.1:9999|control=127.0.0.1:0", "UDP-127.0.0.1:0-127.0.0.1:9999#1001"),
        ("aeron:udp?endpoint=NAME_ENDPOINT:40124|interface=localhost", "UDP-127.0.0.1:0-NAME_ENDPOINT:40124"),
        ("aeron:udp?endpoint=NAME_ENDPOINT:40124|control=NAME_CONTROL:40125", "UDP-NAME_CONTROL:40125-NAME_ENDPOINT:40124"),
        ("aeron:udp?endpoint=192.168.1.1:40124|control=192.168.1.2:40192", "UDP-192.168.1.2:40192-192.168.1.1:40124"),
        ("aeron:udp?control=127.0.0.1:40124|control-mode=dynamic", "UDP-127.0.0.1:40124-0.0.0.0:0"),
        ("aeron:udp?control=[::1]:40124|control-mode=dynamic", "UDP-[::1]:40124-[::]:0"),
        ("aeron:udp?endpoint=224.0.1.1:20000|interface={lo}:7", "UDP-127.0.0.1:7-224.0.1.1:20000"),
        ("aeron:udp?endpoint=224.0.1.1:20000", "UDP-192.168.1.20:0-224.0.1.1:20000"),
        ("aeron:udp?endpoint=224.0.1.1:0", "UDP-192.168.1.20:0-224.0.1.1:0"),
    ],
)
def test_canonical_form(uri: str, canonical: str) -> None:
    assert parse(uri).canonical_form == canonical


@pytest.mark.parametrize(
    "uri, prefix",
    [
        ("aeron:udp?endpoint=[::1]:0", "UDP-[::]:0-[::1]:0-"),
        ("aeron:udp?endpoint=[::1]:9999|control=[::1]:0", "UDP-[::1]:0-[::1]:9999-"),
        ("aeron:udp?endpoint=127.0.0.1:0", "UDP-0.0.0.0:0-127.0.0.1:0-"),
        ("aeron:udp?endpoint=127.0.0.1:9999|control=127.0.0.1:0", "UDP-127.0.0.1:0-127.0.0.1:9999-"),
        ("aeron:udp?control-mode=manual", "UDP-0.0.0.0:0-0.0.0.0:0-"),
    ],
)
def test_unique_suffix_uses_counter(uri: str, prefix: str) -> None:
    counter = itertools.count(7)
    a = parse(uri, unique_id=lambda: next(counter))
    b = parse(uri, unique_id=lambda: next(counter))
    assert a.canonical_form == prefix + "7"
    assert b.canonical_form == prefix + "8"
    assert not a.canonical_equals(b)


def test_unique_suffix_default_counter_differs() -> None:
    a = parse("aeron:udp?endpoint=127.0.0.1:0")
    b = parse("aeron:udp?endpoint=127.0.0.1:0")
    assert re.fullmatch(r"UDP-0\.0\.0\.0:0-127\.0\.0\.1:0-\d+", a.canonical_form)
    assert a.canonical_form != b.canonical_form


def test_destination_has_no_unique_suffix() -> None:
    assert parse("aeron:udp?endpoint=127.0.0.1:0", is_destination=True).canonical_form == "UDP-0.0.0.0:0-127.0.0.1:0"


@pytest.mark.parametrize(
    "a, b, equal",
    [
        ("aeron:udp?endpoint=localhost:9090", "aeron:udp?endpoint=localhost:9090", True),
        ("aeron:udp?endpoint=localhost:9090|session-id=12", "aeron:udp?endpoint=localhost:9090|session-id=13", True),
        (
            "aeron:udp?endpoint=localhost:9090|interface=127.0.0.1:9090",
            "aeron:udp?endpoint=localhost:9090|interface=127.0.0.1:9091",
            False,
        ),
        ("aeron:udp?endpoint=localhost:9090", "aeron:udp?endpoint=127.0.0.1:9090", False),
    ],
)
def test_canonical_equality(a: str, b: str, equal: bool) -> None:
    assert parse(a).canonical_equals(parse(b)) is equal


def test_unicast_addresses() -> None:
    c = parse("aeron:udp?endpoint=192.168.0.1:40123|interface=127.0.0.1:4000")
    assert not c.is_multicast and c.family == socket.AF_INET
    assert c.remote_data == c.remote_control == ("192.168.0.1", 40123)
    assert c.local_data == c.local_control == ("127.0.0.1", 4000)
    assert c.interface_index == 1 and c.interface_address == ("127.0.0.1", 4000)
    assert c.has_explicit_endpoint and not c.has_explicit_control and c.control_mode is None
    assert c.multicast_ttl == 0


def test_unicast_wildcard_interface_keeps_port_and_skips_search() -> None:
    c = parse("aeron:udp?endpoint=192.168.0.1:40123|interface=0.0.0.0:4444", interfaces=lambda: [])
    assert c.local_control == ("0.0.0.0", 4444) and c.interface_index == 0


def test_mdc_control_addresses() -> None:
    c = parse("aeron:udp?control=127.0.0.1:40124|control-mode=dynamic|fc=min")
    assert c.has_explicit_control and not c.has_explicit_endpoint
    assert c.local_control == c.local_data == ("127.0.0.1", 40124)
    assert c.remote_data == ("0.0.0.0", 0)
    assert c.is_dynamic_control_mode and c.is_multidestination and c.has_group_semantics
    m = parse("aeron:udp?control-mode=manual")
    assert m.is_manual_control_mode and m.is_multidestination and m.is_wildcard
    r = parse("aeron:udp?control-mode=response|control=127.0.0.1:1000")
    assert r.is_response_control_mode and not r.is_multidestination


@pytest.mark.parametrize(
    "uri, group, control, iface, index",
    [
        ("aeron:udp?endpoint=224.0.1.1:40456|interface=127.0.0.0/8", "224.0.1.1", "224.0.1.2", "127.0.0.1", 1),
        ("aeron:udp?endpoint=239.255.255.253:1|interface={eth1}", "239.255.255.253", "239.255.255.254", "10.0.0.5", 3),
        ("aeron:udp?endpoint=224.0.1.1:40456|interface=10.1.2.3/8", "224.0.1.1", "224.0.1.2", "10.0.0.5", 3),
        ("aeron:udp?endpoint=[ff02::3]:40456|interface={lo}", "ff02::3", "ff02::4", "::1", 1),
        ("aeron:udp?endpoint=[ff02::ff]:40456|interface=[::1]", "ff02::ff", "ff02::", "::1", 1),  # last byte wraps, no carry
        ("aeron:udp?endpoint=239.1.1.255:1|interface=127.0.0.1", "239.1.1.255", "239.1.1.0", "127.0.0.1", 1),
    ],
)
def test_multicast_groups(uri: str, group: str, control: str, iface: str, index: int) -> None:
    c = parse(uri)
    assert c.is_multicast and c.has_group_semantics
    port = c.remote_data[1]
    assert c.remote_data == (group, port)
    assert c.remote_control == (control, port)
    assert c.local_data[0] == c.local_control[0] == iface
    assert c.interface_index == index


def test_multicast_default_interface_prefers_longest_multicast_netmask() -> None:
    c = parse("aeron:udp?endpoint=224.0.1.1:40456")
    assert c.local_data == ("192.168.1.20", 0) and c.interface_index == 2


def test_multicast_default_interface_falls_back_to_loopback() -> None:
    only_lo = [e for e in FAKE_IFS if e.name == "lo"]
    c = parse("aeron:udp?endpoint=224.0.1.1:40456", interfaces=lambda: only_lo)
    assert c.local_data == ("127.0.0.1", 0) and c.interface_index == 1
    c6 = parse("aeron:udp?endpoint=[ff02::1]:40456", interfaces=lambda: only_lo)
    assert c6.local_data == ("::1", 0)


def test_loopback_first_then_multicast_interface_wins() -> None:
    entries = [FAKE_IFS[0], FAKE_IFS[1]]
    assert find_interface_by_address(socket.AF_INET, "0.0.0.0", 0, entries).name == "eth0"
    assert find_interface_by_address(socket.AF_INET, "127.0.0.0", 8, entries).name == "lo"


def test_down_interface_is_ignored() -> None:
    with pytest.raises(InvalidChannelError, match="could not find matching interface"):
        parse("aeron:udp?endpoint=224.0.1.1:1|interface=172.16.0.0/16")


def test_multicast_ttl() -> None:
    assert parse("aeron:udp?endpoint=224.0.1.1:1|ttl=16").multicast_ttl == 16
    assert parse("aeron:udp?endpoint=224.0.1.1:1", default_multicast_ttl=5).multicast_ttl == 5
    assert parse("aeron:udp?endpoint=224.0.1.1:1|ttl=0", default_multicast_ttl=5).multicast_ttl == 5
    assert parse("aeron:udp?endpoint=127.0.0.1:1|ttl=16", default_multicast_ttl=5).multicast_ttl == 0


@pytest.mark.parametrize("group", ["224.0.1.2", "239.1.1.0", "[ff02::2]"])
def test_multicast_even_last_byte_rejected(group: str) -> None:
    with pytest.raises(InvalidChannelError, match="must be odd"):
        parse(f"aeron:udp?endpoint={group}:40456|interface=127.0.0.1")


@pytest.mark.parametrize(
    "uri, message",
    [
        ("aeron:ipc", "UDP channels must use UDP URIs"),
        ("aeron:udp?interface=127.0.0.1", "must specify endpoint, control, tags"),
        ("aeron:udp?control-mode=dynamic|endpoint=127.0.0.1:1", "explicit control expected"),
        ("aeron:udp?endpoint=127.0.0.1", "missing port"),
        ("aeron:udp?endpoint=224.0.1.1:1|interface={nosuchif0}", "unknown interface nosuchif0"),
        ("aeron:udp?endpoint=224.0.1.1:1|interface=8.8.8.8", "could not find matching interface"),
        ("aeron:udp?endpoint=224.0.1.1:1|interface={down0}", "unknown interface"),
        ("aeron:udp?endpoint=[ff02::1]:1|interface={eth1}", "no INET6 addresses found on interface eth1"),
    ],
)
def test_invalid_channels(uri: str, message: str) -> None:
    with pytest.raises(InvalidChannelError, match=re.escape(message)):
        parse(uri)


def test_unknown_host() -> None:
    with pytest.raises(UnknownHostError, match="endpoint=no.such.host:40123"):
        parse("aeron:udp?endpoint=no.such.host:40123")
    with pytest.raises(UnknownHostError, match="control=nowhere:1"):
        parse("aeron:udp?control=nowhere:1|control-mode=dynamic")
    with pytest.raises(UnknownHostError):
        parse("aeron:udp?endpoint=127.0.0.1:1|interface=nowhere")

    def os_failure(name: str, family: int) -> str:
        raise OSError("resolver down")

    with pytest.raises(UnknownHostError, match="resolver down"):
        parse("aeron:udp?endpoint=somewhere:1", resolve=os_failure)


def test_default_resolver_unknown_host() -> None:
    with pytest.raises(UnknownHostError):
        UdpChannel.parse("aeron:udp?endpoint=host.invalid:40123", interfaces=lambda: FAKE_IFS)


def test_buffer_and_tag_fields() -> None:
    c = parse("aeron:udp?endpoint=127.0.0.1:1|so-sndbuf=64k|so-rcvbuf=1m|rcv-wnd=128k|tags=5,9")
    assert (c.so_sndbuf, c.so_rcvbuf, c.receiver_window_length) == (65536, 1048576, 131072)
    assert c.socket_sndbuf_or(7) == 65536 and parse("aeron:udp?endpoint=127.0.0.1:1").socket_sndbuf_or(7) == 7
    assert c.channel_tag == 5 and c.entity_tag == 9
    assert parse("aeron:udp?endpoint=127.0.0.1:1").so_rcvbuf == 0


def test_accepts_channel_uri_and_spy() -> None:
    uri = ChannelUri.parse("aeron:udp?endpoint=127.0.0.1:40123")
    assert parse(uri).canonical_form == "UDP-0.0.0.0:0-127.0.0.1:40123"  # type: ignore[arg-type]
    spy = parse("aeron-spy:aeron:udp?endpoint=127.0.0.1:40123")
    assert spy.canonical_form == "UDP-0.0.0.0:0-127.0.0.1:40123"
    assert spy.original_uri == "aeron-spy:aeron:udp?endpoint=127.0.0.1:40123"


def test_matches_tag() -> None:
    endpoint = parse("aeron:udp?endpoint=127.0.0.1:40123|tags=7")
    assert parse("aeron:udp?tags=7").matches_tag(endpoint)
    assert parse("aeron:udp?endpoint=127.0.0.1:40123|tags=7").matches_tag(endpoint)
    assert not parse("aeron:udp?tags=8").matches_tag(endpoint)
    assert not parse("aeron:udp?endpoint=127.0.0.1:40123").matches_tag(endpoint)
    with pytest.raises(InvalidChannelError, match="mismatched endpoint or control"):
        parse("aeron:udp?endpoint=127.0.0.1:40124|tags=7").matches_tag(endpoint)
    manual = parse("aeron:udp?control-mode=manual|tags=7")
    with pytest.raises(InvalidChannelError, match="mismatched control-mode"):
        manual.matches_tag(endpoint)
    # bound-port override (endpoint created with port 0, later bound)
    zero = parse("aeron:udp?endpoint=127.0.0.1:0|tags=9")
    assert parse("aeron:udp?endpoint=127.0.0.1:5000|tags=9").matches_tag(zero, remote_address=("127.0.0.1", 5000))


def test_real_interfaces_subnet_search_picks_loopback() -> None:
    names = [e for e in list_interface_addresses() if e.address == "127.0.0.1"]
    if not names:
        pytest.skip("no 127.0.0.1 interface")
    c = UdpChannel.parse("aeron:udp?endpoint=224.0.1.1:40456|interface=127.0.0.0/8")
    assert c.local_data == ("127.0.0.1", 0)
    assert c.interface_index == socket.if_nametoindex(names[0].name)
    named = UdpChannel.parse(f"aeron:udp?endpoint=224.0.1.1:40456|interface={{{names[0].name}}}")
    assert named.local_data == ("127.0.0.1", 0)


_octet = st.integers(0, 255)
_port = st.integers(1, 65535)


@settings(max_examples=100, deadline=None)
@given(a=st.integers(1, 223).filter(lambda x: x != 127), b=_octet, c=_octet, d=_octet, port=_port, ifport=st.integers(0, 65535))
def test_hypothesis_unicast(a: int, b: int, c: int, d: int, port: int, ifport: int) -> None:
    host = f"{a}.{b}.{c}.{d}"
    ch = parse(f"aeron:udp?endpoint={host}:{port}|interface=127.0.0.1:{ifport}")
    assert ch.canonical_form == f"UDP-127.0.0.1:{ifport}-{host}:{port}"
    assert ch.remote_data == (host, port) and not ch.is_multicast


@settings(max_examples=100, deadline=None)
@given(b=_octet, c=_octet, d=_octet, first=st.integers(224, 239), port=st.integers(0, 65535))
def test_hypothesis_multicast(first: int, b: int, c: int, d: int, port: int) -> None:
    group = f"{first}.{b}.{c}.{d}"
    uri = f"aeron:udp?endpoint={group}:{port}|interface=127.0.0.1"
    if d % 2 == 0:
        with pytest.raises(InvalidChannelError, match="odd"):
            parse(uri)
        return
    ch = parse(uri)
    assert ch.remote_control == (f"{first}.{b}.{c}.{(d + 1) & 0xFF}", port)
    assert ch.canonical_form == f"UDP-127.0.0.1:0-{group}:{port}"


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(min_size=16, max_size=16), port=_port)
def test_hypothesis_ipv6_formatting(raw: bytes, port: int) -> None:
    addr = socket.inet_ntop(socket.AF_INET6, raw)
    uri = f"aeron:udp?endpoint=[{addr}]:{port}|interface=[::1]"
    if raw[0] == 0xFF and raw[-1] % 2 == 0:
        with pytest.raises(InvalidChannelError):
            parse(uri)
        return
    ch = parse(uri)
    assert ch.family == socket.AF_INET6
    assert ch.remote_data == (addr, port)
    if raw[0] == 0xFF:
        assert ch.canonical_form == f"UDP-[::1]:0-[{addr}]:{port}"
    else:
        assert ch.canonical_form == f"UDP-[::1]:0-[{addr}]:{port}"
