"""`aeronpy cluster-tool`: inspect and control a cluster member (like ClusterTool) (placeholder until the command lands)."""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_command"]


def _not_yet(args: argparse.Namespace) -> int:
    print("aeronpy cluster-tool: not implemented yet", file=sys.stderr)
    return 2


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("cluster-tool", help="inspect and control a cluster member (like ClusterTool)")
    p.set_defaults(func=_not_yet)
