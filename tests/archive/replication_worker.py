"""Helper process for the two-host replication test (run inside a host's network namespace).

``publish DIR CHANNEL STREAM COUNT``: publish COUNT sample payloads (100 B) on an exclusive
publication, print ``published <position>``, then keep the stream live (one more message every
5 ms) until SIGTERM.

``replicate DIR SRC_CONTROL_CHANNEL SRC_RECORDING_ID STOP_AFTER [LIVE_DESTINATION]``: ask the
local archive (IPC control) to replicate the source recording.  STOP_AFTER 0: wait for
REPLICATE_END; otherwise stop the replication once the destination recorded STOP_AFTER bytes.
With LIVE_DESTINATION: live merge; print ``merged`` after MERGE and REPLICATE_END, then wait
for the destination recording to STOP (the live stream ended).  Then replay the
destination recording and check every message is the next sample payload.  Prints the signals,
``dst=<id> stop=<position>`` and ``replayed <n> messages in order, payloads intact``.
Exit 0 on success, 1 with the reason on stderr.
"""

from __future__ import annotations

import signal
import sys
import time
from typing import Any

from aeronpy.archive.client import AeronArchive, AeronArchiveContext
from aeronpy.archive.codecs import RecordingSignal
from aeronpy.client.aeron import Aeron
from aeronpy.client.context import Context
from aeronpy.samples import PayloadFactory, check_payload

TIMEOUT_S = 60.0


def publish(aeron_dir: str, channel: str, stream: int, count: int) -> int:
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    factory = PayloadFactory(100)
    with Aeron.connect(Context.from_properties(env={}, aeron_dir=aeron_dir)) as aeron:
        pub = aeron.add_exclusive_publication(channel, stream)
        deadline = time.monotonic() + TIMEOUT_S
        seq = 0
        while seq < count:
            if pub.offer(factory.make(seq)) > 0:
                seq += 1
            elif time.monotonic() > deadline:
                print(f"publication stuck at message {seq}", file=sys.stderr)
                return 1
            else:
                time.sleep(0.0002)
        print(f"published {pub.position}", flush=True)
        while not stop:
            if pub.offer(factory.make(seq)) > 0:
                seq += 1
            time.sleep(0.005)
        print(f"sent {seq} position {pub.position}", flush=True)
    return 0


def replicate(aeron_dir: str, src_control: str, src_recording_id: int, stop_after: int,
              live_destination: str = "") -> int:
    with AeronArchive.connect(AeronArchiveContext(aeron_dir=aeron_dir)) as arc:
        seen: list[Any] = []
        rid = arc.replicate(src_recording_id, -1, 10, src_control, live_destination=live_destination)
        deadline = time.monotonic() + TIMEOUT_S

        def poll(what: str) -> None:
            seen.extend(s for s in arc.poll_for_recording_signals() if s.correlation_id == rid)
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}; signals {[s.signal.name for s in seen]}")
            time.sleep(0.005)

        def has(signal_: RecordingSignal) -> bool:
            return any(s.signal is signal_ for s in seen)

        while not has(RecordingSignal.REPLICATE):
            poll("REPLICATE")
        dst = next(s.recording_id for s in seen if s.signal is RecordingSignal.REPLICATE)
        if live_destination:  # merged onto the live stream: it records on until the live stream ends
            while not (has(RecordingSignal.MERGE) and has(RecordingSignal.REPLICATE_END)):
                poll("MERGE and REPLICATE_END")
            print("merged", flush=True)
            deadline += TIMEOUT_S
        if stop_after > 0:
            while arc.get_max_recorded_position(dst) < stop_after:
                poll(f"{stop_after} bytes replicated")
            arc.stop_replication(rid)
        while not (has(RecordingSignal.REPLICATE_END) and has(RecordingSignal.STOP)):
            poll("REPLICATE_END and STOP")
        print("signals " + ",".join(s.signal.name for s in seen), flush=True)
        stop = arc.get_stop_position(dst)
        print(f"dst={dst} stop={stop}", flush=True)
        sub = arc.replay(dst, "aeron:ipc", 3001, 0, stop)
        got = [0, 0]  # messages, position after the last one
        failure: list[str] = []

        def on_message(buffer: Any, offset: int, length: int, header: Any) -> None:
            problem = check_payload(buffer.get_bytes(offset, length), got[0])
            if problem is not None and not failure:
                failure.append(problem)
            got[0] += 1
            got[1] = int(header.position)

        def replayed_to_stop() -> bool:
            return got[1] >= stop or any(image.position >= stop for image in sub.images)

        while not replayed_to_stop() and not failure:
            if sub.poll(on_message, 100) == 0:
                poll(f"the replay to reach {stop} (at {got[1]})")
        if failure:
            print(failure[0], file=sys.stderr)
            return 1
        print(f"replayed {got[0]} messages in order, payloads intact", flush=True)
    return 0


def main(argv: list[str]) -> int:
    if argv[0] == "publish":
        return publish(argv[1], argv[2], int(argv[3]), int(argv[4]))
    return replicate(argv[1], argv[2], int(argv[3]), int(argv[4]), argv[5] if len(argv) > 5 else "")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
