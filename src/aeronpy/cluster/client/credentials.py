"""Credentials suppliers: what the client sends in SessionConnectRequest and ChallengeResponse."""

from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

__all__ = ["CredentialsSupplier", "NullCredentialsSupplier", "StaticCredentialsSupplier"]


@runtime_checkable
class CredentialsSupplier(Protocol):
    """Aeron's ``CredentialsSupplier``: credentials for the connect request and answers to
    challenges from the cluster's authenticator."""

    def encoded_credentials(self) -> bytes:
        """Credentials sent with SessionConnectRequest."""
        ...

    def on_challenge(self, encoded_challenge: bytes) -> bytes:
        """Credentials sent in the ChallengeResponse to ``encoded_challenge``."""
        ...


class NullCredentialsSupplier:
    """Empty credentials, empty answers (Aeron's default)."""

    def encoded_credentials(self) -> bytes:
        return b""

    def on_challenge(self, encoded_challenge: bytes) -> bytes:
        return b""


class StaticCredentialsSupplier:
    """Fixed credentials; challenges answered by ``on_challenge_fn`` (default: empty answer)."""

    def __init__(self, credentials: bytes, on_challenge_fn: Callable[[bytes], bytes] | None = None) -> None:
        self.credentials = bytes(credentials)
        self._on_challenge = on_challenge_fn

    def encoded_credentials(self) -> bytes:
        return self.credentials

    def on_challenge(self, encoded_challenge: bytes) -> bytes:
        return b"" if self._on_challenge is None else bytes(self._on_challenge(encoded_challenge))
