"""A linearizability checker for key-value histories (read / write / compare-and-set), in the
manner of Knossos and Porcupine.

A history is a list of :class:`Operation`: who invoked what on which key, when it was invoked,
and how it ended — ``OK`` with its output at a return time, ``FAIL`` (definitely did not take
effect: dropped), or ``INFO`` (unknown: a timeout; it may have taken effect at any time after
its invocation, or never).  The history is linearizable if every operation can be given one
instant between its invocation and its return such that the sequence of those instants is a
legal run of one register per key.

The search is Wing & Gong's with Lowe's memoisation, as Porcupine does it: walk the time-ordered
call/return events, linearize a pending call when the model allows it, backtrack at the return
of an operation not linearized yet, and never revisit a (set of linearized operations, model
state) pair.  Keys are independent registers, so each key is checked on its own
(P-compositionality).  The model is nondeterministic for INFO operations (effect or no effect),
handled by carrying the *set* of possible register values.  A search that exceeds its step
budget answers :attr:`Verdict.UNKNOWN` rather than guessing.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = [
    "Kind",
    "Status",
    "Operation",
    "Verdict",
    "KeyResult",
    "CheckResult",
    "History",
    "check",
    "check_key",
    "step",
    "operations_to_json",
    "operations_from_json",
]

INFINITY = float("inf")


class Kind(str, Enum):
    READ = "read"
    WRITE = "write"
    CAS = "cas"


class Status(str, Enum):
    OK = "ok"  # completed, output known
    FAIL = "fail"  # definitely did not take effect
    INFO = "info"  # unknown outcome (timeout): may or may not have taken effect


@dataclass(frozen=True)
class Operation:
    """One operation.  ``value``: the written value (WRITE) or ``(expected, new)`` (CAS);
    ``output``: the value read (READ, None = key absent) or whether the CAS swapped (CAS).
    ``ret`` is None for INFO operations (they never returned)."""

    client: int
    kind: Kind
    key: Hashable
    value: Any
    call: float
    ret: float | None
    status: Status = Status.OK
    output: Any = None

    def __str__(self) -> str:
        v = f"{self.value[0]!r}->{self.value[1]!r}" if self.kind == Kind.CAS else repr(self.value)
        v = "" if self.kind == Kind.READ else v
        out = f" => {self.output!r}" if self.status == Status.OK and self.kind != Kind.WRITE else ""
        ret = "?" if self.ret is None else f"{self.ret}"
        return f"c{self.client} {self.kind.value}({self.key!r}{', ' if v else ''}{v}){out} [{self.call}, {ret}] {self.status.value}"


class Verdict(str, Enum):
    OK = "linearizable"
    ILLEGAL = "not linearizable"
    UNKNOWN = "unknown (search budget exceeded)"


@dataclass
class KeyResult:
    key: Hashable
    verdict: Verdict
    operations: int
    steps: int
    #: for ILLEGAL: the longest legal prefix the search found, and the operations it could not place
    longest: list[Operation] = field(default_factory=list)
    stuck: list[Operation] = field(default_factory=list)


@dataclass
class CheckResult:
    verdict: Verdict
    keys: list[KeyResult]
    operations: int
    dropped: int  # FAIL operations and INFO reads, which constrain nothing

    def explain(self, limit: int = 20) -> str:
        lines = [f"{self.verdict.value}: {self.operations} operations on {len(self.keys)} keys "
                 f"({self.dropped} dropped: failed, or reads of unknown outcome)"]
        for k in self.keys:
            if k.verdict == Verdict.OK:
                continue
            lines.append(f"key {k.key!r}: {k.verdict.value} after {k.steps} steps over {k.operations} operations")
            if k.verdict == Verdict.ILLEGAL:
                lines.append("  longest linearizable prefix (last ones):")
                lines.extend(f"    {op}" for op in k.longest[-limit:])
                lines.append("  operations that cannot come next:")
                lines.extend(f"    {op}" for op in k.stuck[:limit])
        return "\n".join(lines)


# -- the model --------------------------------------------------------------------------------

_Absent = None  # a key that was never written reads as None


def step(state: Any, op: Operation) -> list[Any]:
    """Register states after ``op`` from ``state``; empty if ``op`` cannot happen there."""
    unknown = op.status == Status.INFO
    if op.kind == Kind.READ:
        return [state] if unknown or op.output == state else []
    if op.kind == Kind.WRITE:
        return [op.value, state] if unknown else [op.value]
    expected, new = op.value
    if unknown:
        return [new, state] if state == expected else [state]
    if op.output:
        return [new] if state == expected else []
    return [state] if state != expected else []


def _step_set(states: frozenset[Any], op: Operation) -> frozenset[Any]:
    out: set[Any] = set()
    for s in states:
        out.update(step(s, op))
    return frozenset(out)


# -- the search -------------------------------------------------------------------------------


def check_key(ops: Sequence[Operation], initial: Any = _Absent, max_steps: int = 1_000_000) -> KeyResult:
    """Check the operations of one key (FAIL operations must already be removed)."""
    key = ops[0].key if ops else None
    n = len(ops)
    if n == 0:
        return KeyResult(key, Verdict.OK, 0, 0)
    # events: (time, kind 0=call 1=return, op index); a call sorts before a return at the same time
    events: list[tuple[float, int, int]] = []
    for i, op in enumerate(ops):
        ret = INFINITY if op.ret is None or op.status == Status.INFO else op.ret
        if ret < op.call:
            raise ValueError(f"operation returns before it is invoked: {op}")
        events.append((op.call, 0, i))
        events.append((ret, 1, i))
    events.sort()
    m = len(events)
    # a doubly linked list of events with a sentinel head at index m
    nxt = list(range(1, m + 1)) + [0]
    prv = [m] + list(range(0, m - 1)) + [m - 1]
    nxt[m - 1] = -1
    head = m
    nxt[head] = 0 if m else -1
    is_call = [e[1] == 0 for e in events]
    op_of = [e[2] for e in events]
    match = [0] * m  # call event -> its return event
    ret_at = {e[2]: j for j, e in enumerate(events) if e[1] == 1}
    for j, e in enumerate(events):
        if e[1] == 0:
            match[j] = ret_at[e[2]]

    def lift(j: int) -> None:
        for k in (j, match[j]):
            p, q = prv[k], nxt[k]
            nxt[p] = q
            if q != -1:
                prv[q] = p

    def unlift(j: int) -> None:
        for k in (match[j], j):
            p, q = prv[k], nxt[k]
            nxt[p] = k
            if q != -1:
                prv[q] = k

    state: frozenset[Any] = frozenset([initial])
    linearized = 0
    # (how many of the first operations are all linearized, the set above them, state): operations
    # are mostly linearized in call order, so the part above the prefix stays a small integer
    cache: set[tuple[int, int, frozenset[Any]]] = set()
    stack: list[tuple[int, frozenset[Any]]] = []  # (call event, state before it)
    longest: list[int] = []
    stuck: list[Operation] = []
    steps = 0
    entry = nxt[head]
    while nxt[head] != -1:
        steps += 1
        if steps > max_steps:
            return KeyResult(key, Verdict.UNKNOWN, n, steps)
        if entry != -1 and is_call[entry]:
            i = op_of[entry]
            new_state = _step_set(state, ops[i])
            if new_state:
                bits = linearized | (1 << i)
                prefix = (~bits & (bits + 1)).bit_length() - 1
                memo = (prefix, bits >> prefix, new_state)
                if memo not in cache:
                    cache.add(memo)
                    stack.append((entry, state))
                    state, linearized = new_state, bits
                    lift(entry)
                    if len(stack) > len(longest):
                        longest = [e for e, _ in stack]
                        stuck = []
                    entry = nxt[head]
                    continue
            entry = nxt[entry]
        else:
            if len(stack) == len(longest) and not stuck:
                stuck = _pending(nxt, head, is_call, op_of, ops)
            if not stack:
                return KeyResult(key, Verdict.ILLEGAL, n, steps, [ops[op_of[e]] for e in longest], stuck)
            call, prior = stack.pop()
            state = prior
            linearized &= ~(1 << op_of[call])
            unlift(call)
            entry = nxt[call]
    return KeyResult(key, Verdict.OK, n, steps)


def _pending(nxt: list[int], head: int, is_call: list[bool], op_of: list[int], ops: Sequence[Operation]) -> list[Operation]:
    out = []
    e = nxt[head]
    while e != -1:
        if is_call[e]:
            out.append(ops[op_of[e]])
        else:
            break
        e = nxt[e]
    return out


def check(
    operations: Iterable[Operation], initial: Any = _Absent, max_steps_per_key: int = 1_000_000
) -> CheckResult:
    """Check a whole history, key by key; the verdict is ILLEGAL if any key is, else UNKNOWN if
    any key's search ran out of budget, else OK."""
    by_key: dict[Hashable, list[Operation]] = {}
    total = dropped = 0
    for op in operations:
        total += 1
        if op.status == Status.FAIL or (op.status == Status.INFO and op.kind == Kind.READ):
            dropped += 1
            continue
        by_key.setdefault(op.key, []).append(op)
    results = [check_key(ops, initial, max_steps_per_key) for _, ops in sorted(by_key.items(), key=lambda kv: repr(kv[0]))]
    verdict = Verdict.OK
    if any(r.verdict == Verdict.ILLEGAL for r in results):
        verdict = Verdict.ILLEGAL
    elif any(r.verdict == Verdict.UNKNOWN for r in results):
        verdict = Verdict.UNKNOWN
    return CheckResult(verdict, results, total, dropped)


# -- recording --------------------------------------------------------------------------------


class History:
    """Records operations as clients invoke and complete them (thread-safe).

    ``clock`` gives comparable times for every recorder (default: ``time.monotonic_ns``, which
    is system-wide on Linux, so histories of several processes on one host merge)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic_ns) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[int, tuple[int, Kind, Hashable, Any, float]] = {}
        self._done: list[Operation] = []
        self._next = 0

    def invoke(self, client: int, kind: Kind | str, key: Hashable, value: Any = None) -> int:
        now = self._clock()
        with self._lock:
            op_id = self._next
            self._next += 1
            self._pending[op_id] = (client, Kind(kind), key, value, now)
        return op_id

    def _finish(self, op_id: int, status: Status, output: Any, ret: float | None) -> Operation:
        with self._lock:
            client, kind, key, value, call = self._pending.pop(op_id)
            op = Operation(client, kind, key, value, call, ret, status, output)
            self._done.append(op)
        return op

    def ok(self, op_id: int, output: Any = None) -> Operation:
        return self._finish(op_id, Status.OK, output, self._clock())

    def fail(self, op_id: int) -> Operation:
        return self._finish(op_id, Status.FAIL, None, self._clock())

    def info(self, op_id: int) -> Operation:
        return self._finish(op_id, Status.INFO, None, None)

    def operations(self) -> list[Operation]:
        """Completed operations plus the still pending ones as INFO (a crashed client's)."""
        with self._lock:
            pending = [Operation(c, k, key, v, t, None, Status.INFO) for c, k, key, v, t in self._pending.values()]
            return sorted(self._done + pending, key=lambda o: o.call)


def operations_to_json(ops: Iterable[Operation]) -> str:
    """One JSON document for a history (keys and values must be JSON-representable)."""
    return json.dumps([
        {"client": o.client, "kind": o.kind.value, "key": o.key, "value": o.value, "call": o.call, "ret": o.ret,
         "status": o.status.value, "output": o.output} for o in ops
    ])


def operations_from_json(text: str) -> list[Operation]:
    out = []
    for d in json.loads(text):
        value = tuple(d["value"]) if d["kind"] == Kind.CAS.value else d["value"]
        out.append(Operation(d["client"], Kind(d["kind"]), d["key"], value, d["call"], d["ret"], Status(d["status"]),
                             d["output"]))
    return out
