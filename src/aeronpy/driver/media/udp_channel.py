"""A UDP channel as the driver sees it: resolved addresses, interface, control mode and the
canonical form used to share send/receive channel endpoints (uri.md §2-§4).

The address rules follow the C driver's channel parser exactly:

* multicast ``endpoint`` (the data group, last byte odd): ``remote_data`` is the group,
  ``remote_control`` the group + 1, ``local_data``/``local_control`` the interface address
  chosen by ``interface`` (default: subnet search over ``0.0.0.0/0`` or ``[::]/0``);
* ``control`` given (MDC / dynamic subscriber / response): ``local_data``/``local_control``
  are the control address, ``remote_data``/``remote_control`` the endpoint (or the wildcard
  ``0.0.0.0:0``, ``[::]:0`` when the control address is IPv6);
* otherwise unicast: ``remote_*`` is the endpoint, ``local_*`` the interface address
  (wildcard when no ``interface``).

A publication sends to ``remote_data`` and receives control on ``local_control`` (multicast:
binds the control group); a subscription binds ``remote_data`` (multicast: joins the group).

Canonical form: ``UDP-<local>-<remote>`` where a ``control``/``endpoint`` value is used as
written, otherwise the resolved ``ip:port`` (``[ip6]:port``).  A unique suffix (``#tag`` or
``-counter``) is added when neither endpoint nor control is given or either has port 0, except
for destinations and multicast channels.
"""

from __future__ import annotations

import itertools
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from aeronpy.config import parse_int, parse_size
from aeronpy.driver.media.netutil import (
    InterfaceAddress,
    InterfaceLookupError,
    InterfaceSource,
    find_interface_by_address,
    find_interface_by_name,
    format_address,
    list_interface_addresses,
)
from aeronpy.errors import InvalidChannelError
from aeronpy.uri import (
    CONTROL,
    CONTROL_MODE,
    CONTROL_MODE_DYNAMIC,
    CONTROL_MODE_MANUAL,
    CONTROL_MODE_RESPONSE,
    ENDPOINT,
    INTERFACE,
    RCV_WND,
    SO_RCVBUF,
    SO_SNDBUF,
    TAGS,
    TTL,
    ChannelUri,
    parse_endpoint,
    parse_interface,
    parse_tags,
    validate_params,
)

__all__ = [
    "Address",
    "Resolver",
    "UdpChannel",
    "UnknownHostError",
    "default_resolver",
    "resolve_host_and_port",
    "next_unique_canonical_value",
]

Address = tuple[str, int]
"""``(host, port)``: a literal IP address (no brackets, no scope) and a port."""

Resolver = Callable[[str, int], str]
"""``resolve(name, family) -> literal address``; ``family`` is ``AF_INET``, ``AF_INET6`` or
``AF_UNSPEC`` (IPv4 first, then IPv6, like Aeron's default name resolver).  Raise
:class:`UnknownHostError` (or ``OSError``) when the name does not resolve."""


class UnknownHostError(InvalidChannelError):
    """A host name in a channel could not be resolved."""


def _getaddrinfo(name: str, family: int) -> str:
    info = socket.getaddrinfo(name, None, family, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    for fam, _, _, _, sockaddr in info:
        if fam in (socket.AF_INET, socket.AF_INET6):
            return str(sockaddr[0]).partition("%")[0]
    raise OSError(f"no IPv4/IPv6 address for {name}")


def default_resolver(name: str, family: int) -> str:
    """Resolve with ``getaddrinfo``; ``AF_UNSPEC`` tries IPv4 then IPv6."""
    if family != socket.AF_UNSPEC:
        try:
            return _getaddrinfo(name, family)
        except OSError as e:
            raise UnknownHostError(f"unable to resolve host={name}: {e}") from None
    try:
        return _getaddrinfo(name, socket.AF_INET)
    except OSError:
        pass
    try:
        return _getaddrinfo(name, socket.AF_INET6)
    except OSError as e:
        raise UnknownHostError(f"unable to resolve host={name}: {e}") from None


_unique_counter = itertools.count(0)


def next_unique_canonical_value() -> int:
    """Process-wide counter for canonical-form suffixes (starts at 0, like the C driver)."""
    return next(_unique_counter)


def _literal(host: str, family: int) -> str | None:
    try:
        return socket.inet_ntop(family, socket.inet_pton(family, host))
    except (OSError, ValueError):
        return None


def _family_of(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _is_multicast(family: int, host: str) -> bool:
    raw = socket.inet_pton(family, host)
    return raw[0] == 0xFF if family == socket.AF_INET6 else 224 <= raw[0] <= 239


def _is_wildcard_host(family: int, host: str) -> bool:
    return not any(socket.inet_pton(family, host))


def _wildcard(family: int) -> Address:
    return ("::" if family == socket.AF_INET6 else "0.0.0.0", 0)


def _resolve_host(host: str, hint_v6: bool, key: str, value: str, resolve: Resolver, uri: str) -> tuple[int, str]:
    """Literal for the hinted family, else the resolver (any family), like the C resolver."""
    host = host.partition("%")[0]
    family = socket.AF_INET6 if hint_v6 else socket.AF_INET
    literal = _literal(host, family)
    if literal is not None:
        return family, literal
    try:
        resolved = resolve(host, socket.AF_UNSPEC)
    except InvalidChannelError as e:
        raise UnknownHostError(f"unresolved - {key}={value}: {e}: {uri}") from None
    except OSError as e:
        raise UnknownHostError(f"unresolved - {key}={value}: unable to resolve host={host}: {e}: {uri}") from None
    fam = _family_of(resolved)
    literal = _literal(resolved.partition("%")[0], fam)
    if literal is None:
        raise UnknownHostError(f"unresolved - {key}={value}: resolver returned {resolved!r}: {uri}")
    return fam, literal


def _resolve_host_and_port(value: str, key: str, resolve: Resolver, uri: str) -> tuple[int, Address]:
    host, port = parse_endpoint(value, key)
    family, address = _resolve_host(host, value.startswith("["), key, value, resolve, uri)
    return family, (address, port)


def resolve_host_and_port(value: str, key: str, resolve: Resolver = default_resolver) -> Address:
    """``host:port`` (``[v6]:port``) -> ``(literal address, port)``, resolved as a channel's
    ``endpoint``/``control`` is (re-resolution, bootstrap neighbours).  Raises
    :class:`InvalidChannelError` (:class:`UnknownHostError` when the host does not resolve)."""
    return _resolve_host_and_port(value, key, resolve, value)[1]


def _control_address(family: int, group: str) -> str:
    raw = bytearray(socket.inet_pton(family, group))
    if raw[-1] & 1 == 0:
        raise InvalidChannelError(f"multicast data address must be odd: {group}")
    raw[-1] = (raw[-1] + 1) & 0xFF  # byte increment without carry, as the C driver does
    return socket.inet_ntop(family, bytes(raw))


@dataclass(frozen=True)
class _InterfaceResult:
    address: Address
    family: int
    index: int


def _resolve_interface_spec(value: str, resolve: Resolver, uri: str) -> tuple[int, str, int, int]:
    """``addr[:port][/prefix]`` → (family, literal address, port, prefix length)."""
    spec = parse_interface(value, INTERFACE)
    assert spec.host is not None
    family = socket.AF_INET6 if spec.is_ipv6 else socket.AF_INET
    host = spec.host.partition("%")[0]
    literal = _literal(host, family)
    if literal is None:
        try:
            resolved = resolve(host, family)
        except InvalidChannelError as e:
            raise UnknownHostError(f"unresolved - {INTERFACE}={value}: {e}: {uri}") from None
        except OSError as e:
            raise UnknownHostError(f"unresolved - {INTERFACE}={value}: unable to resolve host={host}: {e}: {uri}") from None
        literal = _literal(resolved.partition("%")[0], family)
        if literal is None:
            raise UnknownHostError(f"unresolved - {INTERFACE}={value}: resolver returned {resolved!r}: {uri}")
    bits = 128 if family == socket.AF_INET6 else 32
    prefix = bits if spec.prefix_length is None else spec.prefix_length
    return family, literal, spec.port, prefix


def _find_interface(
    family: int, value: str, resolve: Resolver, interfaces: InterfaceSource, uri: str
) -> _InterfaceResult:
    if value.startswith("{"):
        spec = parse_interface(value, INTERFACE)
        assert spec.name is not None
        try:
            entry = find_interface_by_name(family, spec.name, interfaces())
        except InterfaceLookupError as e:
            raise InvalidChannelError(f"{INTERFACE}={value}: {e}: {uri}") from None
        return _InterfaceResult((entry.address, spec.port), entry.family, entry.index)
    if_family, address, port, prefix = _resolve_interface_spec(value, resolve, uri)
    try:
        found: InterfaceAddress = find_interface_by_address(if_family, address, prefix, interfaces())
    except InterfaceLookupError:
        raise InvalidChannelError(f"could not find matching interface='{value}': {uri}") from None
    return _InterfaceResult((found.address, port), found.family, found.index)


def _find_unicast_interface(
    family: int, value: str | None, resolve: Resolver, interfaces: InterfaceSource, uri: str
) -> _InterfaceResult:
    if value is None:
        return _InterfaceResult(_wildcard(family), family, 0)
    if not value.startswith("{"):
        if_family, address, port, _ = _resolve_interface_spec(value, resolve, uri)
        if _is_wildcard_host(if_family, address):
            return _InterfaceResult((address, port), if_family, 0)
    return _find_interface(family, value, resolve, interfaces, uri)


def _find_multicast_interface(
    family: int, value: str | None, resolve: Resolver, interfaces: InterfaceSource, uri: str
) -> _InterfaceResult:
    if value is None:
        value = "[0::]/0" if family == socket.AF_INET6 else "0.0.0.0/0"
    return _find_interface(family, value, resolve, interfaces, uri)


def _format(address: Address) -> str:
    return format_address(_family_of(address[0]), address[0], address[1])


@dataclass(frozen=True)
class UdpChannel:
    """A parsed, resolved UDP channel (see module docstring for the address rules)."""

    original_uri: str
    uri: ChannelUri
    family: int
    remote_data: Address
    local_data: Address
    remote_control: Address
    local_control: Address
    canonical_form: str
    is_multicast: bool = False
    has_explicit_endpoint: bool = False
    has_explicit_control: bool = False
    control_mode: str | None = None
    interface_index: int = 0
    interface_address: Address | None = None
    multicast_ttl: int = 0
    """URI ``ttl`` (clamped to 255), else the driver default; 0 for unicast."""
    so_rcvbuf: int = 0
    so_sndbuf: int = 0
    receiver_window_length: int = 0
    channel_tag: int | None = None
    entity_tag: int | None = field(default=None, compare=False)

    # -----------------------------------------------------------------------------------------

    @classmethod
    def parse(
        cls,
        channel: str | ChannelUri,
        *,
        is_destination: bool = False,
        resolve: Resolver = default_resolver,
        interfaces: InterfaceSource = list_interface_addresses,
        unique_id: Callable[[], int] = next_unique_canonical_value,
        default_multicast_ttl: int = 0,
    ) -> UdpChannel:
        """Parse and resolve ``channel``.

        ``resolve`` resolves host names, ``interfaces`` lists local interface addresses,
        ``unique_id`` supplies canonical-form suffixes, ``default_multicast_ttl`` is
        ``aeron.socket.multicast.ttl`` (used when the URI has no non-zero ``ttl``).
        Raises :class:`InvalidChannelError` (:class:`UnknownHostError` for names that do not
        resolve).
        """
        if isinstance(channel, ChannelUri):
            uri, original = channel, str(channel)
        else:
            original = channel
            uri = ChannelUri.parse(channel)
        if not uri.is_udp:
            raise InvalidChannelError(f"UDP channels must use UDP URIs: {original}")
        validate_params(uri)
        p = uri.params

        control_mode = p.get(CONTROL_MODE)
        endpoint_text = p.get(ENDPOINT)
        control_text = p.get(CONTROL)
        interface_text = p.get(INTERFACE)
        tag_text = p.get(TAGS)

        if control_mode == CONTROL_MODE_DYNAMIC and control_text is None:
            raise InvalidChannelError(f"explicit control expected with dynamic control mode: {original}")
        if (
            endpoint_text is None
            and control_text is None
            and tag_text is None
            and control_mode not in (CONTROL_MODE_MANUAL, CONTROL_MODE_RESPONSE)
        ):
            raise InvalidChannelError(
                f"URIs for UDP must specify endpoint, control, tags, or control-mode=manual/response: {original}"
            )

        control_family: int = socket.AF_INET
        family: int
        control_addr: Address | None = None
        if control_text is not None:
            control_family, control_addr = _resolve_host_and_port(control_text, CONTROL, resolve, original)

        if endpoint_text is not None:
            family, endpoint_addr = _resolve_host_and_port(endpoint_text, ENDPOINT, resolve, original)
        else:
            family = control_family if control_addr is not None else socket.AF_INET
            endpoint_addr = _wildcard(family)

        requires_suffix = (
            (endpoint_text is None and control_text is None)
            or (endpoint_text is not None and endpoint_addr[1] == 0)
            or (control_addr is not None and control_addr[1] == 0)
        ) and not is_destination

        channel_tag, entity_tag = parse_tags(tag_text) if tag_text is not None else (None, None)
        so_sndbuf = parse_size(p[SO_SNDBUF], SO_SNDBUF) if SO_SNDBUF in p else 0
        so_rcvbuf = parse_size(p[SO_RCVBUF], SO_RCVBUF) if SO_RCVBUF in p else 0
        rcv_wnd = parse_size(p[RCV_WND], RCV_WND) if RCV_WND in p else 0

        def canonical(local_text: str | None, local: Address, remote_text: str | None, remote: Address, unique: bool) -> str:
            suffix = ""
            if unique:
                suffix = f"#{channel_tag}" if channel_tag is not None else f"-{unique_id()}"
            local_str = local_text if local_text is not None else _format(local)
            remote_str = remote_text if remote_text is not None else _format(remote)
            return f"UDP-{local_str}-{remote_str}{suffix}"

        common = dict(
            original_uri=original,
            uri=uri,
            has_explicit_endpoint=endpoint_text is not None,
            control_mode=control_mode,
            so_rcvbuf=so_rcvbuf,
            so_sndbuf=so_sndbuf,
            receiver_window_length=rcv_wnd,
            channel_tag=channel_tag,
            entity_tag=entity_tag,
        )

        if _is_multicast(family, endpoint_addr[0]):
            try:
                control_group = _control_address(family, endpoint_addr[0])
            except InvalidChannelError as e:
                raise InvalidChannelError(f"{ENDPOINT}={endpoint_text}: {e}: {original}") from None
            found = _find_multicast_interface(family, interface_text, resolve, interfaces, original)
            ttl = 0
            if TTL in p:
                ttl = min(parse_int(p[TTL], TTL), 255)
            return cls(
                family=family,
                remote_data=endpoint_addr,
                remote_control=(control_group, endpoint_addr[1]),
                local_data=found.address,
                local_control=found.address,
                canonical_form=canonical(None, found.address, None, endpoint_addr, False),
                is_multicast=True,
                interface_index=found.index,
                interface_address=found.address,
                multicast_ttl=ttl if ttl != 0 else default_multicast_ttl,
                **common,  # type: ignore[arg-type]
            )

        if control_addr is not None:
            found = _find_unicast_interface(control_family, interface_text, resolve, interfaces, original)
            return cls(
                family=family,
                remote_data=endpoint_addr,
                remote_control=endpoint_addr,
                local_data=control_addr,
                local_control=control_addr,
                canonical_form=canonical(control_text, control_addr, endpoint_text, endpoint_addr, requires_suffix),
                has_explicit_control=True,
                interface_index=found.index,
                interface_address=found.address if interface_text is not None else None,
                **common,  # type: ignore[arg-type]
            )

        found = _find_unicast_interface(family, interface_text, resolve, interfaces, original)
        return cls(
            family=family,
            remote_data=endpoint_addr,
            remote_control=endpoint_addr,
            local_data=found.address,
            local_control=found.address,
            canonical_form=canonical(None, found.address, endpoint_text, endpoint_addr, requires_suffix),
            interface_index=found.index,
            interface_address=found.address if interface_text is not None else None,
            **common,  # type: ignore[arg-type]
        )

    # -----------------------------------------------------------------------------------------

    @property
    def is_manual_control_mode(self) -> bool:
        return self.control_mode == CONTROL_MODE_MANUAL

    @property
    def is_dynamic_control_mode(self) -> bool:
        return self.control_mode == CONTROL_MODE_DYNAMIC

    @property
    def is_response_control_mode(self) -> bool:
        return self.control_mode == CONTROL_MODE_RESPONSE

    @property
    def is_multidestination(self) -> bool:
        """MDC: ``control-mode=manual`` or ``dynamic``."""
        return self.control_mode in (CONTROL_MODE_MANUAL, CONTROL_MODE_DYNAMIC)

    @property
    def has_group_semantics(self) -> bool:
        return self.is_multicast or self.is_multidestination

    @property
    def has_tag(self) -> bool:
        return self.channel_tag is not None

    @property
    def is_wildcard(self) -> bool:
        """Both ``remote_data`` and ``local_data`` are wildcard address and port."""
        return all(
            _is_wildcard_host(_family_of(a[0]), a[0]) and a[1] == 0 for a in (self.remote_data, self.local_data)
        )

    def socket_sndbuf_or(self, default: int) -> int:
        return self.so_sndbuf if self.so_sndbuf else default

    def socket_rcvbuf_or(self, default: int) -> int:
        return self.so_rcvbuf if self.so_rcvbuf else default

    def receiver_window_or(self, default: int) -> int:
        return self.receiver_window_length if self.receiver_window_length else default

    def control_modes_match(self, other: UdpChannel) -> bool:
        return self.control_mode is None or self.control_mode == other.control_mode

    def matches_tag(
        self,
        other: UdpChannel,
        *,
        local_address: Address | None = None,
        remote_address: Address | None = None,
    ) -> bool:
        """Does this (new) channel re-use the endpoint of ``other`` by tag?

        False when either has no tag or the tags differ.  With equal tags, raise
        :class:`InvalidChannelError` when control modes or addresses disagree (a wildcard
        channel, e.g. ``aeron:udp?tags=1``, matches any addresses).  ``local_address`` /
        ``remote_address`` override ``other``'s (e.g. its actual bound address)."""
        if self.channel_tag is None or other.channel_tag is None or self.channel_tag != other.channel_tag:
            return False
        if not self.control_modes_match(other):
            raise InvalidChannelError(
                f"matching tag {self.channel_tag} has mismatched control-mode: "
                f"{self.original_uri} <> {other.original_uri}"
            )
        if self.is_wildcard:
            return True
        remote = remote_address if remote_address is not None else other.remote_data
        local = local_address if local_address is not None else other.local_data
        if not (_same_address(self.remote_data, remote) and _same_address(self.local_data, local)):
            raise InvalidChannelError(
                f"matching tag {self.channel_tag} has mismatched endpoint or control: "
                f"{self.original_uri} <> {other.original_uri}"
            )
        return True

    def canonical_equals(self, other: UdpChannel) -> bool:
        return self is other or self.canonical_form == other.canonical_form

    def __str__(self) -> str:
        return self.original_uri


def _same_address(a: Address, b: Address) -> bool:
    fa, fb = _family_of(a[0]), _family_of(b[0])
    return fa == fb and a[1] == b[1] and socket.inet_pton(fa, a[0]) == socket.inet_pton(fb, b[0])
