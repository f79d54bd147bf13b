"""Local interface enumeration and interface search, following the C driver's rules.

``list_interface_addresses`` returns one entry per (interface, IPv4/IPv6 address) in
``getifaddrs(3)`` order, read through ``ctypes`` (no third-party dependencies).
``find_interface`` then applies Aeron's search: ``{ifname}`` picks the first address of the
wanted family on that interface; ``addr[/prefix]`` keeps up interfaces whose address matches
under the prefix, taking the first loopback match unless a multicast-capable interface matches,
in which case the one with the longest netmask wins.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import ipaddress
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = [
    "IFF_LOOPBACK",
    "IFF_MULTICAST",
    "IFF_UP",
    "InterfaceAddress",
    "InterfaceLookupError",
    "InterfaceSource",
    "find_interface_by_address",
    "find_interface_by_name",
    "format_address",
    "list_interface_addresses",
]

IFF_UP = 0x1
IFF_LOOPBACK = 0x8
IFF_MULTICAST = 0x1000


class InterfaceLookupError(LookupError):
    """No local interface matches (the message says which search failed)."""


@dataclass(frozen=True)
class InterfaceAddress:
    """One address of a local interface."""

    name: str
    index: int
    family: int
    address: str
    prefix_length: int
    flags: int

    @property
    def is_up(self) -> bool:
        return bool(self.flags & IFF_UP)

    @property
    def is_loopback(self) -> bool:
        return bool(self.flags & IFF_LOOPBACK)

    @property
    def is_multicast(self) -> bool:
        return bool(self.flags & IFF_MULTICAST)


InterfaceSource = Callable[[], Sequence[InterfaceAddress]]


class _SockAddr(ctypes.Structure):
    _fields_ = [("sa_family", ctypes.c_ushort), ("sa_data", ctypes.c_ubyte * 14)]


class _IfAddrs(ctypes.Structure):
    pass


_IfAddrs._fields_ = [
    ("ifa_next", ctypes.POINTER(_IfAddrs)),
    ("ifa_name", ctypes.c_char_p),
    ("ifa_flags", ctypes.c_uint),
    ("ifa_addr", ctypes.POINTER(_SockAddr)),
    ("ifa_netmask", ctypes.POINTER(_SockAddr)),
    ("ifa_ifu", ctypes.c_void_p),
    ("ifa_data", ctypes.c_void_p),
]


def _raw_address(ptr: ctypes._Pointer[_SockAddr], family: int) -> bytes | None:
    if not ptr:
        return None
    base = ctypes.addressof(ptr.contents)
    if family == socket.AF_INET:
        return ctypes.string_at(base + 4, 4)
    if family == socket.AF_INET6:
        return ctypes.string_at(base + 8, 16)
    return None


def _popcount(data: bytes) -> int:
    return sum(bin(b).count("1") for b in data)


def list_interface_addresses() -> list[InterfaceAddress]:
    """Every IPv4/IPv6 address of every local interface, in ``getifaddrs`` order."""
    libc_name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(libc_name, use_errno=True)
    head = ctypes.POINTER(_IfAddrs)()
    if libc.getifaddrs(ctypes.byref(head)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"getifaddrs failed: {os.strerror(err)}")
    result: list[InterfaceAddress] = []
    try:
        node = head
        while node:
            ifa = node.contents
            if ifa.ifa_addr:
                family = int(ifa.ifa_addr.contents.sa_family)
                raw = _raw_address(ifa.ifa_addr, family)
                if raw is not None and ifa.ifa_name is not None:
                    name = ifa.ifa_name.decode("utf-8", "replace")
                    mask = _raw_address(ifa.ifa_netmask, family)
                    try:
                        index = socket.if_nametoindex(name)
                    except OSError:
                        index = 0
                    result.append(
                        InterfaceAddress(
                            name=name,
                            index=index,
                            family=family,
                            address=socket.inet_ntop(family, raw),
                            prefix_length=_popcount(mask) if mask is not None else 0,
                            flags=int(ifa.ifa_flags),
                        )
                    )
            node = ifa.ifa_next
    finally:
        libc.freeifaddrs(head)
    return result


def format_address(family: int, host: str, port: int) -> str:
    """``ip:port`` for IPv4, ``[ip]:port`` for IPv6, as ``inet_ntop`` prints the address."""
    text = socket.inet_ntop(family, socket.inet_pton(family, host))
    return f"[{text}]:{port}" if family == socket.AF_INET6 else f"{text}:{port}"


def _prefix_match(family: int, a: str, b: str, prefix_length: int) -> bool:
    bits = 32 if family == socket.AF_INET else 128
    xa = int.from_bytes(socket.inet_pton(family, a), "big")
    xb = int.from_bytes(socket.inet_pton(family, b), "big")
    mask = ((1 << bits) - 1) ^ ((1 << (bits - prefix_length)) - 1)
    return (xa & mask) == (xb & mask)


def find_interface_by_address(
    family: int, address: str, prefix_length: int, interfaces: Sequence[InterfaceAddress]
) -> InterfaceAddress:
    """The C driver's subnet search over ``interfaces`` (see module docstring)."""
    chosen: InterfaceAddress | None = None
    chosen_prefix = 0
    found = False
    for entry in interfaces:
        if not entry.is_up or entry.family != family:
            continue
        if not _prefix_match(family, address, entry.address, prefix_length):
            continue
        if entry.is_loopback and not found:
            chosen, found = entry, True
        elif entry.is_multicast:
            if entry.prefix_length > chosen_prefix:
                chosen, chosen_prefix = entry, entry.prefix_length
            found = True
    if not found:
        raise InterfaceLookupError(f"could not find matching interface for {address}/{prefix_length}")
    if chosen is None:
        # Only multicast interfaces with a /0 netmask matched: C leaves the address unset.
        return InterfaceAddress("", 0, family, ipaddress.ip_address(0 if family == socket.AF_INET else "::").compressed, 0, 0)
    return chosen


def find_interface_by_name(family: int, name: str, interfaces: Sequence[InterfaceAddress]) -> InterfaceAddress:
    """First up address of ``family`` on the interface called ``name``."""
    name_matches = 0
    for entry in interfaces:
        if not entry.is_up or entry.name != name:
            continue
        name_matches += 1
        if entry.family == family:
            return entry
    if name_matches == 0:
        raise InterfaceLookupError(f"unknown interface {name}")
    what = "INET" if family == socket.AF_INET else "INET6"
    raise InterfaceLookupError(f"no {what} addresses found on interface {name}")
