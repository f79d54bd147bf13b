"""Errors of the cluster client; all derive from :class:`aeronpy.errors.AeronError`."""

from __future__ import annotations

from aeronpy.errors import AeronError

__all__ = ["ClusterError", "AuthenticationError", "ClusterTimeoutError", "ClusterClosedError"]


class ClusterError(AeronError):
    """The cluster refused or broke a session (SessionEvent ERROR, lost connection, bad event)."""


class AuthenticationError(ClusterError):
    """The cluster's authenticator rejected the credentials (SessionEvent AUTHENTICATION_REJECTED)."""


class ClusterTimeoutError(ClusterError, TimeoutError):
    """No answer within ``aeron.cluster.message.timeout`` (connect, or a new leader's ingress)."""


class ClusterClosedError(ClusterError):
    """An operation on an :class:`~aeronpy.cluster.client.AeronCluster` that is closed."""
