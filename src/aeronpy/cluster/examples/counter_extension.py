"""``CounterExtension``: a consensus module extension (no clustered service) keeping one
replicated counter — the smallest complete example of
:class:`~aeronpy.cluster.consensus.extension.ConsensusModuleExtension`.

Run it with ``aeronpy cluster-node --service none -D aeron.cluster.service.count=0
-D aeron.cluster.consensus.module.extension=aeronpy.cluster.examples.counter_extension:CounterExtension``
(or ``--extension aeronpy.cluster.examples.counter_extension:CounterExtension``).

Its messages use their own SBE schema id (:data:`SCHEMA_ID`), so the consensus module hands
them to the extension: a client offers :func:`encode_add` straight to its ingress publication
(after connecting a session); the leader's extension appends it to the log; every member's
extension applies it once committed (followers through the module's log adapter, the leader
through its own log spy), so every member has the same ``total``, ``count`` and ``digest``.
State goes into the CM snapshot after the module's own section."""

from __future__ import annotations

import hashlib
import struct
import time
from typing import Any

from aeronpy.client.results import ControlledPollAction
from aeronpy.cluster.consensus.extension import ConsensusControlState, ConsensusModuleControl, ConsensusModuleExtension
from aeronpy.logbuffer.fragment_assembler import FragmentAssembler
from aeronpy.protocol import sbe

__all__ = ["CounterExtension", "SCHEMA_ID", "ADD_TEMPLATE_ID", "STATE_TEMPLATE_ID", "encode_add"]

#: The extension's SBE schema id (anything but the cluster's 111).
SCHEMA_ID = 900
VERSION = 1
ADD_TEMPLATE_ID = 1
STATE_TEMPLATE_ID = 2
#: Add: ``correlationId i64 · delta i64``.
ADD = struct.Struct("<qq")
#: Snapshot state: ``total i64 · count i64 · digest 32 bytes``.
STATE = struct.Struct("<qq32s")
_MASK = (1 << 64) - 1


def _header(template_id: int, block_length: int) -> bytes:
    return sbe.HEADER.pack(block_length, template_id, SCHEMA_ID, VERSION)


def encode_add(correlation_id: int, delta: int) -> bytes:
    """An Add message (header included) to offer on the ingress publication."""
    return _header(ADD_TEMPLATE_ID, ADD.size) + ADD.pack(correlation_id, delta)


def _wrap(value: int) -> int:
    value &= _MASK
    return value - (1 << 64) if value >= 1 << 63 else value


class CounterExtension(ConsensusModuleExtension):
    """Adds each committed Add's delta to ``total`` (signed 64-bit, wrapping)."""

    def __init__(self) -> None:
        self.control: ConsensusModuleControl | None = None
        self.state: ConsensusControlState | None = None
        self.total = 0
        self.count = 0
        self.digest = bytes(32)
        self.rejected = 0
        self._leader_assembler = FragmentAssembler(self._on_leader_fragment)

    # -- lifecycle -------------------------------------------------------------------------

    def on_start(self, control: ConsensusModuleControl, snapshot_image: Any | None) -> None:
        self.control = control
        if snapshot_image is not None:
            from aeronpy.cluster.service.snapshot_loader import read_snapshot_message

            data = read_snapshot_message(snapshot_image, control.idle_strategy)
            _, template_id, schema_id, _ = sbe.decode_header(data)
            if schema_id != SCHEMA_ID or template_id != STATE_TEMPLATE_ID:
                raise ValueError(f"not a counter extension snapshot (schema {schema_id}, template {template_id})")
            self.total, self.count, self.digest = STATE.unpack_from(data, sbe.HEADER_LENGTH)

    def on_election_complete(self, state: ConsensusControlState) -> None:
        self.state = state

    def on_prepare_for_new_leadership(self) -> None:
        self.state = None

    def on_take_snapshot(self, snapshot_publication: Any) -> None:
        message = _header(STATE_TEMPLATE_ID, STATE.size) + STATE.pack(self.total, self.count, self.digest)
        deadline = time.monotonic() + 10
        while snapshot_publication.offer(message) < 0:
            if time.monotonic() > deadline:
                raise TimeoutError("counter extension snapshot could not be written")
            time.sleep(0.0001)

    # -- messages --------------------------------------------------------------------------

    def on_ingress_extension_message(self, acting_block_length: int, template_id: int, schema_id: int,
                                     acting_version: int, buffer: Any, offset: int, length: int,
                                     header: Any) -> Any:
        state = self.state
        if state is None or not state.is_leader:
            return ControlledPollAction.CONTINUE  # clients talk to the leader; others drop it
        if schema_id != SCHEMA_ID or template_id != ADD_TEMPLATE_ID or length != sbe.HEADER_LENGTH + ADD.size:
            self.rejected += 1
            return ControlledPollAction.CONTINUE
        if state.log_publication.offer(buffer.get_bytes(offset, length)) > 0:
            return ControlledPollAction.CONTINUE
        return ControlledPollAction.ABORT  # the log is back-pressured: ingress waits

    def on_log_extension_message(self, acting_block_length: int, template_id: int, schema_id: int,
                                 acting_version: int, buffer: Any, offset: int, length: int, header: Any) -> Any:
        if schema_id == SCHEMA_ID and template_id == ADD_TEMPLATE_ID and length == ADD.size:
            self._apply(buffer.get_bytes(offset, length))
        return ControlledPollAction.CONTINUE

    def do_work(self, now_ns: int) -> int:
        """As leader: read the own log back up to the commit position."""
        state, control = self.state, self.control
        if state is None or state.leader_log_subscription is None or control is None:
            return 0
        subscription = state.leader_log_subscription
        if subscription.image_count == 0:
            return 0
        image = subscription.image_at_index(0)
        return int(image.bounded_poll(self._leader_assembler.on_fragment, control.commit_position(), 50))

    def _on_leader_fragment(self, buffer: Any, offset: int, length: int, header: Any) -> None:
        data = buffer.get_bytes(offset, length)
        _, template_id, schema_id, _ = sbe.decode_header(data)
        if schema_id == SCHEMA_ID and template_id == ADD_TEMPLATE_ID and length == sbe.HEADER_LENGTH + ADD.size:
            self._apply(data[sbe.HEADER_LENGTH:])

    def _apply(self, body: bytes) -> None:
        _correlation_id, delta = ADD.unpack(body)
        self.total = _wrap(self.total + delta)
        self.count += 1
        self.digest = hashlib.sha256(self.digest + body).digest()
