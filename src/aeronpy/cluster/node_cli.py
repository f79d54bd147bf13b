"""`aeronpy cluster-node`: run one cluster member (placeholder until the command lands)."""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_command"]


def _not_yet(args: argparse.Namespace) -> int:
    print("aeronpy cluster-node: not implemented yet", file=sys.stderr)
    return 2


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("cluster-node", help="run one cluster member")
    p.set_defaults(func=_not_yet)
