"""``aeronpy cluster-node``: run one cluster member (driver + archive + consensus module +
service container) until SIGTERM/SIGINT, then close it in order.

Exit codes: 0 stopped by a signal (or SHUTDOWN/ABORT of the cluster); 1 the member failed;
2 bad arguments or configuration (one line naming what is wrong, never a traceback)."""

from __future__ import annotations

import argparse

import sys
from typing import Any

from aeronpy.concurrent.stop_flag import stop_on_termination_signals

__all__ = ["add_command", "cmd_cluster_node"]


def _load_properties_file(path: str) -> dict[str, str]:
    from aeronpy.config import load_properties_file

    return load_properties_file(path)


def cmd_cluster_node(args: argparse.Namespace) -> int:
    from aeronpy.cli import _properties
    from aeronpy.cluster.errors import ClusterError
    from aeronpy.cluster.node import ClusterNode
    from aeronpy.errors import AeronError

    if args.verbose:
        import logging

        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        cluster_log = logging.getLogger("aeronpy.cluster")
        cluster_log.addHandler(handler)
        cluster_log.setLevel(logging.DEBUG)
        cluster_log.propagate = False
    try:
        props: dict[str, str] = {}
        if args.properties:
            props.update(_load_properties_file(args.properties))
        try:
            props.update(_properties(args.define))
        except SystemExit as e:  # _properties reports a malformed -D this way
            print(str(e).replace("aeronpy:", "aeronpy cluster-node:", 1), file=sys.stderr)
            return 2
        services: list[Any] = []
        if args.extension:
            props["aeron.cluster.consensus.module.extension"] = args.extension
        if args.service_count is not None:
            props["aeron.cluster.service.count"] = str(args.service_count)
        no_services = args.service == "none" or props.get("aeron.cluster.service.count", "").strip() == "0" or \
            (args.service is None and bool(props.get("aeron.cluster.consensus.module.extension")))
        if args.service is None:
            args.service = "echo"
        if props.get("aeron.cluster.consensus.module.extension", "").strip():
            from aeronpy.cluster.consensus.extension import load_extension

            load_extension(props["aeron.cluster.consensus.module.extension"])  # a bad one: exit 2, now
        if not no_services:
            from aeronpy.cluster.examples import load_service

            services = [load_service(spec) for spec in args.service.split(",")]
        node = ClusterNode(args.member_id, args.members, args.dir, services, props, aeron_dir=args.aeron_dir,
                           launch_driver=not args.join_driver)
    except (AeronError, ValueError, OSError) as e:
        print(f"aeronpy cluster-node: {e}", file=sys.stderr)
        return 2
    stop = stop_on_termination_signals()
    try:
        node.start()
    except (AeronError, OSError) as e:
        print(f"aeronpy cluster-node: member {args.member_id} failed to start: {e}", file=sys.stderr)
        return 1
    print(f"aeronpy cluster-node: member {args.member_id} up (aeron dir {node.aeron_dir}, cluster dir "
          f"{node.cluster_dir})", flush=True)
    code = 0
    reported = 0
    try:
        while not stop.wait(0.25):
            cm = node.consensus_module
            for err in cm.errors[reported:]:
                if args.verbose:
                    print(f"member {args.member_id}: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
            reported = len(cm.errors)
            if cm.is_closed:
                state = node.agent.state if node.agent is not None else None
                if state is not None and state.name == "CLOSED":
                    print(f"aeronpy cluster-node: member {args.member_id}: cluster terminated", flush=True)
                else:
                    last = cm.errors[-1] if cm.errors else "consensus module stopped"
                    print(f"aeronpy cluster-node: member {args.member_id} failed: {last}", file=sys.stderr)
                    code = 1
                break
    finally:
        try:
            node.close()
        except (ClusterError, AeronError) as e:
            print(f"aeronpy cluster-node: closing: {e}", file=sys.stderr)
    return code


def _member_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be >= 0")
    return value


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from aeronpy.cli import _non_empty

    p = sub.add_parser(
        "cluster-node", help="run one cluster member (driver + archive + consensus module + service)",
        description="Run one member of an Aeron cluster until SIGTERM/SIGINT.  Exit 0 stopped, 1 failed, "
                    "2 bad arguments.",
    )
    p.add_argument("--member-id", type=_member_id, required=True, help="this member's id in --members")
    p.add_argument("--members", type=_non_empty, required=True,
                   metavar="ID,INGRESS,CONSENSUS,LOG,CATCHUP,ARCHIVE|...", help="aeron.cluster.members")
    p.add_argument("--dir", type=_non_empty, required=True, help="node directory (cluster/ and archive/ inside)")
    p.add_argument("--service", default=None,
                   help="service(s) to host: echo (default), kv, counter, module:Class (comma separated), or none")
    p.add_argument("--service-count", type=int, metavar="N",
                   help="aeron.cluster.service.count (0: no service container; needs --extension)")
    p.add_argument("--extension", metavar="MODULE:CLASS",
                   help="aeron.cluster.consensus.module.extension: a ConsensusModuleExtension to run in the "
                        "consensus module instead of services (implies --service none, service count 0)")
    p.add_argument("--aeron-dir", type=_non_empty, help="Aeron directory (default: one per node under /dev/shm)")
    p.add_argument("--join-driver", action="store_true", help="use the running driver of --aeron-dir")
    p.add_argument("-D", dest="define", action="append", default=[], metavar="KEY=VALUE",
                   help="aeron.cluster.* / aeron.archive.* / aeron.* property")
    p.add_argument("--properties", type=_non_empty, metavar="FILE_OR_URL", help="properties file")
    p.add_argument("-v", "--verbose", action="store_true", help="print the consensus module's errors as they happen, and log elections, "
                        "log joins and errors of the cluster (logger aeronpy.cluster) to stderr")
    p.set_defaults(func=cmd_cluster_node)



