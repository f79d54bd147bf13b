"""Publish / subscribe sample messages with the REAL Aeron 1.53 C client (pyaeron wheel).

Usage::

    python tests/interop/c_client.py pub --dir DIR --channel URI --stream N --count K --size BYTES
                                         [--exclusive] [--timeout S]
    python tests/interop/c_client.py sub --dir DIR --channel URI --stream N --count K
                                         [--size BYTES] [--timeout S]
    python tests/interop/c_client.py counters --dir DIR [--channel URI --stream N] [--timeout S]

Payloads follow tests/interop/payload.py (int64 LE sequence number, then (seq + i) & 0xFF).

``pub`` waits (bounded) for the publication to be connected, offers K messages retrying on
BACK_PRESSURED / NOT_CONNECTED / ADMIN_ACTION until --timeout, then prints ``sent K``.
``sub`` prints ``READY`` once its subscription is registered, then exits 0 after receiving K
messages in order with intact payloads (printing ``received K``).
``counters`` connects (aeron_init/aeron_start), prints ``CLIENT_ID <id>``, optionally adds a
publication (``--stream``; prints ``PUBLICATION session=<s> stream=<n>``) and then waits (bounded)
until the driver has allocated this client's heartbeat counter, then prints every allocated counter
as seen by the C counters reader: ``COUNTER <id> <type_id> <value> <label>``, and ``COUNTERS <n>``.

Exit codes: 0 ok, 1 error (setup, C client error, offer failure), 2 timeout,
3 gap / out-of-order, 4 corrupt payload.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.interop import reference  # noqa: E402
from tests.interop.payload import PayloadCodec  # noqa: E402

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_TIMEOUT = 2
EXIT_GAP = 3
EXIT_CORRUPT = 4

FRAGMENT_LIMIT = 256
RETRYABLE = (
    reference.AERON_PUBLICATION_BACK_PRESSURED,
    reference.AERON_PUBLICATION_NOT_CONNECTED,
    reference.AERON_PUBLICATION_ADMIN_ACTION,
)


class ClientFailure(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class BackoffIdle:
    """Spin, then yield, then park with exponentially growing (capped) sleeps.

    This is an idle strategy for busy-poll loops (to leave CPU to the driver), never a
    synchronisation mechanism: every loop using it also checks a deadline.
    """

    SPINS = 64
    YIELDS = 64
    MIN_PARK_S = 20e-6
    MAX_PARK_S = 1e-3

    def __init__(self) -> None:
        self._count = 0
        self._park = self.MIN_PARK_S

    def reset(self) -> None:
        self._count = 0
        self._park = self.MIN_PARK_S

    def idle(self, work_count: int = 0) -> None:
        if work_count > 0:
            self.reset()
            return
        self._count += 1
        if self._count <= self.SPINS:
            return
        if self._count <= self.SPINS + self.YIELDS:
            os.sched_yield()
            return
        time.sleep(self._park)
        self._park = min(self._park * 2, self.MAX_PARK_S)


class Client:
    """An Aeron C client (aeron_init/aeron_start with its own conductor thread)."""

    def __init__(self, aeron_dir: str, name: str) -> None:
        self.lib = reference.load()
        self.errors: list[str] = []
        self._closing = False
        # Keep the callback object alive for the life of the client.
        self._error_cb = reference.ERROR_HANDLER(self._on_error)
        self.ctx = ctypes.c_void_p()
        self.aeron = ctypes.c_void_p()
        lib = self.lib
        if lib.aeron_context_init(ctypes.byref(self.ctx)) < 0:
            raise ClientFailure(EXIT_ERROR, f"aeron_context_init: {reference.errmsg(lib)}")
        lib.aeron_context_set_dir(self.ctx, os.fsencode(aeron_dir))
        lib.aeron_context_set_client_name(self.ctx, name.encode())
        lib.aeron_context_set_error_handler(self.ctx, ctypes.cast(self._error_cb, ctypes.c_void_p), None)
        if lib.aeron_init(ctypes.byref(self.aeron), self.ctx) < 0:
            raise ClientFailure(EXIT_ERROR, f"aeron_init: {reference.errmsg(lib)}")
        if lib.aeron_start(self.aeron) < 0:
            raise ClientFailure(EXIT_ERROR, f"aeron_start: {reference.errmsg(lib)}")

    def _on_error(self, _clientd: int | None, errcode: int, message: bytes | None) -> None:
        # Runs on the C client conductor thread.
        text = f"C client error ({errcode}): {(message or b'').decode('utf-8', 'replace')}"
        print(text, file=sys.stderr, flush=True)
        if not self._closing:
            self.errors.append(text)

    def check_errors(self) -> None:
        if self.errors:
            raise ClientFailure(EXIT_ERROR, self.errors[0])

    def await_async(
        self, what: str, poll: Callable[[ctypes.c_void_p, ctypes.c_void_p], int], async_handle: ctypes.c_void_p,
        deadline: float,
    ) -> ctypes.c_void_p:
        """Poll an aeron_async_add_*_poll function until it completes or the deadline passes."""
        result = ctypes.c_void_p()
        idler = BackoffIdle()
        while True:
            rc = poll(ctypes.byref(result), async_handle)  # type: ignore[arg-type]
            if rc > 0:
                return result
            if rc < 0:
                raise ClientFailure(EXIT_ERROR, f"{what}: {reference.errmsg(self.lib)}")
            self.check_errors()
            if time.monotonic() > deadline:
                raise ClientFailure(EXIT_TIMEOUT, f"timeout: {what} did not complete")
            idler.idle()

    def close(self) -> None:
        self._closing = True
        if self.aeron.value:
            self.lib.aeron_close(self.aeron)
            self.aeron = ctypes.c_void_p()
        if self.ctx.value:
            self.lib.aeron_context_close(self.ctx)
            self.ctx = ctypes.c_void_p()


def run_pub(args: argparse.Namespace) -> int:
    deadline = time.monotonic() + args.timeout
    client = Client(args.dir, "aeronpy-interop-c-pub")
    lib = client.lib
    try:
        handle = ctypes.c_void_p()
        channel = args.channel.encode()
        if args.exclusive:
            add, poll = lib.aeron_async_add_exclusive_publication, lib.aeron_async_add_exclusive_publication_poll
            offer, is_connected = lib.aeron_exclusive_publication_offer, lib.aeron_exclusive_publication_is_connected
            close = lib.aeron_exclusive_publication_close
        else:
            add, poll = lib.aeron_async_add_publication, lib.aeron_async_add_publication_poll
            offer, is_connected = lib.aeron_publication_offer, lib.aeron_publication_is_connected
            close = lib.aeron_publication_close
        if add(ctypes.byref(handle), client.aeron, channel, args.stream) < 0:
            raise ClientFailure(EXIT_ERROR, f"add publication: {reference.errmsg(lib)}")
        pub = client.await_async("add publication", poll, handle, deadline)
        try:
            idler = BackoffIdle()
            while not is_connected(pub):
                client.check_errors()
                if time.monotonic() > deadline:
                    raise ClientFailure(EXIT_TIMEOUT, "timeout: publication never connected")
                idler.idle()
            print("CONNECTED", flush=True)

            codec = PayloadCodec(args.size)
            retries = 0
            for seq in range(args.count):
                msg = codec.make(seq, args.size)
                idler.reset()
                while True:
                    result = offer(pub, msg, len(msg), None, None)
                    if result >= 0:
                        break
                    if result not in RETRYABLE:
                        name = reference.OFFER_RESULT_NAMES.get(result, str(result))
                        raise ClientFailure(
                            EXIT_ERROR, f"offer of message {seq} failed: {name}: {reference.errmsg(lib)}"
                        )
                    retries += 1
                    if time.monotonic() > deadline:
                        name = reference.OFFER_RESULT_NAMES.get(result, str(result))
                        raise ClientFailure(EXIT_TIMEOUT, f"timeout: offering message {seq} ({name}), sent {seq}")
                    idler.idle()
                if seq & 0x3FF == 0:
                    client.check_errors()
            client.check_errors()
            print(f"sent {args.count}", flush=True)
            print(f"offer retries: {retries}", file=sys.stderr, flush=True)
        finally:
            close(pub, None, None)
    finally:
        client.close()
    return EXIT_OK


class Receiver:
    """Fragment handler state for ``sub`` (called via aeron_fragment_assembler_handler)."""

    def __init__(self, count: int, size: int | None) -> None:
        self.count = count
        self.size = size
        self.received = 0
        self.failure: ClientFailure | None = None
        self.codec = PayloadCodec(size or 4096)

    def on_message(self, _clientd: int | None, buffer: int | None, length: int, _header: int | None) -> None:
        if self.failure is not None or self.received >= self.count:
            return
        data = ctypes.string_at(buffer or 0, length) if length else b""
        problem = self.codec.check(data, self.received, self.size)
        if problem is not None:
            code = EXIT_CORRUPT if problem.startswith("corruption") else EXIT_GAP
            self.failure = ClientFailure(code, problem)
            return
        self.received += 1


def run_sub(args: argparse.Namespace) -> int:
    deadline = time.monotonic() + args.timeout
    client = Client(args.dir, "aeronpy-interop-c-sub")
    lib = client.lib
    receiver = Receiver(args.count, args.size)
    delegate = reference.FRAGMENT_HANDLER(receiver.on_message)  # must outlive the assembler
    assembler = ctypes.c_void_p()
    try:
        handle = ctypes.c_void_p()
        if lib.aeron_async_add_subscription(
            ctypes.byref(handle), client.aeron, args.channel.encode(), args.stream, None, None, None, None
        ) < 0:
            raise ClientFailure(EXIT_ERROR, f"add subscription: {reference.errmsg(lib)}")
        sub = client.await_async("add subscription", lib.aeron_async_add_subscription_poll, handle, deadline)
        try:
            if lib.aeron_fragment_assembler_create(
                ctypes.byref(assembler), ctypes.cast(delegate, ctypes.c_void_p), None
            ) < 0:
                raise ClientFailure(EXIT_ERROR, f"aeron_fragment_assembler_create: {reference.errmsg(lib)}")
            print("READY", flush=True)

            handler = ctypes.cast(lib.aeron_fragment_assembler_handler, ctypes.c_void_p)
            subscription_poll = lib.aeron_subscription_poll
            idler = BackoffIdle()
            polls = 0
            while receiver.received < receiver.count:
                fragments = subscription_poll(sub, handler, assembler, FRAGMENT_LIMIT)
                if fragments < 0:
                    raise ClientFailure(EXIT_ERROR, f"aeron_subscription_poll: {reference.errmsg(lib)}")
                if receiver.failure is not None:
                    raise receiver.failure
                polls += 1
                if fragments == 0 or polls & 0xFF == 0:
                    client.check_errors()
                    if time.monotonic() > deadline:
                        raise ClientFailure(
                            EXIT_TIMEOUT,
                            f"timeout: received {receiver.received} of {receiver.count} "
                            f"(images={lib.aeron_subscription_image_count(sub)})",
                        )
                idler.idle(fragments)
            print(f"received {receiver.received}", flush=True)
        finally:
            lib.aeron_subscription_close(sub, None, None)
    finally:
        client.close()
        if assembler.value:
            lib.aeron_fragment_assembler_delete(assembler)
    return EXIT_OK


CLIENT_HEARTBEAT_TYPE_ID = 11  # AERON_COUNTER_CLIENT_HEARTBEAT_TIMESTAMP_TYPE_ID


def read_counters(lib: ctypes.CDLL, aeron: ctypes.c_void_p) -> list[tuple[int, int, int, str]]:
    """(id, type_id, value, label) of every allocated counter, via the C counters reader."""
    counters: list[tuple[int, int, int, str]] = []

    def on_counter(value: int, counter_id: int, type_id: int, _key: int | None, _key_length: int,
                   label: int | None, label_length: int, _clientd: int | None) -> None:
        text = ctypes.string_at(label or 0, label_length).decode("utf-8", "replace") if label_length else ""
        counters.append((counter_id, type_id, value, text))

    callback = reference.COUNTER_HANDLER(on_counter)
    reader = lib.aeron_counters_reader(aeron)
    if not reader:
        raise ClientFailure(EXIT_ERROR, "aeron_counters_reader returned NULL")
    lib.aeron_counters_reader_foreach_counter(reader, ctypes.cast(callback, ctypes.c_void_p), None)
    return counters


def run_counters(args: argparse.Namespace) -> int:
    deadline = time.monotonic() + args.timeout
    client = Client(args.dir, "aeronpy-interop-c-counters")
    lib = client.lib
    try:
        client_id = lib.aeron_client_id(client.aeron)
        print(f"CLIENT_ID {client_id}", flush=True)
        pub = None
        if args.stream is not None:
            handle = ctypes.c_void_p()
            if lib.aeron_async_add_publication(ctypes.byref(handle), client.aeron, args.channel.encode(), args.stream) < 0:
                raise ClientFailure(EXIT_ERROR, f"add publication: {reference.errmsg(lib)}")
            pub = client.await_async("add publication", lib.aeron_async_add_publication_poll, handle, deadline)
            print(f"PUBLICATION session={lib.aeron_publication_session_id(pub)} stream={args.stream}", flush=True)
        try:
            idler = BackoffIdle()
            while True:
                counters = read_counters(lib, client.aeron)
                if pub is None or any(
                    t == CLIENT_HEARTBEAT_TYPE_ID and str(client_id) in label for _, t, _, label in counters
                ):
                    break  # (a client that sent no command has no heartbeat counter: the C client never sends one)
                client.check_errors()
                if time.monotonic() > deadline:
                    for counter_id, type_id, value, label in counters:
                        print(f"COUNTER {counter_id} {type_id} {value} {label}", flush=True)
                    raise ClientFailure(EXIT_TIMEOUT, f"timeout: no heartbeat counter (type 11) for client {client_id}")
                idler.idle()
            for counter_id, type_id, value, label in counters:
                print(f"COUNTER {counter_id} {type_id} {value} {label}", flush=True)
            print(f"COUNTERS {len(counters)}", flush=True)
            client.check_errors()
        finally:
            if pub is not None:
                lib.aeron_publication_close(pub, None, None)
    finally:
        client.close()
    return EXIT_OK


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    for mode in ("pub", "sub"):
        p = sub.add_parser(mode)
        p.add_argument("--dir", required=True, help="aeron directory of the running media driver")
        p.add_argument("--channel", required=True, help="channel URI, e.g. aeron:ipc")
        p.add_argument("--stream", type=int, required=True, help="stream id")
        p.add_argument("--count", type=int, required=True, help="number of messages")
        p.add_argument("--timeout", type=float, default=60.0, help="overall deadline in seconds (default 60)")
        if mode == "pub":
            p.add_argument("--size", type=int, required=True, help="message size in bytes (>= 8)")
            p.add_argument("--exclusive", action="store_true", help="use an exclusive publication")
        else:
            p.add_argument("--size", type=int, default=None, help="also require this exact message size")
    p = sub.add_parser("counters")
    p.add_argument("--dir", required=True, help="aeron directory of the running media driver")
    p.add_argument("--channel", default="aeron:ipc", help="channel of the optional publication")
    p.add_argument("--stream", type=int, default=None, help="also add a publication on this stream")
    p.add_argument("--timeout", type=float, default=30.0, help="overall deadline in seconds (default 30)")
    args = parser.parse_args(argv)
    if args.mode == "counters":
        return args
    if args.size is not None and args.size < 8:
        parser.error("--size must be >= 8")
    if args.count < 0:
        parser.error("--count must be >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.mode == "counters":
            return run_counters(args)
        return run_pub(args) if args.mode == "pub" else run_sub(args)
    except reference.ReferenceUnavailable as exc:
        print(f"ERROR: {exc}", file=sys.stderr, flush=True)
        return EXIT_ERROR
    except ClientFailure as exc:
        print(f"FAILED: {exc}", file=sys.stderr, flush=True)
        print(f"FAILED: {exc}", flush=True)
        return exc.code


if __name__ == "__main__":
    raise SystemExit(main())
