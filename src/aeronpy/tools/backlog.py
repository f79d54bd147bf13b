"""``aeronpy backlog``: per stream the publisher, sender, receiver and subscriber positions and
the backlog between them, like Aeron's BacklogStat.

Backlogs (bytes): sender = pub-pos − snd-pos (written, not yet sent); receiver = rcv-hwm −
rcv-pos (seen on the wire but not yet contiguous: gaps waiting for NAK/retransmit);
subscriber = rcv-pos − sub-pos on a network image, pub-pos − sub-pos on IPC (not yet read).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import TextIO

from aeronpy.concurrent import counters as c
from aeronpy.tools import snapshot as snap
from aeronpy.tools.cnc_access import open_cnc

__all__ = ["SubscriberBacklog", "StreamBacklog", "backlogs", "format_backlog", "add_arguments", "run"]


@dataclass(frozen=True)
class SubscriberBacklog:
    """One subscriber position and how far it is behind its source."""

    subscription_id: int
    position: int
    backlog: int | None


@dataclass(frozen=True)
class StreamBacklog:
    """Positions and backlogs of one (session, stream); ``None`` where a counter is absent."""

    session_id: int
    stream_id: int
    channel: str
    publisher_position: int | None
    publisher_limit: int | None
    sender_position: int | None
    sender_limit: int | None
    receiver_hwm: int | None
    receiver_position: int | None
    subscribers: tuple[SubscriberBacklog, ...]

    @property
    def sender_backlog(self) -> int | None:
        """pub-pos − snd-pos."""
        if self.publisher_position is None or self.sender_position is None:
            return None
        return self.publisher_position - self.sender_position

    @property
    def receiver_backlog(self) -> int | None:
        """rcv-hwm − rcv-pos."""
        if self.receiver_hwm is None or self.receiver_position is None:
            return None
        return self.receiver_hwm - self.receiver_position


def backlogs(snapshot: snap.Snapshot) -> list[StreamBacklog]:
    """The backlog of every stream in ``snapshot``."""
    result = []
    for s in snap.streams(snapshot):
        pub = s.value(c.PUBLISHER_POSITION_TYPE_ID)
        rcv = s.value(c.RECEIVER_POSITION_TYPE_ID)
        source = rcv if rcv is not None else pub
        subs = tuple(
            SubscriberBacklog(x.registration_id, x.value, None if source is None else source - x.value)
            for x in s.all(c.SUBSCRIBER_POSITION_TYPE_ID)
        )
        result.append(StreamBacklog(
            s.session_id, s.stream_id, s.channel, pub, s.value(c.PUBLISHER_LIMIT_TYPE_ID),
            s.value(c.SENDER_POSITION_TYPE_ID), s.value(c.SENDER_LIMIT_TYPE_ID),
            s.value(c.RECEIVER_HWM_TYPE_ID), rcv, subs,
        ))
    return result


def _v(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def format_backlog(items: list[StreamBacklog]) -> list[str]:
    """One block per stream: positions on each side and the backlog between them."""
    if not items:
        return ["no streams"]
    lines: list[str] = []
    for b in items:
        lines.append(f"sessionId={b.session_id} streamId={b.stream_id} channel={b.channel}")
        if b.publisher_position is not None:
            lines.append(f"  publisher  pub-pos={_v(b.publisher_position)} pub-lmt={_v(b.publisher_limit)}")
        if b.sender_position is not None:
            lines.append(f"  sender     snd-pos={_v(b.sender_position)} snd-lmt={_v(b.sender_limit)} "
                         f"backlog={_v(b.sender_backlog)}")
        if b.receiver_hwm is not None or b.receiver_position is not None:
            lines.append(f"  receiver   rcv-hwm={_v(b.receiver_hwm)} rcv-pos={_v(b.receiver_position)} "
                         f"backlog={_v(b.receiver_backlog)}")
        for sub in b.subscribers:
            lines.append(f"  subscriber sub-pos={_v(sub.position)} backlog={_v(sub.backlog)} "
                         f"(subscription {sub.subscription_id})")
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``aeronpy backlog``."""
    parser.add_argument("--dir", help="Aeron directory (default: AERON_DIR or Aeron's default)")


def run(args: argparse.Namespace, aeron_dir: str, out: TextIO | None = None) -> int:
    """Print the backlog of every stream of the driver in ``aeron_dir``."""
    out = out or sys.stdout
    with open_cnc(aeron_dir) as cnc:
        out.write("\n".join(format_backlog(backlogs(snap.take(cnc)))) + "\n")
    return 0
