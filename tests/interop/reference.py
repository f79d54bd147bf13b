"""Locate, download and load the real Aeron 1.53 C library (media driver + client).

The C media driver (``aeronmd.h``) and C client (``aeronc.h``) ship, with their C
symbols exported, inside the PyPI wheel ``pyaeron==0.1.0`` (cp312, manylinux_2_28).
We cannot import that extension on Python 3.11, but its shared object loads fine
with :func:`ctypes.CDLL` and ``RTLD_LAZY`` (the CPython entry points stay unresolved
and are never called).

Resolution order for the shared object:

1. ``AERONPY_PYAERON_SO`` -- explicit path to ``_pyaeron.cpython-312-x86_64-linux-gnu.so``.
2. The cache directory ``AERONPY_PYAERON_DIR`` (default
   ``~/.cache/aeronpy/pyaeron-0.1.0``), containing the unzipped wheel.
3. Download with ``python -m pip download`` into that cache directory and unzip it
   (disable with ``AERONPY_PYAERON_NO_DOWNLOAD=1``).

Public API: :func:`library_path`, :func:`unavailable_reason`, :func:`load`,
:func:`require_reference`, plus the constants mirroring ``aeronc.h`` / ``aeronmd.h``.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

WHEEL_NAME = "pyaeron"
WHEEL_VERSION = "0.1.0"
WHEEL_REQUIREMENT = f"{WHEEL_NAME}=={WHEEL_VERSION}"
WHEEL_PYTHON_VERSION = "3.12"
WHEEL_PLATFORM = "manylinux_2_28_x86_64"
SO_RELATIVE_PATH = Path("pyaeron") / "_pyaeron.cpython-312-x86_64-linux-gnu.so"
DOWNLOAD_TIMEOUT_S = 300.0

# --- constants from aeronc.h -------------------------------------------------------
AERON_PUBLICATION_NOT_CONNECTED = -1
AERON_PUBLICATION_BACK_PRESSURED = -2
AERON_PUBLICATION_ADMIN_ACTION = -3
AERON_PUBLICATION_CLOSED = -4
AERON_PUBLICATION_MAX_POSITION_EXCEEDED = -5
AERON_PUBLICATION_ERROR = -6

OFFER_RESULT_NAMES: dict[int, str] = {
    AERON_PUBLICATION_NOT_CONNECTED: "NOT_CONNECTED",
    AERON_PUBLICATION_BACK_PRESSURED: "BACK_PRESSURED",
    AERON_PUBLICATION_ADMIN_ACTION: "ADMIN_ACTION",
    AERON_PUBLICATION_CLOSED: "CLOSED",
    AERON_PUBLICATION_MAX_POSITION_EXCEEDED: "MAX_POSITION_EXCEEDED",
    AERON_PUBLICATION_ERROR: "ERROR",
}

# --- constants from aeronmd.h (enum aeron_threading_mode_t) ------------------------
AERON_THREADING_MODE_DEDICATED = 0
AERON_THREADING_MODE_SHARED_NETWORK = 1
AERON_THREADING_MODE_SHARED = 2
AERON_THREADING_MODE_INVOKER = 3

# --- ctypes types ------------------------------------------------------------------
c_void_p = ctypes.c_void_p
c_int = ctypes.c_int
c_int32 = ctypes.c_int32
c_int64 = ctypes.c_int64
c_bool = ctypes.c_bool
c_size_t = ctypes.c_size_t
c_char_p = ctypes.c_char_p
PP = ctypes.POINTER(ctypes.c_void_p)  # out-parameter: T **

# void (*aeron_fragment_handler_t)(void *clientd, const uint8_t *buffer, size_t length, aeron_header_t *header)
# (buffer is declared c_void_p so the callback receives a plain int address: cheap, use ctypes.string_at)
FRAGMENT_HANDLER = ctypes.CFUNCTYPE(None, c_void_p, c_void_p, c_size_t, c_void_p)
# void (*aeron_error_handler_t)(void *clientd, int errcode, const char *message)
ERROR_HANDLER = ctypes.CFUNCTYPE(None, c_void_p, c_int, c_char_p)
# void (*aeron_counters_reader_foreach_counter_func_t)(int64_t value, int32_t id, int32_t type_id,
#     const uint8_t *key, size_t key_length, const char *label, size_t label_length, void *clientd)
COUNTER_HANDLER = ctypes.CFUNCTYPE(None, c_int64, c_int32, c_int32, c_void_p, c_size_t, c_void_p, c_size_t, c_void_p)

# name -> (restype, argtypes).  Function pointers are passed as c_void_p so that
# both C functions (e.g. aeron_fragment_assembler_handler) and CFUNCTYPE callbacks
# can be supplied (cast callbacks with ctypes.cast(cb, c_void_p)).
PROTOTYPES: dict[str, tuple[Any, Sequence[Any]]] = {
    # util
    "aeron_version_full": (c_char_p, ()),
    "aeron_errcode": (c_int, ()),
    "aeron_errmsg": (c_char_p, ()),
    # aeronmd.h
    "aeron_driver_context_init": (c_int, (PP,)),
    "aeron_driver_context_close": (c_int, (c_void_p,)),
    "aeron_driver_context_set_dir": (c_int, (c_void_p, c_char_p)),
    "aeron_driver_context_get_dir": (c_char_p, (c_void_p,)),
    "aeron_driver_context_set_dir_delete_on_start": (c_int, (c_void_p, c_bool)),
    "aeron_driver_context_set_dir_delete_on_shutdown": (c_int, (c_void_p, c_bool)),
    "aeron_driver_context_set_threading_mode": (c_int, (c_void_p, c_int)),
    "aeron_driver_context_get_threading_mode": (c_int, (c_void_p,)),
    "aeron_driver_init": (c_int, (PP, c_void_p)),
    "aeron_driver_start": (c_int, (c_void_p, c_bool)),
    "aeron_driver_close": (c_int, (c_void_p,)),
    # aeronc.h: context / client
    "aeron_context_init": (c_int, (PP,)),
    "aeron_context_close": (c_int, (c_void_p,)),
    "aeron_context_set_dir": (c_int, (c_void_p, c_char_p)),
    "aeron_context_set_driver_timeout_ms": (c_int, (c_void_p, ctypes.c_uint64)),
    "aeron_context_set_error_handler": (c_int, (c_void_p, c_void_p, c_void_p)),
    "aeron_context_set_client_name": (c_int, (c_void_p, c_char_p)),
    "aeron_init": (c_int, (PP, c_void_p)),
    "aeron_start": (c_int, (c_void_p,)),
    "aeron_close": (c_int, (c_void_p,)),
    "aeron_client_id": (c_int64, (c_void_p,)),
    # counters
    "aeron_counters_reader": (c_void_p, (c_void_p,)),
    "aeron_counters_reader_foreach_counter": (None, (c_void_p, c_void_p, c_void_p)),
    # publications
    "aeron_async_add_publication": (c_int, (PP, c_void_p, c_char_p, c_int32)),
    "aeron_async_add_publication_poll": (c_int, (PP, c_void_p)),
    "aeron_async_add_exclusive_publication": (c_int, (PP, c_void_p, c_char_p, c_int32)),
    "aeron_async_add_exclusive_publication_poll": (c_int, (PP, c_void_p)),
    "aeron_publication_offer": (c_int64, (c_void_p, c_char_p, c_size_t, c_void_p, c_void_p)),
    "aeron_exclusive_publication_offer": (c_int64, (c_void_p, c_char_p, c_size_t, c_void_p, c_void_p)),
    "aeron_publication_is_connected": (c_bool, (c_void_p,)),
    "aeron_exclusive_publication_is_connected": (c_bool, (c_void_p,)),
    "aeron_publication_position": (c_int64, (c_void_p,)),
    "aeron_exclusive_publication_position": (c_int64, (c_void_p,)),
    "aeron_publication_session_id": (c_int32, (c_void_p,)),
    "aeron_publication_close": (c_int, (c_void_p, c_void_p, c_void_p)),
    "aeron_exclusive_publication_close": (c_int, (c_void_p, c_void_p, c_void_p)),
    # subscriptions
    "aeron_async_add_subscription": (
        c_int,
        (PP, c_void_p, c_char_p, c_int32, c_void_p, c_void_p, c_void_p, c_void_p),
    ),
    "aeron_async_add_subscription_poll": (c_int, (PP, c_void_p)),
    "aeron_subscription_poll": (c_int, (c_void_p, c_void_p, c_void_p, c_size_t)),
    "aeron_subscription_is_connected": (c_bool, (c_void_p,)),
    "aeron_subscription_image_count": (c_int, (c_void_p,)),
    "aeron_subscription_close": (c_int, (c_void_p, c_void_p, c_void_p)),
    # fragment assembler
    "aeron_fragment_assembler_create": (c_int, (PP, c_void_p, c_void_p)),
    "aeron_fragment_assembler_delete": (c_int, (c_void_p,)),
    "aeron_fragment_assembler_handler": (None, (c_void_p, c_void_p, c_size_t, c_void_p)),
}

_resolved: tuple[str | None, str | None] | None = None  # (path, reason)
_lib: ctypes.CDLL | None = None


class ReferenceUnavailable(RuntimeError):
    """The real Aeron C library cannot be obtained on this machine."""


def cache_dir() -> Path:
    """Directory holding the unzipped ``pyaeron`` wheel."""
    env = os.environ.get("AERONPY_PYAERON_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "aeronpy" / f"{WHEEL_NAME}-{WHEEL_VERSION}"


def _platform_problem() -> str | None:
    if sys.platform != "linux":
        return f"the pyaeron wheel is Linux-only (this is {sys.platform})"
    machine = platform.machine().lower()
    if machine not in ("x86_64", "amd64"):
        return f"the pyaeron wheel is x86_64-only (this is {machine})"
    return None


def _download_and_unzip(target: Path) -> str | None:
    """Download the wheel into ``target`` and unzip it. Returns an error string or None."""
    target.mkdir(parents=True, exist_ok=True)
    lock_path = target / ".lock"
    with open(lock_path, "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)  # serialise concurrent test workers
        try:
            if (target / SO_RELATIVE_PATH).is_file():
                return None
            with tempfile.TemporaryDirectory(prefix="pyaeron-dl-", dir=target) as tmp:
                cmd = [
                    sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                    "--python-version", WHEEL_PYTHON_VERSION, "--platform", WHEEL_PLATFORM,
                    "--disable-pip-version-check", "--no-input",
                    WHEEL_REQUIREMENT, "-d", tmp,
                ]
                try:
                    proc = subprocess.run(
                        cmd, capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT_S, check=False,
                    )
                except (OSError, subprocess.TimeoutExpired) as exc:
                    return f"pip download failed: {exc!r}"
                if proc.returncode != 0:
                    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
                    return f"pip download {WHEEL_REQUIREMENT} failed (rc={proc.returncode}): {' | '.join(tail)}"
                wheels = sorted(Path(tmp).glob(f"{WHEEL_NAME}-{WHEEL_VERSION}-*.whl"))
                if not wheels:
                    return f"pip download produced no {WHEEL_NAME} wheel"
                unpack = Path(tmp) / "unpacked"
                try:
                    with zipfile.ZipFile(wheels[0]) as zf:
                        zf.extractall(unpack)
                except (zipfile.BadZipFile, OSError) as exc:
                    return f"cannot unzip {wheels[0].name}: {exc!r}"
                if not (unpack / SO_RELATIVE_PATH).is_file():
                    return f"{wheels[0].name} does not contain {SO_RELATIVE_PATH}"
                for entry in unpack.iterdir():
                    dest = target / entry.name
                    if dest.exists():
                        shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
                    entry.rename(dest)
                return None
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _resolve() -> tuple[str | None, str | None]:
    explicit = os.environ.get("AERONPY_PYAERON_SO")
    if explicit:
        if Path(explicit).is_file():
            return str(Path(explicit).resolve()), None
        return None, f"AERONPY_PYAERON_SO={explicit} does not exist"
    problem = _platform_problem()
    if problem:
        return None, problem
    target = cache_dir()
    so = target / SO_RELATIVE_PATH
    if so.is_file():
        return str(so.resolve()), None
    if os.environ.get("AERONPY_PYAERON_NO_DOWNLOAD", "") not in ("", "0"):
        return None, f"{so} missing and AERONPY_PYAERON_NO_DOWNLOAD is set"
    try:
        error = _download_and_unzip(target)
    except OSError as exc:
        error = f"cannot prepare {target}: {exc!r}"
    if error:
        return None, error
    if so.is_file():
        return str(so.resolve()), None
    return None, f"{so} missing after download"


def library_path() -> str | None:
    """Path of the shared object, downloading the wheel if needed; None if unobtainable.

    When None, :func:`unavailable_reason` says why.
    """
    global _resolved
    if _resolved is None:
        _resolved = _resolve()
    return _resolved[0]


def unavailable_reason() -> str | None:
    """Why :func:`library_path` returned None (None when the library is available)."""
    library_path()
    assert _resolved is not None
    return _resolved[1]


def _declare(lib: ctypes.CDLL) -> None:
    missing: list[str] = []
    for name, (restype, argtypes) in PROTOTYPES.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            missing.append(name)
            continue
        fn.restype = restype
        fn.argtypes = list(argtypes)
    if missing:
        raise ReferenceUnavailable(f"symbols missing from the C library: {', '.join(missing)}")


def load() -> ctypes.CDLL:
    """Load the C library (once per process) with all prototypes in PROTOTYPES declared.

    Raises ReferenceUnavailable when it cannot be obtained or loaded.
    """
    global _lib, _resolved
    if _lib is not None:
        return _lib
    path = library_path()
    if path is None:
        raise ReferenceUnavailable(unavailable_reason() or "unknown reason")
    try:
        lib = ctypes.CDLL(path, mode=os.RTLD_LAZY)
    except OSError as exc:
        _resolved = (None, f"cannot load {path}: {exc}")
        raise ReferenceUnavailable(_resolved[1]) from exc
    try:
        _declare(lib)
    except ReferenceUnavailable as exc:
        _resolved = (None, str(exc))
        raise
    _lib = lib
    return lib


def available() -> bool:
    """True when the library can be obtained and loaded in this process."""
    try:
        load()
    except ReferenceUnavailable:
        return False
    return True


def errmsg(lib: ctypes.CDLL) -> str:
    """Current thread's Aeron error (``aeron_errcode``/``aeron_errmsg``) as text."""
    raw = lib.aeron_errmsg()
    text = raw.decode("utf-8", "replace") if raw else ""
    return f"({lib.aeron_errcode()}) {text.strip()}"


def version() -> str:
    """``aeron_version_full()`` of the loaded library."""
    raw = load().aeron_version_full()
    return raw.decode() if raw else "?"


def require_reference() -> ctypes.CDLL:
    """pytest helper: return the loaded library or skip the calling test with the reason."""
    try:
        return load()
    except ReferenceUnavailable as exc:
        _skip(f"real Aeron C library unavailable: {exc}")


def _skip(message: str) -> NoReturn:
    import pytest

    pytest.skip(message)
    raise AssertionError("unreachable")


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: print the library path and version (downloading if needed)."""
    del argv
    try:
        load()
    except ReferenceUnavailable as exc:
        print(f"unavailable: {exc}", file=sys.stderr)
        return 1
    print(library_path())
    print(version())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
