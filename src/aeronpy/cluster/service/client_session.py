"""``ClientSession``: a cluster client's session as a service sees it (cluster.md §5.2).

Offers go out on the session's egress publication, which only the leader's containers open
(``aeron.cluster.service.responder``): on followers and during replay an offer returns
:data:`MOCKED_OFFER` without sending, so the same service code runs everywhere."""

from __future__ import annotations

from typing import Any, Protocol

from aeronpy.client.buffer_claim import BufferClaim
from aeronpy.cluster.service.errors import ClusterError

__all__ = ["ClientSession", "MOCKED_OFFER"]

#: What offers return on a member that does not send egress (not the leader).
MOCKED_OFFER = 1


class _SessionOwner(Protocol):
    def offer_to_session(self, session: ClientSession, buffer: Any, offset: int, length: int) -> int: ...

    def try_claim_to_session(self, session: ClientSession, length: int, claim: BufferClaim) -> int: ...

    def get_client_session(self, cluster_session_id: int) -> ClientSession | None: ...

    def close_client_session(self, cluster_session_id: int) -> bool: ...

    def handle_error(self, error: BaseException) -> None: ...


class ClientSession:
    """One open client session: id, response channel/stream, principal; egress offers."""

    __slots__ = ("id", "response_stream_id", "response_channel", "encoded_principal", "_owner",
                 "response_publication", "_is_closing")

    def __init__(self, cluster_session_id: int, response_stream_id: int, response_channel: str,
                 encoded_principal: bytes, owner: _SessionOwner) -> None:
        self.id = cluster_session_id
        self.response_stream_id = response_stream_id
        self.response_channel = response_channel
        self.encoded_principal = encoded_principal
        self._owner = owner
        self.response_publication: Any = None
        self._is_closing = False

    @property
    def is_closing(self) -> bool:
        """True once the service asked to close it (until the close is in the log)."""
        return self._is_closing

    def offer(self, buffer: Any, offset: int = 0, length: int = -1) -> int:
        """Send ``buffer[offset:offset+length]`` to the client behind the session header:
        the publication's result on the leader, :data:`MOCKED_OFFER` elsewhere, NOT_CONNECTED
        if the leader has no egress publication for it."""
        return self._owner.offer_to_session(self, buffer, offset, length)

    def offerv(self, buffers: list[Any]) -> int:
        """Send the concatenation of ``buffers`` (bytes-like) as one message."""
        return self._owner.offer_to_session(self, b"".join(bytes(b) for b in buffers), 0, -1)

    def try_claim(self, length: int, claim: BufferClaim) -> int:
        """Claim ``length`` payload bytes after the session header (written for you); fill
        ``claim.buffer`` from ``claim.offset + 32`` and commit."""
        return self._owner.try_claim_to_session(self, length, claim)

    def close(self) -> None:
        """Ask the consensus module to close this session (no-op if already gone)."""
        if self._owner.get_client_session(self.id) is not None:
            self._owner.close_client_session(self.id)

    # -- container side ----------------------------------------------------------------------

    def connect(self, aeron: Any) -> None:
        """Open the egress publication (leader); a refused channel is reported, not raised."""
        if self.response_publication is not None:
            return
        try:
            self.response_publication = aeron.add_publication(self.response_channel, self.response_stream_id)
        except Exception as e:  # RegistrationError, bad channel: the session just gets no egress
            self._owner.handle_error(ClusterError(
                f"failed to connect session {self.id} response publication "
                f"{self.response_channel!r} stream {self.response_stream_id}: {e}"))

    def disconnect(self) -> None:
        publication, self.response_publication = self.response_publication, None
        if publication is not None:
            try:
                publication.close()
            except Exception as e:
                self._owner.handle_error(e)

    def mark_closing(self) -> None:
        self._is_closing = True

    def reset_closing(self) -> None:
        self._is_closing = False

    def __repr__(self) -> str:
        return (f"ClientSession(id={self.id}, response_stream_id={self.response_stream_id}, "
                f"response_channel={self.response_channel!r}, encoded_principal={self.encoded_principal!r}, "
                f"connected={self.response_publication is not None}, is_closing={self._is_closing})")
