"""EgressPoller: one control message per poll, fields kept, the rest left for the next poll."""

from __future__ import annotations

from typing import Any

from aeronpy.client.results import ControlledPollAction
from aeronpy.cluster.client import EgressPoller
from aeronpy.cluster.codecs import NULL_VALUE, EventCode, T
from aeronpy.concurrent.atomic_buffer import AtomicBuffer
from aeronpy.protocol import sbe


class Image:
    is_closed = False


class Header:
    def __init__(self, context: Any) -> None:
        self.context = context


class Subscription:
    """Feeds unfragmented messages to the controlled handler, honouring ABORT/BREAK."""

    def __init__(self, messages: list[bytes]) -> None:
        self.messages = list(messages)
        self.image = Image()

    def controlled_poll(self, handler: Any, limit: int) -> int:
        done = 0
        while self.messages and done < limit:
            data = self.messages[0]
            buffer = AtomicBuffer(bytearray(32 + len(data) + 32))
            buffer.put_bytes(32, data)
            buffer.put_uint8(32 - 27, 0xC0)  # BEGIN|END flags of the frame header
            action = handler(buffer, 32, len(data), Header(self.image))
            if action == ControlledPollAction.ABORT:
                break
            self.messages.pop(0)
            done += 1
            if action == ControlledPollAction.BREAK:
                break
        return done


def test_one_message_per_poll_and_reset_between() -> None:
    challenge = sbe.encode(T.Challenge, correlation_id=4, cluster_session_id=8, encoded_challenge=b"ch")
    event = sbe.encode(T.SessionEvent, cluster_session_id=8, correlation_id=5, leadership_term_id=2,
                       leader_member_id=1, code=EventCode.OK, version=0x300, leader_heartbeat_timeout_ns=777,
                       detail="")
    sub = Subscription([bytes([4, 0, 1, 0, 200, 0, 1, 0]) + bytes(4), challenge, event])
    poller = EgressPoller(sub)
    assert poller.poll() == 2  # the foreign-schema message is skipped
    assert poller.is_poll_complete and poller.is_challenged
    assert (poller.correlation_id, poller.cluster_session_id, poller.encoded_challenge) == (4, 8, b"ch")
    assert poller.poll() == 1
    assert not poller.is_challenged and poller.encoded_challenge is None
    assert (poller.correlation_id, poller.leadership_term_id, poller.leader_member_id) == (5, 2, 1)
    assert (poller.event_code, poller.version, poller.leader_heartbeat_timeout_ns) == (EventCode.OK, 0x300, 777)
    assert poller.egress_image is sub.image
    assert poller.poll() == 0 and not poller.is_poll_complete
    assert poller.correlation_id == NULL_VALUE and poller.event_code is None


def test_missing_heartbeat_timeout_reads_as_null_value() -> None:
    event = sbe.encode(T.SessionEvent, cluster_session_id=8, correlation_id=5, leadership_term_id=2,
                       leader_member_id=1, code=EventCode.REDIRECT, detail="0=a:1")
    poller = EgressPoller(Subscription([event]))
    poller.poll()
    assert poller.leader_heartbeat_timeout_ns == NULL_VALUE and poller.detail == "0=a:1"


def test_new_leader_event_and_session_message() -> None:
    sub = Subscription([
        sbe.encode(T.NewLeaderEvent, leadership_term_id=3, cluster_session_id=8, leader_member_id=2,
                   ingress_endpoints="2=c:3"),
        sbe.encode(T.SessionMessageHeader, leadership_term_id=3, cluster_session_id=8, timestamp=1) + b"p",
    ])
    poller = EgressPoller(sub)
    poller.poll()
    assert (poller.template_id, poller.leader_member_id, poller.detail) == (6, 2, "2=c:3")
    poller.poll()
    assert (poller.template_id, poller.cluster_session_id, poller.leadership_term_id) == (1, 8, 3)
