"""Command-line commands of the cluster: ``cluster-node`` (one member), ``cluster-client``
(sample client of the bundled echo service), ``cluster-tool`` (like Aeron's ClusterTool) and
``cluster-service`` (one service container in its own process) and ``cluster-backup``
(ClusterBackup).

Each lives in its own module; :func:`add_commands` adds them to the ``aeronpy`` parser."""

from __future__ import annotations

import argparse

__all__ = ["add_commands"]


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from aeronpy.cluster.backup.cli import add_command as add_backup
    from aeronpy.cluster.client_cli import add_command as add_client
    from aeronpy.cluster.node_cli import add_command as add_node
    from aeronpy.cluster.service.cli import add_command as add_service
    from aeronpy.cluster.tool_cli import add_command as add_tool

    add_node(sub)
    add_client(sub)
    add_tool(sub)
    add_service(sub)
    add_backup(sub)
