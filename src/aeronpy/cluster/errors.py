"""Exceptions of the cluster.

``ClusterError`` is Aeron's ``ClusterException``: any cluster failure.  ``ClusterFileError`` is
a file of a member's cluster directory (``recording.log``, ``node-state.dat``, a mark file)
that is missing, truncated, corrupt, foreign, of an incompatible version or in use; its
message names the file and, where known, the byte offset."""

from __future__ import annotations

from aeronpy.errors import AeronError

__all__ = ["ClusterError", "ClusterFileError"]


class ClusterError(AeronError):
    """A cluster operation failed (Aeron's ``ClusterException``)."""


class ClusterFileError(ClusterError):
    """A cluster directory file is missing, corrupt, foreign, incompatible or in use."""
