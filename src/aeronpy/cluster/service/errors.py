"""Errors of the clustered service container (the shared :class:`ClusterError` lives in
:mod:`aeronpy.cluster.errors`)."""

from __future__ import annotations

from aeronpy.cluster.errors import ClusterError
from aeronpy.concurrent.agent import AgentTerminationException

__all__ = ["ClusterError", "ClusterTerminationException"]


class ClusterTerminationException(AgentTerminationException):
    """Ends the container's duty cycle: the termination position was reached
    (``is_expected``) or the cluster went away (commit-pos counter gone, Aeron closed)."""

    def __init__(self, is_expected: bool = True, message: str = "") -> None:
        super().__init__(message or ("service terminated" if is_expected else "service terminated unexpectedly"))
        self.is_expected = is_expected
