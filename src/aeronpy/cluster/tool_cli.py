"""``aeronpy cluster-tool CLUSTER_DIR COMMAND [ARGS]``: inspect and control a cluster member,
like Aeron's ClusterTool (commands in :data:`aeronpy.cluster.tool.COMMANDS`).

Settings: ``aeron.cluster.tool.timeout`` (a duration, default 0: each command's own default),
``aeron.cluster.tool.replay.channel`` / ``.replay.stream.id`` by ``-D``, ``AERON_CLUSTER_TOOL_*``
environment variables or ``--properties FILE``; ``--timeout S`` overrides the timeout.  Exit
status: 0 done, 1 not leader (``is-leader``), 2 bad arguments or a missing/corrupt directory or
file (one line on stderr), 255 the command failed (as Java's -1).
"""

from __future__ import annotations

import argparse
import math
import os
import sys

__all__ = ["COMMANDS", "add_command", "main"]

#: command -> (arguments, what it does), in Aeron's order.
COMMANDS: dict[str, tuple[str, str]] = {
    "describe": ("", "prints out all descriptors in the mark files"),
    "pid": ("", "prints the PID of the cluster component"),
    "recovery-plan": ("SERVICE_COUNT", "prints the recovery plan of the cluster component"),
    "recording-log": ("", "prints the recording log of the cluster component"),
    "sort-recording-log": ("", "reorders the entries of the recording log to match the order in memory"),
    "seed-recording-log-from-snapshot": ("", "creates a new recording log from the latest valid snapshot"),
    "errors": ("", "prints the Aeron and cluster component error logs"),
    "list-members": ("", "prints the leader memberId and the active members"),
    "backup-query": ("[DELAY]", "gets, or sets, the time of the next backup query (cluster backup only)"),
    "invalidate-latest-snapshot": ("", "marks the latest snapshot invalid so the previous one is loaded"),
    "is-leader": ("", "exit status 0 if the node is the leader, 1 if not"),
    "snapshot": ("", "triggers a snapshot on the leader"),
    "suspend": ("", "suspends appending to the log"),
    "resume": ("", "resumes appending to the log"),
    "shutdown": ("", "initiates an orderly stop of the cluster with a snapshot"),
    "abort": ("", "stops the cluster without a snapshot"),
    "describe-latest-cm-snapshot": ("", "prints the contents of the latest valid consensus module snapshot"),
    "validate-recording-log": ("", "triggers the node to validate its recording log against the archive"),
}

_HELP = "\n".join(f"  {name} {a}".rstrip().ljust(42) + d for name, (a, d) in COMMANDS.items())


def _settings(args: argparse.Namespace) -> object:
    from aeronpy.cluster.tool import ToolSettings
    from aeronpy.config import PropertySource, check_range, parse_duration_ns, parse_int
    from aeronpy.errors import ConfigurationError

    props: dict[str, str] = {}
    for pair in args.define or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigurationError(f"-D expects key=value with both parts non-empty, got {pair!r}")
        props[key.strip()] = value.strip()
    source = PropertySource(props, os.environ, args.properties)
    timeout_ms = 0
    raw = source.get("aeron.cluster.tool.timeout")
    if raw is not None:
        timeout_ms = parse_duration_ns(raw, "aeron.cluster.tool.timeout") // 1_000_000
    if args.timeout is not None:
        if not math.isfinite(args.timeout) or args.timeout <= 0:
            raise ConfigurationError(f"--timeout must be a finite number of seconds > 0, got {args.timeout}")
        timeout_ms = int(args.timeout * 1000)
    channel = source.get("aeron.cluster.tool.replay.channel") or "aeron:ipc"
    stream = source.get("aeron.cluster.tool.replay.stream.id")
    name = "aeron.cluster.tool.replay.stream.id"
    stream_id = 103 if stream is None else check_range(name, parse_int(stream, name), -(1 << 31), (1 << 31) - 1)
    return ToolSettings(timeout_ms=timeout_ms, replay_channel=channel, replay_stream_id=stream_id)


def _run(args: argparse.Namespace) -> int:
    from aeronpy.cluster.tool import COMMANDS, run
    from aeronpy.errors import AeronError

    if args.command not in COMMANDS:
        print(f"aeronpy cluster-tool: unknown command {args.command!r}; commands:\n{_HELP}", file=sys.stderr)
        return 2
    try:
        settings = _settings(args)
        return run(args.cluster_dir, args.command, args.args, sys.stdout, settings)  # type: ignore[arg-type]
    except AeronError as e:
        print(f"aeronpy cluster-tool: {e}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as e:
        print(f"aeronpy cluster-tool: {e}", file=sys.stderr)
        return 2


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("cluster_dir", metavar="CLUSTER_DIR", help="the member's cluster directory (aeron.cluster.dir)")
    p.add_argument("command", metavar="COMMAND", help="one of the commands below")
    p.add_argument("args", nargs="*", metavar="ARG", help="the command's arguments")
    p.add_argument("-D", dest="define", action="append", metavar="KEY=VALUE",
                   help="a property, e.g. -D aeron.cluster.tool.timeout=10s")
    p.add_argument("--properties", metavar="FILE_OR_URL", help="a properties file")
    p.add_argument("--timeout", type=float, metavar="S", help="seconds to wait for the node (aeron.cluster.tool.timeout)")
    p.set_defaults(func=_run)


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "cluster-tool", help="inspect and control a cluster member (like ClusterTool)",
        description="Inspect and control one cluster member from its cluster directory.",
        epilog="commands:\n" + _HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _configure(p)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="cluster-tool", epilog="commands:\n" + _HELP,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    _configure(p)
    args = p.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
