"""Sender and Receiver duty cycles alone: the agent reads its clock once per cycle and passes
that time to every publication, endpoint and image it drives; socket errors are reported and
the others still served.  Recording doubles, a fake clock, no sockets."""

from __future__ import annotations

from typing import Any

import pytest

from aeronpy.driver.destination_tracker import DestinationTracker
from aeronpy.driver.network_agents import LIVENESS_CHECK_INTERVAL_NS, Receiver, Sender
from aeronpy.testing import ManualClock


class Clock:
    """The manual clock, set to a given time (the agents call ``nano_time``)."""

    def __init__(self, now: int) -> None:
        self._clock = ManualClock(start_ns=now)

    def __call__(self) -> int:
        return self._clock.nano_time()

    @property
    def now(self) -> int:
        return self._clock.nano_time()

    @now.setter
    def now(self, value: int) -> None:
        self._clock.advance_ns(value - self._clock.nano_time())


class Pub:
    def __init__(self, name: str, log: list[tuple[str, int]], sent: int = 0, fail: bool = False) -> None:
        self.name, self.log, self.sent, self.fail = name, log, sent, fail
        self.tx_send = self.send  # no C common case: every cycle is send()

    def send(self, now_ns: int) -> int:
        self.log.append((self.name, now_ns))
        if self.fail:
            raise OSError(113, "no route")
        return self.sent


class Endpoint:
    def __init__(self, log: list[tuple[str, int]]) -> None:
        self.log = log
        self.tracker = DestinationTracker(True)

    def transports(self) -> list[Any]:
        return []

    def poll(self, now_ns: int) -> int:
        self.log.append(("poll", now_ns))
        return 0

    def poll_ready(self, now_ns: int, ready: Any) -> int:
        return self.poll(now_ns)

    def check_liveness(self, now_ns: int) -> None:
        self.log.append(("liveness", now_ns))

    def send_control_setups(self, now_ns: int) -> int:
        self.log.append(("control-setups", now_ns))
        return 0


def test_sender_passes_one_time_per_cycle_to_publications_and_endpoints() -> None:
    clock, log = Clock(1_000), []  # type: ignore[var-annotated]
    sender = Sender(4, 200_000_000, clock)
    endpoint = Endpoint(log)
    sender.on_add_endpoint(endpoint)
    sender.publications += [Pub("a", log), Pub("b", log)]
    sender.do_work()
    assert sorted(log[:2]) == [("a", 1_000), ("b", 1_000)]
    assert log[2:] == [("poll", 1_000), ("liveness", 1_000)]  # nothing sent: control frames polled
    assert not hasattr(endpoint, "now_ns")  # the time is passed, never left on the endpoint


def test_sender_looks_for_silent_receivers_at_most_once_a_millisecond() -> None:
    clock, log = Clock(5_000), []  # type: ignore[var-annotated]
    sender = Sender(1, 200_000_000, clock)
    sender.on_add_endpoint(Endpoint(log))
    looked = []
    for now in (5_000, 5_001, 5_000 + LIVENESS_CHECK_INTERVAL_NS - 1, 5_000 + LIVENESS_CHECK_INTERVAL_NS,
                5_000 + 5 * LIVENESS_CHECK_INTERVAL_NS):
        clock.now = now
        log.clear()
        sender.do_work()
        assert ("poll", now) in log  # control frames are polled every cycle here (ratio 1)
        looked.append(("liveness", now) in log)
    assert looked == [True, False, False, True, True]


def test_sender_round_robins_publications_and_polls_control_every_ratio_while_busy() -> None:
    clock, log = Clock(0), []  # type: ignore[var-annotated]
    sender = Sender(3, 200_000_000, clock)
    sender.on_add_endpoint(Endpoint(log))
    sender.publications += [Pub("a", log, sent=100), Pub("b", log, sent=100)]
    firsts = []
    polls = 0
    for i in range(6):
        clock.now = i
        log.clear()
        sender.do_work()
        firsts.append(log[0][0])
        polls += ("poll", i) in log
    assert firsts == ["b", "a", "b", "a", "b", "a"]  # who goes first rotates
    assert polls == 2  # busy: every third cycle (status poll ratio), not every cycle


def test_sender_reports_a_failing_publication_and_serves_the_others() -> None:
    clock, log = Clock(0), []  # type: ignore[var-annotated]
    sender = Sender(4, 200_000_000, clock)
    errors: list[BaseException] = []
    sender.error_handler = errors.append
    sender.publications += [Pub("bad", log, fail=True), Pub("good", log, sent=10)]
    assert sender.do_work() == 1
    assert {name for name, _ in log} == {"bad", "good"} and isinstance(errors[0], OSError)


class FastPub(Pub):
    """A publication whose C common case (tx_send) handles or declines each cycle."""

    def __init__(self, name: str, log: list[tuple[str, int]], answers: list[int], sent: int = 0) -> None:
        super().__init__(name, log, sent)
        self.answers = answers
        self.tx_send = self._tx_send

    def _tx_send(self, now_ns: int) -> int:
        self.log.append((self.name + ".tx", now_ns))
        return self.answers.pop(0)


@pytest.mark.parametrize("count", [1, 2])
def test_sender_runs_send_only_when_the_common_case_declines(count: int) -> None:
    clock, log = Clock(0), []  # type: ignore[var-annotated]
    sender = Sender(100, 200_000_000, clock)
    pubs = [FastPub(f"p{i}", log, answers=[7, -1, 0], sent=5) for i in range(count)]
    sender.publications += pubs
    assert sender.do_work() == 1  # the C path sent 7 bytes: no send()
    assert sorted(log) == sorted((f"p{i}.tx", 0) for i in range(count))
    log.clear()
    assert sender.do_work() == 1  # declined: send() ran (5 bytes)
    assert sorted(log) == sorted([(f"p{i}.tx", 0) for i in range(count)] + [(f"p{i}", 0) for i in range(count)])
    log.clear()
    assert sender.do_work() == 0  # handled, nothing to send: no send(), no work
    assert sorted(log) == sorted((f"p{i}.tx", 0) for i in range(count))


def test_a_manual_destination_is_added_at_the_sender_clock_time() -> None:
    clock = Clock(42_000)
    sender = Sender(4, 200_000_000, clock)
    endpoint = Endpoint([])
    sender.on_add_destination(endpoint, ("127.0.0.1", 40001), 9, "aeron:udp?endpoint=127.0.0.1:40001")
    (destination,) = endpoint.tracker.destinations
    assert destination.time_of_last_activity_ns == 42_000 and destination.registration_id == 9


class Image:
    def __init__(self, log: list[tuple[str, int]], sm_due: bool, loss_due: bool) -> None:
        self.log = log
        self.sm_change, self.last_sm_change = (2, 1) if sm_due else (1, 1)
        self.loss_change, self.last_loss_change = (2, 1) if loss_due else (1, 1)
        self.time_of_last_sm_ns = 0
        self.sm_timeout_ns = 10_000
        self.measures_rtt = False  # static-window congestion control: no RTT measurement

    def send_pending_status_message(self, now_ns: int) -> int:
        self.log.append(("sm", now_ns))
        return 1

    def send_pending_loss(self, now_ns: int) -> int:
        self.log.append(("loss", now_ns))
        return 1


def test_receiver_polls_endpoints_then_sends_only_what_images_have_due_at_its_time() -> None:
    clock, log = Clock(5_000), []  # type: ignore[var-annotated]
    receiver = Receiver(clock)
    receiver.on_add_endpoint(Endpoint(log))
    receiver.images += [Image(log, sm_due=True, loss_due=False), Image(log, sm_due=False, loss_due=True),
                        Image(log, sm_due=False, loss_due=False)]
    receiver.do_work()
    assert log == [("poll", 5_000), ("control-setups", 5_000), ("sm", 5_000), ("loss", 5_000)]
    log.clear()
    clock.now = 10_000  # the SM timeout: every image repeats its SM
    receiver.do_work()
    assert [entry for entry in log if entry[0] == "sm"] == [("sm", 10_000)] * 3
