"""What the archive client hands back: descriptors and signals as frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass

from aeronpy.protocol import sbe
from aeronpy.archive.codecs import RecordingSignal

__all__ = ["RecordingDescriptor", "RecordingSubscriptionDescriptor", "RecordingSignalEvent"]


@dataclass(frozen=True)
class RecordingDescriptor:
    control_session_id: int
    correlation_id: int
    recording_id: int
    start_timestamp: int
    stop_timestamp: int
    start_position: int
    stop_position: int
    initial_term_id: int
    segment_file_length: int
    term_buffer_length: int
    mtu_length: int
    session_id: int
    stream_id: int
    stripped_channel: str
    original_channel: str
    source_identity: str

    @classmethod
    def from_decoded(cls, d: sbe.Decoded) -> RecordingDescriptor:
        return cls(**{k: d.values[k] for k in cls.__dataclass_fields__})  # type: ignore[arg-type]


@dataclass(frozen=True)
class RecordingSubscriptionDescriptor:
    control_session_id: int
    correlation_id: int
    subscription_id: int
    stream_id: int
    stripped_channel: str

    @classmethod
    def from_decoded(cls, d: sbe.Decoded) -> RecordingSubscriptionDescriptor:
        return cls(**{k: d.values[k] for k in cls.__dataclass_fields__})  # type: ignore[arg-type]


@dataclass(frozen=True)
class RecordingSignalEvent:
    control_session_id: int
    correlation_id: int
    recording_id: int
    subscription_id: int
    position: int
    signal: RecordingSignal

    @classmethod
    def from_decoded(cls, d: sbe.Decoded) -> RecordingSignalEvent:
        return cls(
            d.get_int("control_session_id"), d.get_int("correlation_id"), d.get_int("recording_id"),
            d.get_int("subscription_id"), d.get_int("position"), RecordingSignal(d.get_int("signal")),
        )
