"""Command-line commands of the archive: ``archive`` (server), ``archive-tool`` (offline
catalog tool, like Aeron's ArchiveTool), ``recording start|stop|list`` and ``replay``.

:func:`add_commands` adds them to the ``aeronpy`` sub-command parser.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from aeronpy.concurrent.stop_flag import stop_on_termination_signals


__all__ = ["add_commands"]

INT64_MAX = (1 << 63) - 1


def _props(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise SystemExit(f"aeronpy: -D expects key=value, got {pair!r}")
        k, v = pair.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _aeron_dir(value: str | None) -> str:
    from aeronpy.config import default_aeron_dir

    return value or os.environ.get("AERON_DIR") or default_aeron_dir()


# -- aeronpy archive --------------------------------------------------------------------------


def cmd_archive(args: argparse.Namespace) -> int:
    from aeronpy.archive.archive import Archive
    from aeronpy.archive.context import ArchiveContext, ArchiveThreadingMode
    from aeronpy.config import PropertySource

    props = _props(args.define)
    props["aeron.dir"] = _aeron_dir(args.dir)
    if args.archive_dir:
        props["aeron.archive.dir"] = args.archive_dir
    source = PropertySource(props, os.environ, args.properties)
    if source.get("aeron.archive.control.channel") is None and source.get("aeron.archive.control.channel.enabled") is None:
        props["aeron.archive.control.channel.enabled"] = "false"  # IPC-only unless a UDP control channel is given
    if source.get("aeron.archive.replication.channel") is None:
        props["aeron.archive.replication.channel"] = "aeron:udp?endpoint=localhost:0"
    driver = None
    if args.with_driver:
        from aeronpy.driver.context import DriverContext
        from aeronpy.driver.media_driver import MediaDriver

        driver = MediaDriver.launch(DriverContext.from_properties(properties=props, properties_file=args.properties))
    stop = stop_on_termination_signals()
    try:
        ctx = ArchiveContext.from_properties(properties=props, properties_file=args.properties)
        with Archive.launch(ctx) as archive:
            print(
                f"aeronpy archive running: archive-dir={ctx.archive_dir} aeron-dir={ctx.aeron_dir} "
                f"archiveId={archive.archive_id} control={ctx.control_channel or '-'} "
                f"local-control={ctx.local_control_channel} threading={ctx.threading_mode.value} pid={os.getpid()}",
                flush=True,
            )
            invoker = archive.invoker()
            if ctx.threading_mode is ArchiveThreadingMode.INVOKER and invoker is not None:
                while not stop.is_set():
                    if invoker.invoke() == 0:
                        time.sleep(0.001)
            else:
                while not stop.wait(0.2):
                    pass
    finally:
        if driver is not None:
            driver.close()
    print("aeronpy archive shut down", flush=True)
    return 0


# -- aeronpy archive-tool ---------------------------------------------------------------------


def describe_entry(e: Any) -> str:
    """An entry in the SBE decoder's text form."""
    from aeronpy.archive.codecs import T

    spec = T.RecordingDescriptor
    fields = [
        ("controlSessionId", e.control_session_id), ("correlationId", e.correlation_id),
        ("recordingId", e.recording_id), ("startTimestamp", e.start_timestamp), ("stopTimestamp", e.stop_timestamp),
        ("startPosition", e.start_position), ("stopPosition", e.stop_position), ("initialTermId", e.initial_term_id),
        ("segmentFileLength", e.segment_file_length), ("termBufferLength", e.term_buffer_length),
        ("mtuLength", e.mtu_length), ("sessionId", e.session_id), ("streamId", e.stream_id),
        ("strippedChannel", f"'{e.stripped_channel}'"), ("originalChannel", f"'{e.original_channel}'"),
        ("sourceIdentity", f"'{e.source_identity}'"),
    ]
    head = (f"[RecordingDescriptor](sbeTemplateId={spec.template_id}|sbeSchemaId={spec.schema_id}|"
            f"sbeSchemaVersion={spec.version}|sbeBlockLength={spec.block_length}):")
    return head + "|".join(f"{k}={v}" for k, v in fields)


def cmd_archive_tool(args: argparse.Namespace) -> int:
    from aeronpy.archive import tool

    try:
        return int(tool.run(args.archive_dir, args.tool_command, args.tool_args, sys.stdout))
    except ValueError as e:
        print(f"aeronpy archive-tool: {e}", file=sys.stderr)
        return 2


# -- aeronpy recording / replay ---------------------------------------------------------------


def _connect(args: argparse.Namespace) -> Any:
    from aeronpy.archive.client import AeronArchive, AeronArchiveContext

    return AeronArchive.connect(AeronArchiveContext.from_properties(
        aeron_dir=_aeron_dir(args.dir), control_channel=args.control_channel, control_stream_id=args.control_stream,
        control_response_channel=args.response_channel, control_response_stream_id=args.response_stream,
        message_timeout_ns=int(args.message_timeout * 1e9),
    ))


def cmd_recording(args: argparse.Namespace) -> int:
    from aeronpy.archive.codecs import SourceLocation

    with _connect(args) as arc:
        if args.action == "start":
            if args.channel is None or args.stream is None:
                raise SystemExit("aeronpy recording start: --channel and --stream are required")
            location = SourceLocation.LOCAL if args.local else SourceLocation.REMOTE
            sub_id = arc.start_recording(args.channel, args.stream, location, args.auto_stop)
            print(f"recording started: subscriptionId={sub_id} channel={args.channel} stream={args.stream}")
        elif args.action == "stop":
            if args.recording_id is not None:
                stopped = arc.stop_recording_by_identity(args.recording_id)
                print(f"recording {args.recording_id} {'stopped' if stopped else 'was not active'}")
            else:
                if args.channel is None or args.stream is None:
                    raise SystemExit("aeronpy recording stop: --channel and --stream (or --recording-id) are required")
                arc.stop_recording(args.channel, args.stream)
                print(f"recording stopped: channel={args.channel} stream={args.stream}")
        else:
            if args.channel is not None and args.stream is not None:
                descs = arc.list_recordings_for_uri(0, args.limit, args.channel, args.stream)
            else:
                descs = arc.list_recordings(0, args.limit)
            for d in descs:
                print(f"recordingId={d.recording_id} streamId={d.stream_id} sessionId={d.session_id} "
                      f"start={d.start_position} stop={d.stop_position} channel={d.original_channel} "
                      f"source={d.source_identity}")
            print(f"{len(descs)} recording(s)")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from aeronpy.logbuffer.fragment_assembler import FragmentAssembler
    from aeronpy.samples import check_payload

    with _connect(args) as arc:
        length = args.length if args.length is not None else INT64_MAX if args.follow else -2
        if args.length is None and not args.follow:
            d = arc.list_recording(args.recording_id)
            if d is None:
                print(f"replay: FAILED: unknown recording id {args.recording_id}", file=sys.stderr)
                return 1
            length = -1
        sub = arc.replay(args.recording_id, args.channel, args.stream, args.position, length)
        state = {"next": args.first, "error": None}

        def on_message(buffer: Any, offset: int, n: int, header: Any) -> None:
            if state["error"] is not None:
                return
            problem = check_payload(memoryview(buffer)[offset : offset + n], int(state["next"] or 0))
            if problem is not None:
                state["error"] = problem
            else:
                state["next"] = int(state["next"] or 0) + 1

        assembler = FragmentAssembler(on_message)
        last = time.monotonic()
        target = args.first + args.count
        while int(state["next"] or 0) < target and state["error"] is None:
            n = sub.poll(assembler.on_fragment, 256)
            if n:
                last = time.monotonic()
            elif time.monotonic() - last > args.timeout:
                break
            else:
                time.sleep(0.0005)
        got = int(state["next"] or 0) - args.first
        if state["error"] is not None:
            print(f"replay: FAILED after {got} messages: {state['error']}", file=sys.stderr)
            return 1
        if got < args.count:
            print(f"replay: FAILED: timed out: {got} of {args.count} messages replayed", file=sys.stderr)
            return 1
        print(f"replayed {got} messages in order, payloads intact")
    return 0


def _client_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", help="Aeron directory (default: AERON_DIR or Aeron's default)")
    p.add_argument("--control-channel", default="aeron:ipc", help="archive control request channel")
    p.add_argument("--control-stream", type=int, default=10)
    p.add_argument("--response-channel", default="aeron:ipc", help="control response channel")
    p.add_argument("--response-stream", type=int, default=20)
    p.add_argument("--message-timeout", type=float, default=10.0, help="seconds")


def add_commands(sub: Any) -> None:
    """Add ``archive``, ``archive-tool``, ``recording`` and ``replay`` to ``sub``."""
    p = sub.add_parser("archive", help="run an Aeron Archive until Ctrl-C/SIGTERM")
    p.add_argument("--dir", help="Aeron directory of the media driver")
    p.add_argument("--archive-dir", help="aeron.archive.dir")
    p.add_argument("--with-driver", action="store_true", help="launch a media driver in this process too")
    p.add_argument("-D", dest="define", action="append", default=[], metavar="KEY=VALUE", help="aeron.* property")
    p.add_argument("--properties", help="properties file")
    p.set_defaults(func=cmd_archive)

    p = sub.add_parser("archive-tool", help="inspect or repair a stopped archive directory (like ArchiveTool)")
    p.add_argument("archive_dir")
    p.add_argument("tool_command", choices=["describe", "describe-all", "count-entries", "max-entries", "pid",
                                            "errors", "verify", "mark-valid", "mark-invalid", "dump", "checksum",
                                            "compact", "delete-orphaned-segments", "migrate", "capacity"])
    p.add_argument("tool_args", nargs=argparse.REMAINDER, help="the command's arguments, as ArchiveTool's")
    p.set_defaults(func=cmd_archive_tool)

    p = sub.add_parser("recording", help="start, stop or list recordings on a running archive")
    p.add_argument("action", choices=["start", "stop", "list"])
    _client_args(p)
    p.add_argument("--channel")
    p.add_argument("--stream", type=int)
    p.add_argument("--local", action="store_true", help="record a local publication (spy for UDP)")
    p.add_argument("--auto-stop", action="store_true")
    p.add_argument("--recording-id", type=int)
    p.add_argument("--limit", type=int, default=1000)
    p.set_defaults(func=cmd_recording)

    p = sub.add_parser("replay", help="replay a recording and check the sample payload (like sub)")
    _client_args(p)
    p.add_argument("--recording-id", type=int, required=True)
    p.add_argument("--position", type=int, default=-1)
    p.add_argument("--length", type=int)
    p.add_argument("--follow", action="store_true", help="follow a live recording")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--first", type=int, default=0, help="sequence number of the first message replayed")
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--channel", default="aeron:ipc", help="replay channel")
    p.add_argument("--stream", type=int, default=3001, help="replay stream id")
    p.set_defaults(func=cmd_replay)

