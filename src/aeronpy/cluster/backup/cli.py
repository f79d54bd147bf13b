"""``aeronpy cluster-backup``: run a ClusterBackup (driver + archive + backup agent) until
SIGTERM/SIGINT.  Exit codes: 0 stopped, 1 failed, 2 bad arguments or configuration."""

from __future__ import annotations

import argparse
import sys

from aeronpy.concurrent.stop_flag import stop_on_termination_signals

__all__ = ["add_command", "cmd_cluster_backup"]


def cmd_cluster_backup(args: argparse.Namespace) -> int:
    from aeronpy.cli import _properties
    from aeronpy.cluster.backup.cluster_backup import ClusterBackup
    from aeronpy.cluster.errors import ClusterError
    from aeronpy.config import load_properties_file
    from aeronpy.errors import AeronError

    try:
        props: dict[str, str] = {}
        if args.properties:
            props.update(load_properties_file(args.properties))
        try:
            props.update(_properties(args.define))
        except SystemExit as e:
            print(str(e).replace("aeronpy:", "aeronpy cluster-backup:", 1), file=sys.stderr)
            return 2
        if args.cluster_consensus_endpoints:
            props["aeron.cluster.consensus.endpoints"] = args.cluster_consensus_endpoints
        if args.consensus_endpoint:
            props["aeron.cluster.consensus.channel"] = f"aeron:udp?endpoint={args.consensus_endpoint}"
        if args.catchup_endpoint:
            props["aeron.cluster.backup.catchup.endpoint"] = args.catchup_endpoint
        backup = ClusterBackup(args.dir, props, aeron_dir=args.aeron_dir, launch_driver=not args.join_driver)
    except (AeronError, ValueError, OSError) as e:
        print(f"aeronpy cluster-backup: {e}", file=sys.stderr)
        return 2
    stop = stop_on_termination_signals()
    try:
        backup.start()
    except (AeronError, OSError) as e:
        print(f"aeronpy cluster-backup: failed to start: {e}", file=sys.stderr)
        return 1
    print(f"aeronpy cluster-backup: up (aeron dir {backup.aeron_dir}, cluster dir {backup.ctx.cluster_dir})",
          flush=True)
    code = 0
    reported = 0
    last_state = None
    try:
        while not stop.wait(0.25):
            if args.verbose:
                for err in backup.errors[reported:]:
                    print(f"cluster-backup: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
                state = backup.state
                if state != last_state:
                    print(f"cluster-backup: state {state.name if state is not None else None}", flush=True)
                    last_state = state
            reported = len(backup.errors)
            if backup.is_closed:
                last = backup.errors[-1] if backup.errors else "backup agent stopped"
                print(f"aeronpy cluster-backup: failed: {last}", file=sys.stderr)
                code = 1
                break
    finally:
        try:
            backup.close()
        except (ClusterError, AeronError) as e:
            print(f"aeronpy cluster-backup: closing: {e}", file=sys.stderr)
    return code


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from aeronpy.cli import _non_empty

    p = sub.add_parser(
        "cluster-backup", help="back up a running cluster (snapshots + live log) into a directory",
        description="Run a ClusterBackup until SIGTERM/SIGINT: it queries the cluster, copies its snapshots "
                    "and records its live log into DIR (cluster/ and archive/, the layout of a member: "
                    "`aeronpy cluster-node --dir DIR` restores a member from it).  Exit 0 stopped, 1 failed, "
                    "2 bad arguments.",
    )
    p.add_argument("--dir", type=_non_empty, required=True, help="backup directory (cluster/ and archive/ inside)")
    p.add_argument("--cluster-consensus-endpoints", metavar="HOST:PORT,...",
                   help="the members' consensus endpoints (aeron.cluster.consensus.endpoints)")
    p.add_argument("--consensus-endpoint", metavar="HOST:PORT",
                   help="where this backup receives responses (sets aeron.cluster.consensus.channel)")
    p.add_argument("--catchup-endpoint", metavar="HOST:PORT",
                   help="where the live log is replayed to (aeron.cluster.backup.catchup.endpoint)")
    p.add_argument("--aeron-dir", type=_non_empty, help="Aeron directory (default: one per directory under /dev/shm)")
    p.add_argument("--join-driver", action="store_true", help="use the running driver of --aeron-dir")
    p.add_argument("-D", dest="define", action="append", default=[], metavar="KEY=VALUE",
                   help="aeron.cluster.backup.* / aeron.cluster.* / aeron.archive.* / aeron.* property")
    p.add_argument("--properties", type=_non_empty, metavar="FILE_OR_URL", help="properties file")
    p.add_argument("-v", "--verbose", action="store_true", help="print state changes and errors")
    p.set_defaults(func=cmd_cluster_backup)
