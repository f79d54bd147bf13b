"""Errors of the cluster client.  All derive from :class:`aeronpy.cluster.errors.ClusterError`
(the one cluster exception, Aeron's ``ClusterException``), itself an
:class:`aeronpy.errors.AeronError`; the client raises it when the cluster refuses or breaks a
session (SessionEvent ERROR, lost connection, bad event)."""

from __future__ import annotations

from aeronpy.cluster.errors import ClusterError

__all__ = ["ClusterError", "AuthenticationError", "ClusterTimeoutError", "ClusterClosedError"]


class AuthenticationError(ClusterError):
    """The cluster's authenticator rejected the credentials (SessionEvent AUTHENTICATION_REJECTED)."""


class ClusterTimeoutError(ClusterError, TimeoutError):
    """No answer within ``aeron.cluster.message.timeout`` (connect, or a new leader's ingress)."""


class ClusterClosedError(ClusterError):
    """An operation on an :class:`~aeronpy.cluster.client.AeronCluster` that is closed."""
