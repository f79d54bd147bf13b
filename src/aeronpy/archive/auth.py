"""Pluggable authentication of control sessions (archive.md §1.4); the default accepts all."""

from __future__ import annotations

from typing import Protocol

__all__ = ["SessionProxy", "Authenticator", "DefaultAuthenticator"]


class SessionProxy(Protocol):
    """What an authenticator may do with a connecting session."""

    def session_id(self) -> int: ...

    def challenge(self, encoded_challenge: bytes) -> bool: ...

    def authenticate(self, encoded_principal: bytes) -> bool: ...

    def reject(self) -> None: ...


class Authenticator(Protocol):
    """Aeron's ``Authenticator`` contract, in Python names."""

    def on_connect_request(self, session_id: int, encoded_credentials: bytes, now_ms: int) -> None: ...

    def on_challenge_response(self, session_id: int, encoded_credentials: bytes, now_ms: int) -> None: ...

    def on_connected_session(self, proxy: SessionProxy, now_ms: int) -> None: ...

    def on_challenged_session(self, proxy: SessionProxy, now_ms: int) -> None: ...


class DefaultAuthenticator:
    """Authenticates every session at once with an empty principal."""

    def on_connect_request(self, session_id: int, encoded_credentials: bytes, now_ms: int) -> None:
        pass

    def on_challenge_response(self, session_id: int, encoded_credentials: bytes, now_ms: int) -> None:
        pass

    def on_connected_session(self, proxy: SessionProxy, now_ms: int) -> None:
        proxy.authenticate(b"")

    def on_challenged_session(self, proxy: SessionProxy, now_ms: int) -> None:
        proxy.authenticate(b"")
