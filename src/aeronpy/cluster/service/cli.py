"""``aeronpy cluster-service``: run one clustered service container in its own process, next to
a consensus module sharing the same media driver (like Aeron's ``ClusteredServiceContainer``
main).  Runs until Ctrl-C / SIGTERM or until the cluster terminates it.

Exit codes: 0 terminated by the cluster or by a signal, 1 failed (start-up, unexpected stop),
2 bad arguments or configuration."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

from aeronpy.errors import AeronError
from aeronpy.concurrent.stop_flag import TERMINATION_SIGNALS, stop_on_termination_signals

__all__ = ["add_command", "cmd_cluster_service"]


def cmd_cluster_service(args: argparse.Namespace) -> int:
    from aeronpy.cli import _properties
    from aeronpy.cluster.service.container import ClusteredServiceContainer
    from aeronpy.cluster.service.context import ServiceContainerContext
    from aeronpy.cluster.service.errors import ClusterTerminationException

    overrides: dict[str, Any] = {}
    if args.dir:
        overrides["aeron_dir"] = args.dir
    if args.cluster_dir:
        overrides["cluster_dir"] = args.cluster_dir
    if args.service:
        overrides["service_class_name"] = args.service
    if args.service_id is not None:
        overrides["service_id"] = args.service_id
    if args.cluster_id is not None:
        overrides["cluster_id"] = args.cluster_id
    try:
        props = _properties(args.define)
    except SystemExit as e:
        print(f"aeronpy cluster-service: {str(e).removeprefix('aeronpy: ')}", file=sys.stderr)
        return 2
    try:
        ctx = ServiceContainerContext.from_properties(props, properties_file=args.properties, **overrides)
        service = ctx.new_service()
    except AeronError as e:
        print(f"aeronpy cluster-service: {e}", file=sys.stderr)
        return 2
    previous = {s: signal.getsignal(s) for s in TERMINATION_SIGNALS}
    stop = stop_on_termination_signals()
    aeron: Any = None
    try:
        try:
            from aeronpy.client.aeron import Aeron
            from aeronpy.client.context import Context

            # the client honours the same -D / file / AERON_* settings (aeron.driver.timeout ...)
            aeron = Aeron.connect(Context.from_properties(
                props, properties_file=args.properties, aeron_dir=ctx.aeron_dir, client_name=ctx.resolved_service_name))
            ctx.aeron = aeron
            container = ClusteredServiceContainer(ctx, service).start()
        except (AeronError, OSError) as e:
            print(f"aeronpy cluster-service: cannot start: {e}", file=sys.stderr)
            return 1
        print(f"aeronpy cluster-service: {ctx.resolved_service_name} ({type(service).__name__}) "
              f"cluster {ctx.cluster_id} service {ctx.service_id} in {ctx.aeron_dir}", flush=True)
        while not stop.is_set() and not container.terminated.is_set():
            stop.wait(0.1)
        container.close()
        reason = container.termination_reason
        if reason is None or (isinstance(reason, ClusterTerminationException) and reason.is_expected):
            if reason is not None:
                print("aeronpy cluster-service: terminated by the cluster", flush=True)
            return 0
        print(f"aeronpy cluster-service: stopped: {reason}", file=sys.stderr)
        return 1
    finally:
        if aeron is not None:
            aeron.close()
        for s, handler in previous.items():
            signal.signal(s, handler)


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from aeronpy.cli import _int_in, _non_empty

    p = sub.add_parser(
        "cluster-service", help="run a clustered service container (next to a consensus module)",
        description="Host one ClusteredService: a bundled one (echo, kv, counter) or module:Class, reading the "
                    "committed log of the consensus module that shares the media driver.  Exit 0 terminated, "
                    "1 failed, 2 bad arguments.",
    )
    p.add_argument("--service", type=_non_empty, metavar="NAME|MODULE:CLASS",
                   help="service to host (aeron.cluster.service.class.name)")
    p.add_argument("--service-id", type=_int_in(0, 9), help="service id 0..9 (aeron.cluster.service.id)")
    p.add_argument("--cluster-id", type=_int_in(-(2**31), 2**31 - 1), help="cluster id (aeron.cluster.id)")
    p.add_argument("--cluster-dir", type=_non_empty, help="directory of the mark file (aeron.cluster.dir)")
    p.add_argument("--dir", type=_non_empty, help="Aeron directory of the member's driver (default AERON_DIR)")
    p.add_argument("-D", dest="define", action="append", default=[], metavar="KEY=VALUE",
                   help="aeron.cluster.* property")
    p.add_argument("--properties", type=_non_empty, metavar="FILE_OR_URL", help="properties file")
    p.set_defaults(func=cmd_cluster_service)
