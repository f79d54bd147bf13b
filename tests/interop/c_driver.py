"""Run the REAL Aeron 1.53 C media driver (from the pyaeron wheel) in this process.

Usage::

    python tests/interop/c_driver.py --dir DIR [-D aeron.x=y ...] [--threading-mode MODE]

``-D aeron.some.property=value`` is exported as ``AERON_SOME_PROPERTY=value`` before
``aeron_driver_context_init`` so the C driver picks it up (the C driver reads its
configuration from the environment).  Prints ``READY`` (flushed) once
``aeron_driver_start`` returned, then runs until SIGTERM/SIGINT (or until its parent
process dies), closes the driver and exits 0.  Any failure prints ``ERROR: ...`` to
stderr and exits 1.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.interop import reference  # noqa: E402

THREADING_MODES = {
    "DEDICATED": reference.AERON_THREADING_MODE_DEDICATED,
    "SHARED_NETWORK": reference.AERON_THREADING_MODE_SHARED_NETWORK,
    "SHARED": reference.AERON_THREADING_MODE_SHARED,
}
PARENT_CHECK_INTERVAL_S = 0.5


def property_to_env(name: str) -> str:
    """``aeron.term.buffer.sparse.file`` -> ``AERON_TERM_BUFFER_SPARSE_FILE``."""
    return name.strip().upper().replace(".", "_")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", required=True, help="aeron directory (created; deleted on start and shutdown)")
    p.add_argument(
        "-D", dest="props", action="append", default=[], metavar="aeron.x=y",
        help="driver property, exported as AERON_X=y before context init (repeatable)",
    )
    p.add_argument(
        "--threading-mode", choices=sorted(THREADING_MODES), default=None,
        help="default: AERON_THREADING_MODE from the environment / -D, else SHARED",
    )
    return p.parse_args(argv)


def fail(message: str) -> int:
    print(f"ERROR: {message}", file=sys.stderr, flush=True)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    for prop in args.props:
        key, sep, value = prop.partition("=")
        if not sep or not key:
            return fail(f"bad -D property {prop!r} (expected name=value)")
        os.environ[property_to_env(key)] = value

    try:
        lib = reference.load()
    except reference.ReferenceUnavailable as exc:
        return fail(str(exc))

    # Block the termination signals before the driver spawns its threads so they inherit
    # the mask and the signals are only ever consumed by sigtimedwait below.
    stop_signals = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    parent = os.getppid()

    ctx = ctypes.c_void_p()
    if lib.aeron_driver_context_init(ctypes.byref(ctx)) < 0:
        return fail(f"aeron_driver_context_init: {reference.errmsg(lib)}")
    driver = ctypes.c_void_p()
    try:
        if lib.aeron_driver_context_set_dir(ctx, os.fsencode(args.dir)) < 0:
            return fail(f"aeron_driver_context_set_dir: {reference.errmsg(lib)}")
        lib.aeron_driver_context_set_dir_delete_on_start(ctx, True)
        lib.aeron_driver_context_set_dir_delete_on_shutdown(ctx, True)
        if args.threading_mode is not None:
            mode: int | None = THREADING_MODES[args.threading_mode]
        elif "AERON_THREADING_MODE" in os.environ:
            mode = None  # already applied by aeron_driver_context_init
        else:
            mode = reference.AERON_THREADING_MODE_SHARED
        if mode is not None and lib.aeron_driver_context_set_threading_mode(ctx, mode) < 0:
            return fail(f"aeron_driver_context_set_threading_mode: {reference.errmsg(lib)}")

        if lib.aeron_driver_init(ctypes.byref(driver), ctx) < 0:
            return fail(f"aeron_driver_init: {reference.errmsg(lib)}")
        if lib.aeron_driver_start(driver, False) < 0:
            return fail(f"aeron_driver_start: {reference.errmsg(lib)}")

        print("READY", flush=True)
        # Bounded wait per iteration; the loop ends on a signal or when our parent dies.
        while True:
            info = signal.sigtimedwait(stop_signals, PARENT_CHECK_INTERVAL_S)
            if info is not None:
                break
            if os.getppid() != parent:
                try:
                    print("parent died, shutting down", file=sys.stderr, flush=True)
                except OSError:
                    pass  # our stderr pipe may have died with the parent
                break
    finally:
        if driver.value:
            if lib.aeron_driver_close(driver) < 0:
                print(f"WARN: aeron_driver_close: {reference.errmsg(lib)}", file=sys.stderr, flush=True)
        lib.aeron_driver_context_close(ctx)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
