"""The ``loss`` incoming UDP interceptor: drop received datagrams at random, for testing.

Configured exactly like the C media driver, so the same environment works on both:

* ``AERON_UDP_CHANNEL_INCOMING_INTERCEPTORS`` (property ``aeron.udp.channel.incoming.interceptors``):
  a comma separated list of interceptor names (no spaces, at most 10, empty items ignored).
  ``loss`` (or its C symbol name ``aeron_udp_channel_interceptor_loss_load``) enables this
  interceptor.  aeronpy implements no other interceptor: any other name (the C driver also
  knows ``fixed-loss`` and ``multi-gap-loss``) is a :class:`ConfigurationError`, as an unknown
  name is a start-up error in the C driver.
* ``AERON_UDP_CHANNEL_TRANSPORT_BINDINGS_LOSS_ARGS`` (property
  ``aeron.udp.channel.transport.bindings.loss.args``): ``key=value`` pairs separated by ``|``:

  ``rate``           probability in [0, 1] of dropping a matching datagram (default 0)
  ``seed``           decimal unsigned 64-bit seed of the generator (default 0)
  ``recv-msg-mask``  hexadecimal (``0x`` prefix optional) mask of frame types that may be
                     dropped: bit ``1 << type`` for the header's type field (``0x2`` = DATA
                     only, ``0x4`` = NAK, ``0x8`` = SM, ``0x20`` = SETUP, ...) (default 0)

  As in C the defaults drop **nothing**: ``rate`` and ``recv-msg-mask`` must both be given.
  aeronpy is stricter than C (which ignores unknown keys and accepts ``strtod``/``strtoul``
  prefixes such as ``rate=0.1xyz``): unknown keys, empty values, trailing junk, negative
  numbers and rates outside [0, 1] raise :class:`ConfigurationError` naming the property.

Drop decision (as C): a datagram is dropped when ``rate > 0``, its frame type's bit is in the
mask, and the next generator value ``u`` in [0, 1) satisfies ``u <= rate``.  The generator is
advanced only for datagrams whose type matches the mask.  Datagrams shorter than a frame
header (8 bytes) and types >= 64 never match.

Generator: the POSIX ``erand48`` 48-bit linear congruential generator (``a = 0x5DEECE66D``,
``c = 0xB``, ``u = X / 2**48``) seeded like the C interceptor (the 16-bit words of the seed's
low 48 bits are placed in reverse order).  For a given seed, :meth:`LossInterceptor.should_drop`
therefore yields the **same drop sequence as the C driver** fed the same sequence of
datagrams.  (The C generator state is one per driver process, shared by every receive
transport; share one :class:`LossInterceptor` to reproduce that.)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aeronpy.errors import ConfigurationError

__all__ = [
    "INCOMING_INTERCEPTORS_ENV",
    "INCOMING_INTERCEPTORS_PROP",
    "LOSS_ARGS_ENV",
    "LOSS_ARGS_PROP",
    "LossInterceptor",
    "LossParams",
    "loss_enabled",
    "loss_interceptor_from_env",
    "loss_interceptor_from_properties",
    "parse_incoming_interceptors",
    "parse_loss_args",
    "LOSS_FRAME_TYPES",
    "loss_properties",
    "parse_loss_types",
]

INCOMING_INTERCEPTORS_PROP = "aeron.udp.channel.incoming.interceptors"
INCOMING_INTERCEPTORS_ENV = "AERON_UDP_CHANNEL_INCOMING_INTERCEPTORS"
LOSS_ARGS_PROP = "aeron.udp.channel.transport.bindings.loss.args"
LOSS_ARGS_ENV = "AERON_UDP_CHANNEL_TRANSPORT_BINDINGS_LOSS_ARGS"

LOSS_INTERCEPTOR_NAME = "loss"
_LOSS_ALIASES = frozenset({LOSS_INTERCEPTOR_NAME, "aeron_udp_channel_interceptor_loss_load"})
_C_ONLY_INTERCEPTORS = frozenset(
    {
        "fixed-loss",
        "aeron_udp_channel_interceptor_fixed_loss_load",
        "multi-gap-loss",
        "aeron_udp_channel_interceptor_multi_gap_loss_load",
    }
)
_MAX_INTERCEPTOR_NAMES = 10
_MAX_INTERCEPTORS_LENGTH = 4093  # C: strlen must be < 4094

_TYPE_OFFSET = 6
_HEADER_LENGTH = 8
_UINT64_MAX = (1 << 64) - 1

_LCG_A = 0x5DEECE66D
_LCG_C = 0xB
_MASK48 = (1 << 48) - 1
_TWO_48 = float(1 << 48)

_DECIMAL = re.compile(r"[0-9]+")
_HEX = re.compile(r"(?:0[xX])?[0-9a-fA-F]+")
_FLOAT = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


@dataclass(frozen=True)
class LossParams:
    """Parsed ``loss`` interceptor arguments (C defaults: all zero, i.e. drop nothing)."""

    rate: float = 0.0
    seed: int = 0
    recv_msg_mask: int = 0


def parse_incoming_interceptors(value: str, name: str = INCOMING_INTERCEPTORS_PROP) -> tuple[str, ...]:
    """Split and check an interceptor list; return the names in the given order."""
    if len(value) > _MAX_INTERCEPTORS_LENGTH:
        raise ConfigurationError(
            f"{name}: interceptor list too long ({len(value)} characters, limit {_MAX_INTERCEPTORS_LENGTH})"
        )
    names = tuple(item for item in value.split(",") if item)
    if len(names) > _MAX_INTERCEPTOR_NAMES:
        raise ConfigurationError(f"{name}={value}: too many interceptors, limit {_MAX_INTERCEPTOR_NAMES}")
    for item in names:
        if item in _LOSS_ALIASES:
            continue
        if item in _C_ONLY_INTERCEPTORS:
            raise ConfigurationError(
                f"{name}={value}: interceptor {item!r} exists in the C driver but is not implemented "
                f"by aeronpy (supported: {LOSS_INTERCEPTOR_NAME})"
            )
        raise ConfigurationError(
            f"{name}={value}: unknown interceptor {item!r} (supported: {LOSS_INTERCEPTOR_NAME})"
        )
    return names


def loss_enabled(interceptors: str | None, name: str = INCOMING_INTERCEPTORS_PROP) -> bool:
    """Whether an interceptor list (``None`` = unset) enables ``loss``."""
    if interceptors is None:
        return False
    return any(item in _LOSS_ALIASES for item in parse_incoming_interceptors(interceptors, name))


def _split_params(value: str, name: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    if not value:
        return pairs
    for item in value.split("|"):
        if not item:
            raise ConfigurationError(f"{name}={value}: empty key=value item")
        key, sep, raw = item.partition("=")
        if not key:
            raise ConfigurationError(f"{name}={value}: empty key not allowed")
        if not sep:
            raise ConfigurationError(f"{name}={value}: {key!r} has no '=value'")
        if not raw:
            raise ConfigurationError(f"{name}={value}: empty value for {key!r}")
        pairs.append((key, raw))
    return pairs


def parse_loss_args(value: str | None, name: str = LOSS_ARGS_PROP) -> LossParams:
    """Parse ``rate=0.2|seed=7|recv-msg-mask=0xF`` (``None`` or empty: the defaults)."""
    rate, seed, mask = 0.0, 0, 0
    for key, raw in _split_params(value or "", name):
        if key == "rate":
            if not _FLOAT.fullmatch(raw):
                raise ConfigurationError(f"{name}={value}: rate {raw!r} is not a number")
            rate = float(raw)
            if not (math.isfinite(rate) and 0.0 <= rate <= 1.0):
                raise ConfigurationError(f"{name}={value}: rate {raw!r} must be in [0, 1]")
        elif key == "seed":
            if not _DECIMAL.fullmatch(raw) or int(raw) > _UINT64_MAX:
                raise ConfigurationError(f"{name}={value}: seed {raw!r} must be a decimal integer in [0, 2^64)")
            seed = int(raw)
        elif key == "recv-msg-mask":
            if not _HEX.fullmatch(raw) or int(raw, 16) > _UINT64_MAX:
                raise ConfigurationError(
                    f"{name}={value}: recv-msg-mask {raw!r} must be a hexadecimal integer in [0, 2^64)"
                )
            mask = int(raw, 16)
        else:
            raise ConfigurationError(
                f"{name}={value}: unknown key {key!r} (expected rate, seed, recv-msg-mask)"
            )
    return LossParams(rate, seed, mask)


def _initial_state(seed: int) -> int:
    # C: xsubi[2] = seed bits 0-15, xsubi[1] = bits 16-31, xsubi[0] = bits 32-47, and erand48
    # reads X = xsubi[2] << 32 | xsubi[1] << 16 | xsubi[0].
    return ((seed & 0xFFFF) << 32) | (((seed >> 16) & 0xFFFF) << 16) | ((seed >> 32) & 0xFFFF)


class LossInterceptor:
    """Decides which received datagrams to drop; deterministic for a given seed.

    Not thread-safe: use one per receive thread (or one in total to reproduce C exactly).
    """

    __slots__ = ("rate", "seed", "recv_msg_mask", "_state", "dropped", "matched")

    def __init__(self, rate: float, seed: int = 0, recv_msg_mask: int = 0) -> None:
        if not (math.isfinite(rate) and 0.0 <= rate <= 1.0):
            raise ConfigurationError(f"{LOSS_ARGS_PROP}: rate {rate} must be in [0, 1]")
        if not 0 <= seed <= _UINT64_MAX:
            raise ConfigurationError(f"{LOSS_ARGS_PROP}: seed {seed} must be in [0, 2^64)")
        if not 0 <= recv_msg_mask <= _UINT64_MAX:
            raise ConfigurationError(f"{LOSS_ARGS_PROP}: recv-msg-mask {recv_msg_mask:#x} must be in [0, 2^64)")
        self.rate = float(rate)
        self.seed = seed
        self.recv_msg_mask = recv_msg_mask
        self._state = _initial_state(seed)
        self.dropped = 0
        """Datagrams dropped so far."""
        self.matched = 0
        """Datagrams whose frame type matched the mask (each consumed one random value)."""

    @classmethod
    def from_params(cls, params: LossParams) -> LossInterceptor:
        return cls(params.rate, params.seed, params.recv_msg_mask)

    def next_random(self) -> float:
        """Advance the generator; the next value in [0, 1) (POSIX ``erand48``)."""
        self._state = (_LCG_A * self._state + _LCG_C) & _MASK48
        return self._state / _TWO_48

    def matches(self, datagram: bytes | bytearray | memoryview) -> bool:
        """Whether the datagram's frame type is selected by ``recv_msg_mask``."""
        if len(datagram) < _HEADER_LENGTH:
            return False
        frame_type = datagram[_TYPE_OFFSET] | (datagram[_TYPE_OFFSET + 1] << 8)
        return frame_type < 64 and (self.recv_msg_mask >> frame_type) & 1 == 1

    def should_drop(self, datagram: bytes | bytearray | memoryview) -> bool:
        """Whether to drop this received datagram (advances the generator when it matches)."""
        if self.rate <= 0.0 or not self.matches(datagram):
            return False
        self.matched += 1
        if self.next_random() <= self.rate:
            self.dropped += 1
            return True
        return False

    def __repr__(self) -> str:
        return f"LossInterceptor(rate={self.rate}, seed={self.seed}, recv_msg_mask={self.recv_msg_mask:#x})"


def _from_values(
    interceptors: str | None, interceptors_name: str, args: str | None, args_name: str
) -> LossInterceptor | None:
    enabled = loss_enabled(interceptors, interceptors_name)
    params = parse_loss_args(args, args_name)  # validated even when disabled: catches typos early
    return LossInterceptor.from_params(params) if enabled else None


def loss_interceptor_from_env(env: Mapping[str, str]) -> LossInterceptor | None:
    """The interceptor configured by ``AERON_UDP_CHANNEL_INCOMING_INTERCEPTORS`` and
    ``AERON_UDP_CHANNEL_TRANSPORT_BINDINGS_LOSS_ARGS``, or ``None`` when ``loss`` is not listed."""
    return _from_values(
        env.get(INCOMING_INTERCEPTORS_ENV), INCOMING_INTERCEPTORS_ENV, env.get(LOSS_ARGS_ENV), LOSS_ARGS_ENV
    )


def loss_interceptor_from_properties(properties: Mapping[str, str]) -> LossInterceptor | None:
    """As :func:`loss_interceptor_from_env`, from ``aeron.udp.channel.incoming.interceptors`` and
    ``aeron.udp.channel.transport.bindings.loss.args``."""
    return _from_values(
        properties.get(INCOMING_INTERCEPTORS_PROP),
        INCOMING_INTERCEPTORS_PROP,
        properties.get(LOSS_ARGS_PROP),
        LOSS_ARGS_PROP,
    )


LOSS_FRAME_TYPES: Mapping[str, int] = {
    "pad": 0x00,
    "data": 0x01,
    "nak": 0x02,
    "sm": 0x03,
    "err": 0x04,
    "setup": 0x05,
    "rttm": 0x06,
    "res": 0x07,
    "rsp-setup": 0x09,
}
"""Frame type names accepted by ``--loss-types`` and their header type values (DATA frames
include heartbeats)."""


def parse_loss_types(types: str | Sequence[str]) -> int:
    """The ``recv-msg-mask`` for frame type names (a comma-separated string or a sequence)."""
    names = [t.strip().lower() for t in (types.split(",") if isinstance(types, str) else types)]
    names = [n for n in names if n]
    if not names:
        raise ConfigurationError(f"loss types: none given; choose from {', '.join(LOSS_FRAME_TYPES)}")
    mask = 0
    for name in names:
        if name not in LOSS_FRAME_TYPES:
            raise ConfigurationError(f"loss types: unknown frame type {name!r}; choose from {', '.join(LOSS_FRAME_TYPES)}")
        mask |= 1 << LOSS_FRAME_TYPES[name]
    return mask


def loss_properties(rate: float, seed: int = 0, types: str | Sequence[str] = "data") -> dict[str, str]:
    """The two C-compatible properties that make a driver drop received datagrams of
    ``types`` with probability ``rate`` (0..1) from generator ``seed`` (0..2^64-1)."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) or not 0.0 <= rate <= 1.0:
        raise ConfigurationError(f"loss rate={rate!r}: must be a number in [0, 1]")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**64:
        raise ConfigurationError(f"loss seed={seed!r}: must be an int in [0, 2^64-1]")
    mask = parse_loss_types(types)
    return {
        INCOMING_INTERCEPTORS_PROP: "loss",
        LOSS_ARGS_PROP: f"rate={float(rate)!r}|seed={seed}|recv-msg-mask={mask:#x}",
    }
