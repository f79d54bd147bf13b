"""Configuration value parsing, property/environment mapping and properties files.

Aeron names every setting by a Java-style property (``aeron.mtu.length``); the C driver
reads the same setting from an environment variable (``AERON_MTU_LENGTH``).  aeronpy accepts
both, plus explicit mappings and properties files, with this precedence (highest first):
explicit keyword arguments, a ``properties`` mapping, ``AERON_*`` environment variables, a
properties file, the default.

Unlike the C driver, which warns and keeps the default on a bad value, every parser here
raises :class:`~aeronpy.errors.ConfigurationError` whose message names the property.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar

from aeronpy.concurrent.bit_util import INT32_MAX, INT32_MIN, INT64_MAX
from aeronpy.errors import ConfigurationError

__all__ = [
    "INT32_MAX",
    "INT32_MIN",
    "INT64_MAX",
    "INT64_MIN",
    "PropertySource",
    "PropertySpec",
    "check_bounded_fields",
    "check_bounds",
    "check_range",
    "context_kwargs",
    "default_aeron_dir",
    "format_duration_ns",
    "duration_spec",
    "format_size",
    "int_spec",
    "is_properties_url",
    "load_context",
    "load_properties_file",
    "parse_bool",
    "parse_duration_ns",
    "parse_int",
    "parse_size",
    "parse_stripped_text",
    "parse_text",
    "property_names",
    "property_to_env",
    "size_spec",
]

INT64_MIN = -(2**63)

_SIZE_RE = re.compile(r"([0-9]+)([kKmMgG]?)")
_SIZE_MULTIPLIER = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_DURATION_RE = re.compile(r"([0-9]+)(s|ms|us|ns)?", re.IGNORECASE)
_DURATION_MULTIPLIER = {"": 1, "ns": 1, "us": 1000, "ms": 1000**2, "s": 1000**3}
_INT_RE = re.compile(r"([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
_TRUE = frozenset({"1", "on", "true"})
_FALSE = frozenset({"0", "off", "false"})

# Property names whose environment variable does not follow the upper-case/underscore rule.
_ENV_EXCEPTIONS: dict[str, str] = {
    "aeron.name.resolver.threshold": "AERON_DRIVER_NAME_RESOLVER_THRESHOLD",
    "aeron.pre.touch.mapped.memory": "AERON_CLIENT_PRE_TOUCH_MAPPED_MEMORY",
    # Short spellings of the duty-cycle stall thresholds map onto the driver variables.
    "aeron.conductor.cycle.threshold": "AERON_DRIVER_CONDUCTOR_CYCLE_THRESHOLD",
    "aeron.sender.cycle.threshold": "AERON_DRIVER_SENDER_CYCLE_THRESHOLD",
    "aeron.receiver.cycle.threshold": "AERON_DRIVER_RECEIVER_CYCLE_THRESHOLD",
}


def _fail(name: str, value: str, reason: str) -> ConfigurationError:
    return ConfigurationError(f"{name}={value}: {reason}")


def parse_size(value: str, name: str) -> int:
    """Parse a byte size: a decimal integer with an optional ``k``/``m``/``g`` suffix (×1024ⁿ)."""
    m = _SIZE_RE.fullmatch(value.strip())
    if m is None:
        raise _fail(name, value, "not a size (digits with optional k, m or g suffix)")
    result = int(m.group(1)) * _SIZE_MULTIPLIER[m.group(2).lower()]
    if result > INT64_MAX:
        raise _fail(name, value, "size exceeds 2^63-1")
    return result


def parse_duration_ns(value: str, name: str) -> int:
    """Parse a duration in nanoseconds: an integer with optional ``s``/``ms``/``us``/``ns``."""
    m = _DURATION_RE.fullmatch(value.strip())
    if m is None:
        raise _fail(name, value, "not a duration (digits with optional s, ms, us or ns suffix)")
    unit = (m.group(2) or "").lower()
    result = int(m.group(1)) * _DURATION_MULTIPLIER[unit]
    if result > INT64_MAX:
        raise _fail(name, value, "duration exceeds 2^63-1 ns")
    return result


def parse_bool(value: str, name: str) -> bool:
    """Parse a boolean: ``1``/``on``/``true`` or ``0``/``off``/``false`` (case-insensitive)."""
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise _fail(name, value, "not a boolean (true/false, on/off, 1/0)")


def parse_text(value: str, name: str) -> str:
    """A text property as given (the parser for channels, names and paths)."""
    return value


def parse_stripped_text(value: str, name: str) -> str:
    """A text property without surrounding white space."""
    return value.strip()


def parse_int(value: str, name: str) -> int:
    """Parse an integer the way ``strtol`` with base 0 does: ``0x`` hex, leading ``0`` octal."""
    m = _INT_RE.fullmatch(value.strip())
    if m is None:
        raise _fail(name, value, "not an integer")
    sign, digits = m.groups()
    if digits[:2] in ("0x", "0X"):
        result = int(digits[2:], 16)
    elif len(digits) > 1 and digits[0] == "0":
        result = int(digits[1:], 8)
    else:
        result = int(digits)
    return -result if sign == "-" else result


def check_range(name: str, value: int, low: int | None, high: int | None) -> int:
    """Return ``value`` if ``low <= value <= high`` (bounds optional), else raise naming ``name``."""
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else str(low)
        hi = "+inf" if high is None else str(high)
        raise _fail(name, str(value), f"out of range [{lo}, {hi}]")
    return value


def format_size(value: int) -> str:
    """Format a byte count with the largest exact ``g``/``m``/``k`` suffix."""
    if value < 0:
        raise ValueError(f"negative size: {value}")
    for suffix, mult in (("g", 1024**3), ("m", 1024**2), ("k", 1024)):
        if value >= mult and value % mult == 0:
            return f"{value // mult}{suffix}"
    return str(value)


def format_duration_ns(value: int) -> str:
    """Format nanoseconds with the largest exact ``s``/``ms``/``us`` unit (else ``ns``)."""
    if value < 0:
        raise ValueError(f"negative duration: {value}")
    for suffix, mult in (("s", 1000**3), ("ms", 1000**2), ("us", 1000)):
        if value >= mult and value % mult == 0:
            return f"{value // mult}{suffix}"
    return f"{value}ns"


def property_to_env(name: str) -> str:
    """Map ``aeron.x.y`` to its environment variable ``AERON_X_Y`` (honouring Aeron's exceptions)."""
    exception = _ENV_EXCEPTIONS.get(name)
    if exception is not None:
        return exception
    return name.upper().replace(".", "_")


_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def _unescape(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\" or i + 1 >= len(text):
            out.append(c)
            i += 1
            continue
        n = text[i + 1]
        if n == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[i + 2 : i + 6]):
            out.append(chr(int(text[i + 2 : i + 6], 16)))
            i += 6
            continue
        out.append(_ESCAPES.get(n, n))
        i += 2
    return "".join(out)


def _logical_lines(text: str) -> list[str]:
    """Join Java properties continuation lines (odd number of trailing backslashes)."""
    lines: list[str] = []
    pending: str | None = None
    for raw in text.splitlines():
        line = raw.lstrip() if pending is not None else raw
        if pending is None and line.lstrip()[:1] in ("#", "!"):
            continue
        trailing = len(line) - len(line.rstrip("\\"))
        continued = trailing % 2 == 1
        if continued:
            line = line[:-1]
        pending = line if pending is None else pending + line
        if not continued:
            lines.append(pending)
            pending = None
    if pending is not None:
        lines.append(pending)
    return lines


def _split_key_value(line: str) -> tuple[str, str]:
    i = 0
    while i < len(line) and line[i] not in "=: \t\f":
        i += 2 if line[i] == "\\" else 1
    i = min(i, len(line))
    j = i
    while j < len(line) and line[j] in " \t\f":
        j += 1
    if j < len(line) and line[j] in "=:":
        j += 1
        while j < len(line) and line[j] in " \t\f":
            j += 1
    return _unescape(line[:i]), _unescape(line[j:])


def parse_properties(text: str) -> dict[str, str]:
    """Parse Java ``.properties`` text: ``key=value``, ``key: value`` or ``key value``;
    ``#``/``!`` comments, blank lines, backslash continuations and escapes."""
    result: dict[str, str] = {}
    for line in _logical_lines(text):
        stripped = line.lstrip(" \t\f")
        if not stripped:
            continue
        key, value = _split_key_value(stripped)
        result[key] = value
    return result


PROPERTIES_URL_TIMEOUT_S = 5.0
"""How long :func:`load_properties_file` waits for an ``http(s)://`` properties URL."""
PROPERTIES_MAX_LENGTH = 1024 * 1024
"""Longest properties file or response accepted (bytes)."""
_URL_SCHEMES = ("http://", "https://", "file://")


def is_properties_url(location: str) -> bool:
    """True if ``location`` is an ``http://``, ``https://`` or ``file://`` URL."""
    return location.lower().startswith(_URL_SCHEMES)


def load_properties_file(path: str, timeout_s: float = PROPERTIES_URL_TIMEOUT_S) -> dict[str, str]:
    """Read Java ``.properties`` (UTF-8) from a file path or an ``http://``, ``https://`` or
    ``file://`` URL (as the C driver can); a missing, unreachable (within ``timeout_s``),
    over-long (> 1 MiB) or undecodable source is a :class:`ConfigurationError`."""
    if is_properties_url(path):
        return parse_properties(_fetch_properties_url(path, timeout_s))
    try:
        with open(path, "rb") as f:
            raw = f.read(PROPERTIES_MAX_LENGTH + 1)
    except OSError as e:
        raise ConfigurationError(f"properties file {path!r}: cannot read: {e}") from e
    return parse_properties(_decode_properties(f"properties file {path!r}", raw))


def _decode_properties(what: str, raw: bytes) -> str:
    if len(raw) > PROPERTIES_MAX_LENGTH:
        raise ConfigurationError(f"{what}: longer than {PROPERTIES_MAX_LENGTH} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigurationError(f"{what}: not UTF-8 text: {e}") from e


def _fetch_properties_url(url: str, timeout_s: float) -> str:
    import urllib.error
    import urllib.parse
    import urllib.request

    what = f"properties URL {url!r}"
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme.lower() == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ConfigurationError(f"{what}: file URLs must name a local path (file:///path)")
        return _decode_properties(what, _read_local(what, urllib.request.url2pathname(parsed.path)))
    if not parsed.hostname:
        raise ConfigurationError(f"{what}: no host")
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            raw = response.read(PROPERTIES_MAX_LENGTH + 1)
    except urllib.error.HTTPError as e:
        raise ConfigurationError(f"{what}: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise ConfigurationError(f"{what}: unreachable: {e.reason}") from None
    except (TimeoutError, OSError, ValueError) as e:
        reason = f"no answer within {timeout_s}s" if isinstance(e, TimeoutError) else str(e)
        raise ConfigurationError(f"{what}: unreachable: {reason}") from None
    return _decode_properties(what, raw)


def _read_local(what: str, path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(PROPERTIES_MAX_LENGTH + 1)
    except OSError as e:
        raise ConfigurationError(f"{what}: cannot read: {e}") from e


class PropertySource:
    """Looks up ``aeron.*`` properties by precedence: mapping, environment, properties file.

    Empty (or blank) values count as unset, as an empty environment variable does in C.
    """

    def __init__(
        self,
        properties: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        properties_file: str | None = None,
    ) -> None:
        self.properties: Mapping[str, str] = dict(properties) if properties else {}
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.file_properties: Mapping[str, str] = (
            load_properties_file(properties_file) if properties_file is not None else {}
        )

    def lookup(self, name: str) -> tuple[str, str] | None:
        """Return ``(value, origin)`` for ``name`` or None; origin names where it came from."""
        value = self.properties.get(name)
        if value is not None and value.strip():
            return value, "properties"
        env_name = property_to_env(name)
        value = self.env.get(env_name)
        if value is not None and value.strip():
            return value, f"env {env_name}"
        value = self.file_properties.get(name)
        if value is not None and value.strip():
            return value, "properties file"
        return None

    def get(self, name: str) -> str | None:
        """Return the highest-precedence non-empty value of ``name``, or None."""
        found = self.lookup(name)
        return None if found is None else found[0]


def _user_name(env: Mapping[str, str]) -> str:
    user = env.get("USER")
    if user:
        return user
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name or "default"
    except (ImportError, KeyError, OSError):
        return "default"


def default_aeron_dir(env: Mapping[str, str] | None = None, platform: str | None = None) -> str:
    """Aeron's default directory: ``/dev/shm/aeron-<user>`` on Linux, else ``$TMPDIR`` (or
    ``/tmp``) ``/aeron-<user>``; ``<user>`` is ``$USER``, else the passwd name, else ``default``.
    ``env``/``platform`` default to ``os.environ``/``sys.platform``."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    user = _user_name(env)
    if platform.startswith("linux"):
        return f"/dev/shm/aeron-{user}"
    tmp = env.get("TMPDIR") or "/tmp"
    return os.path.join(tmp, f"aeron-{user}")


@dataclass(frozen=True)
class PropertySpec:
    """How a context field is read: its Aeron property, the parser of the property's text and,
    for an integer setting, its inclusive bounds (``low`` None: not an integer setting)."""

    prop: str
    parse: Callable[[str, str], Any]
    low: int | None = None
    high: int | None = None


def int_spec(prop: str, low: int = INT32_MIN, high: int = INT32_MAX) -> PropertySpec:
    """An integer property (``strtol`` syntax) in ``[low, high]``, by default any 32-bit value."""
    return PropertySpec(prop, parse_int, low, high)


def size_spec(prop: str, low: int, high: int = INT32_MAX) -> PropertySpec:
    """A byte-size property (``k``/``m``/``g`` suffixes) in ``[low, high]``."""
    return PropertySpec(prop, parse_size, low, high)


def duration_spec(prop: str, low: int = 0) -> PropertySpec:
    """A duration property in nanoseconds (``s``/``ms``/``us``/``ns`` suffixes), at least ``low``."""
    return PropertySpec(prop, parse_duration_ns, low, INT64_MAX)


def property_names(specs: Mapping[str, PropertySpec]) -> dict[str, str]:
    """Field name -> Aeron property name."""
    return {name: spec.prop for name, spec in specs.items()}


def check_bounds(spec: PropertySpec, value: Any) -> None:
    """Raise a :class:`ConfigurationError` naming ``spec.prop`` unless ``value`` is an int (not
    a bool) within the bounds of ``spec`` (an integer setting)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigurationError(f"{spec.prop}={value!r}: must be an integer")
    high = INT64_MAX if spec.high is None else spec.high
    if spec.low is not None and not spec.low <= value <= high:
        raise ConfigurationError(f"{spec.prop}={value}: out of range [{spec.low}, {high}]")


def check_bounded_fields(specs: Mapping[str, PropertySpec], ctx: object) -> None:
    """:func:`check_bounds` for each integer setting of ``ctx`` that is not None."""
    for name, spec in specs.items():
        value = getattr(ctx, name)
        if spec.low is not None and value is not None:
            check_bounds(spec, value)


def context_kwargs(
    what: str,
    fields: set[str] | frozenset[str],
    properties_table: Mapping[str, PropertySpec],
    properties: Mapping[str, str] | None,
    env: Mapping[str, str] | None,
    properties_file: str | None,
    overrides: Mapping[str, Any],
) -> dict[str, Any]:
    """Constructor arguments for a context dataclass: ``overrides`` first, then each field's
    property (``properties_table``: field -> its :class:`PropertySpec`) from ``properties``,
    ``env`` (default ``os.environ``) and ``properties_file``; ``aeron_dir`` defaults to
    :func:`default_aeron_dir`.  Unknown override names are a :class:`ConfigurationError`."""
    unknown = set(overrides) - set(fields)
    if unknown:
        raise ConfigurationError(f"unknown {what} field(s): {', '.join(sorted(unknown))}")
    source = PropertySource(properties, os.environ if env is None else env, properties_file)
    kwargs: dict[str, Any] = {}
    for name, spec in properties_table.items():
        raw = source.get(spec.prop)
        if raw is not None and name not in overrides:
            kwargs[name] = spec.parse(raw, spec.prop)
    kwargs.update(overrides)
    kwargs.setdefault("aeron_dir", default_aeron_dir(source.env))
    return kwargs


class _Context(Protocol):
    __dataclass_fields__: ClassVar[dict[str, Any]]

    def validate(self) -> None: ...


C = TypeVar("C", bound=_Context)


def load_context(
    cls: type[C],
    specs: Mapping[str, PropertySpec],
    properties: Mapping[str, str] | None,
    env: Mapping[str, str] | None,
    properties_file: str | None,
    overrides: Mapping[str, Any],
    fields: set[str] | frozenset[str] | None = None,
) -> C:
    """The ``from_properties`` of every context: ``cls`` built from :func:`context_kwargs` and
    validated; ``fields`` (default: the dataclass fields of ``cls``) are what ``overrides`` may set."""
    kwargs = context_kwargs(
        cls.__name__, set(cls.__dataclass_fields__) if fields is None else fields, specs,
        properties, env, properties_file, overrides,
    )
    ctx = cls(**kwargs)
    ctx.validate()
    return ctx
