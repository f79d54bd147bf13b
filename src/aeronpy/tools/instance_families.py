"""Typical NIC-ring and L3 figures per EC2 instance family, for the sizing calculator.

These are planning defaults, not measurements: the ENA RX ring starts at 1024 descriptors and
its maximum depends on the instance size (``ethtool -g <dev>`` shows it); the L3 figure is the
last-level cache of one sharing domain (a socket on Intel, a CCD on AMD, the whole chip on
Graviton; ``lscpu -C`` shows it).  Pass ``--ring-entries``/``--ring-max``/``--l3`` to override.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["InstanceFamily", "FAMILIES", "DEFAULT_RING_ENTRIES", "DEFAULT_RING_MAX", "lookup"]

MIB = 1024 * 1024
DEFAULT_RING_ENTRIES = 1024
"""ENA's default RX ring size."""
DEFAULT_RING_MAX = 8192
"""A common ENA RX ring maximum (larger instances go up to 16K)."""


@dataclass(frozen=True)
class InstanceFamily:
    """NIC ring default/maximum and the L3 size of one cache sharing domain."""

    name: str
    cpu: str
    l3_bytes: int
    l3_domain: str
    ring_entries: int = DEFAULT_RING_ENTRIES
    ring_max: int = DEFAULT_RING_MAX


_INTEL_ICX = ("Intel Xeon Ice Lake (3rd gen)", 54 * MIB, "socket")
_INTEL_SPR = ("Intel Xeon Sapphire Rapids (4th gen)", 105 * MIB, "socket")
_INTEL_CLX = ("Intel Xeon Skylake/Cascade Lake", 33 * MIB, "socket")
_AMD_MILAN = ("AMD EPYC Milan (3rd gen)", 32 * MIB, "CCD (8 cores)")
_AMD_GENOA = ("AMD EPYC Genoa (4th gen)", 32 * MIB, "CCD (8 cores)")
_GRAVITON2 = ("AWS Graviton2", 32 * MIB, "chip")
_GRAVITON3 = ("AWS Graviton3", 32 * MIB, "chip")
_GRAVITON4 = ("AWS Graviton4", 36 * MIB, "chip")

_TABLE: dict[str, tuple[str, int, str]] = {
    "c5": _INTEL_CLX, "c5n": _INTEL_CLX, "m5": _INTEL_CLX, "m5n": _INTEL_CLX, "r5": _INTEL_CLX,
    "c6i": _INTEL_ICX, "c6in": _INTEL_ICX, "m6i": _INTEL_ICX, "m6in": _INTEL_ICX, "r6i": _INTEL_ICX,
    "c7i": _INTEL_SPR, "m7i": _INTEL_SPR, "r7i": _INTEL_SPR,
    "c6a": _AMD_MILAN, "m6a": _AMD_MILAN, "r6a": _AMD_MILAN,
    "c7a": _AMD_GENOA, "m7a": _AMD_GENOA, "r7a": _AMD_GENOA,
    "c6g": _GRAVITON2, "c6gn": _GRAVITON2, "m6g": _GRAVITON2, "r6g": _GRAVITON2,
    "c7g": _GRAVITON3, "c7gn": _GRAVITON3, "m7g": _GRAVITON3, "r7g": _GRAVITON3,
    "c8g": _GRAVITON4, "m8g": _GRAVITON4, "r8g": _GRAVITON4,
}

FAMILIES: dict[str, InstanceFamily] = {
    name: InstanceFamily(name, cpu, l3, domain) for name, (cpu, l3, domain) in _TABLE.items()
}


def lookup(name: str) -> InstanceFamily:
    """The family for ``name`` (``c6in`` or ``c6in.8xlarge``); ``KeyError`` lists the known ones."""
    key = name.strip().lower().split(".", 1)[0]
    try:
        return FAMILIES[key]
    except KeyError:
        raise KeyError(
            f"unknown instance family {name!r}; known: {', '.join(sorted(FAMILIES))} "
            "(or give --ring-entries, --ring-max and --l3)"
        ) from None
