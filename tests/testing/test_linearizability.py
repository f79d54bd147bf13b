"""The linearizability checker: known good and bad histories (stale read, lost write, CAS
races, unknown outcomes), per-key partitioning, the search budget, the recorder, and histories
made from sequential executions (always linearizable) and then corrupted (never)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.testing.linearizability import (
    History,
    Kind,
    Operation,
    Status,
    Verdict,
    check,
    check_key,
    operations_from_json,
    operations_to_json,
    step,
)

K = "k"


def w(c: int, v: object, call: float, ret: float | None, status: Status = Status.OK, key: object = K) -> Operation:
    return Operation(c, Kind.WRITE, key, v, call, ret, status)


def r(c: int, out: object, call: float, ret: float | None, status: Status = Status.OK, key: object = K) -> Operation:
    return Operation(c, Kind.READ, key, None, call, ret, status, out)


def cas(c: int, exp: object, new: object, ok: bool | None, call: float, ret: float | None,
        status: Status = Status.OK, key: object = K) -> Operation:
    return Operation(c, Kind.CAS, key, (exp, new), call, ret, status, ok)


def verdict(*ops: Operation) -> Verdict:
    return check(ops).verdict


def test_model_steps() -> None:
    assert step(None, r(0, None, 0, 1)) == [None]
    assert step(1, r(0, None, 0, 1)) == []
    assert step(1, w(0, 2, 0, 1)) == [2]
    assert step(1, cas(0, 1, 3, True, 0, 1)) == [3]
    assert step(2, cas(0, 1, 3, True, 0, 1)) == []
    assert step(2, cas(0, 1, 3, False, 0, 1)) == [2]
    assert step(1, cas(0, 1, 3, False, 0, 1)) == []
    assert step(1, w(0, 2, 0, None, Status.INFO)) == [2, 1]
    assert step(1, cas(0, 1, 3, None, 0, None, Status.INFO)) == [3, 1]


def test_sequential_and_concurrent_reads() -> None:
    assert verdict(w(0, 1, 0, 10), r(1, 1, 20, 30)) == Verdict.OK
    # a read concurrent with a write may see the old or the new value
    assert verdict(w(0, 1, 0, 10), w(0, 2, 20, 40), r(1, 1, 25, 35)) == Verdict.OK
    assert verdict(w(0, 1, 0, 10), w(0, 2, 20, 40), r(1, 2, 25, 35)) == Verdict.OK
    # two concurrent reads may not disagree in an order the write allows... unless both orders fit
    assert verdict(w(0, 1, 0, 100), r(1, 1, 10, 20), r(2, None, 30, 40)) == Verdict.ILLEGAL
    assert verdict(w(0, 1, 0, 100), r(1, None, 10, 20), r(2, 1, 30, 40)) == Verdict.OK


def test_stale_read_is_not_linearizable() -> None:
    """Write 1, write 2 (both acknowledged), then a read that starts after them returns 1."""
    result = check([w(0, 1, 0, 10), w(1, 2, 20, 30), r(2, 1, 40, 50)])
    assert result.verdict == Verdict.ILLEGAL
    text = result.explain()
    assert "not linearizable" in text and "read('k') => 1" in text


def test_lost_write_is_not_linearizable() -> None:
    """An acknowledged write that a later read does not see (the value before it)."""
    assert verdict(w(0, 7, 0, 10), r(1, None, 20, 30)) == Verdict.ILLEGAL
    assert verdict(w(0, 1, 0, 10), w(0, 2, 20, 30), r(1, 1, 40, 50), r(1, 2, 60, 70)) == Verdict.ILLEGAL


def test_cas_races() -> None:
    # two clients CAS 0->1 concurrently: only one may succeed
    base = [w(0, 0, 0, 1)]
    assert verdict(*base, cas(1, 0, 1, True, 10, 20), cas(2, 0, 1, False, 10, 20)) == Verdict.OK
    assert verdict(*base, cas(1, 0, 1, True, 10, 20), cas(2, 0, 1, True, 10, 20)) == Verdict.ILLEGAL
    # a CAS that failed although the value it expected was there all along
    assert verdict(*base, cas(1, 0, 5, False, 10, 20)) == Verdict.ILLEGAL
    # a CAS whose effect a later read contradicts
    assert verdict(*base, cas(1, 0, 5, True, 10, 20), r(2, 0, 30, 40)) == Verdict.ILLEGAL
    assert verdict(*base, cas(1, 0, 5, True, 10, 20), r(2, 5, 30, 40)) == Verdict.OK


def test_unknown_outcomes_may_or_may_not_take_effect() -> None:
    # a write that timed out may be seen, at any time after its invocation...
    assert verdict(w(0, 1, 0, None, Status.INFO), r(1, 1, 500, 510)) == Verdict.OK
    # ...or never
    assert verdict(w(0, 1, 0, None, Status.INFO), r(1, None, 500, 510)) == Verdict.OK
    # but not before it was invoked
    assert verdict(r(1, 1, 0, 10), w(0, 1, 20, None, Status.INFO)) == Verdict.ILLEGAL
    # and once seen, it does not un-happen
    assert verdict(w(0, 1, 0, None, Status.INFO), r(1, 1, 20, 30), r(1, None, 40, 50)) == Verdict.ILLEGAL
    # an unknown CAS: effect or no effect
    assert verdict(w(0, 0, 0, 1), cas(1, 0, 9, None, 5, None, Status.INFO), r(2, 9, 20, 30)) == Verdict.OK
    assert verdict(w(0, 0, 0, 1), cas(1, 0, 9, None, 5, None, Status.INFO), r(2, 0, 20, 30)) == Verdict.OK
    # failed operations did not happen
    assert verdict(w(0, 5, 0, 10, Status.FAIL), r(1, 5, 20, 30)) == Verdict.ILLEGAL
    res = check([w(0, 5, 0, 10, Status.FAIL), r(1, None, 20, None, Status.INFO)])
    assert res.verdict == Verdict.OK and res.dropped == 2


def test_keys_are_independent() -> None:
    ops = [w(0, 1, 0, 10, key="a"), w(0, 2, 0, 10, key="b"), r(1, 1, 20, 30, key="a"), r(1, 2, 20, 30, key="b")]
    res = check(ops)
    assert res.verdict == Verdict.OK and [k.key for k in res.keys] == ["a", "b"]
    res = check(ops + [r(2, 1, 40, 50, key="b")])
    assert res.verdict == Verdict.ILLEGAL
    assert [(k.key, k.verdict) for k in res.keys] == [("a", Verdict.OK), ("b", Verdict.ILLEGAL)]


def test_budget_exceeded_is_unknown_not_a_guess() -> None:
    # many concurrent writes and reads of values that force a deep search
    ops = [w(i, i, 0, 1000) for i in range(12)] + [r(100 + i, 11 - i, 0, 1000) for i in range(12)]
    ops.append(r(99, -1, 2000, 2001))  # never written: illegal, but only after trying everything
    res = check(ops, max_steps_per_key=200)
    assert res.verdict == Verdict.UNKNOWN
    assert "budget" in res.explain()


def test_operation_returning_before_its_call_is_rejected() -> None:
    with pytest.raises(ValueError, match="returns before it is invoked"):
        check_key([w(0, 1, 10, 5)])


def test_history_recorder_and_json_round_trip() -> None:
    t = [0]

    def clock() -> float:
        t[0] += 1
        return t[0]

    h = History(clock)
    a = h.invoke(0, "write", "x", 1)
    h.ok(a)
    b = h.invoke(1, Kind.CAS, "x", (1, 2))
    c = h.invoke(2, "read", "x")
    h.ok(b, True)
    h.info(c)
    d = h.invoke(3, "write", "x", 3)  # never completes: reported as INFO
    ops = h.operations()
    assert [(o.kind, o.status, o.call, o.ret) for o in ops] == [
        (Kind.WRITE, Status.OK, 1, 2), (Kind.CAS, Status.OK, 3, 5), (Kind.READ, Status.INFO, 4, None),
        (Kind.WRITE, Status.INFO, 6, None)]
    assert d == 3
    again = operations_from_json(operations_to_json(ops))
    assert again == ops
    assert check(again).verdict == Verdict.OK


# -- histories from sequential executions -----------------------------------------------------

_gen_op = st.tuples(st.sampled_from(["read", "write", "cas"]), st.sampled_from(["a", "b", "c"]), st.integers(0, 3),
                    st.integers(0, 3))


def _execute(spec: list[tuple[str, str, int, int]], seed: int, info_rate: float) -> list[Operation]:
    """Run ``spec`` sequentially on a dict, then give each op an interval around its instant."""
    rnd = random.Random(seed)
    state: dict[str, int] = {}
    ops = []
    for i, (kind, key, a, b) in enumerate(spec):
        at = i * 10.0
        call, ret = at - rnd.uniform(0, 35), at + rnd.uniform(0, 35)
        client = rnd.randrange(4)
        if kind == "read":
            op = Operation(client, Kind.READ, key, None, call, ret, Status.OK, state.get(key))
        elif kind == "write":
            state[key] = a
            op = Operation(client, Kind.WRITE, key, a, call, ret)
        else:
            swapped = state.get(key) == a
            if swapped:
                state[key] = b
            op = Operation(client, Kind.CAS, key, (a, b), call, ret, Status.OK, swapped)
        if kind != "read" and rnd.random() < info_rate:
            op = Operation(op.client, op.kind, op.key, op.value, op.call, None, Status.INFO)
        ops.append(op)
    return ops


@settings(max_examples=200, deadline=None)
@given(spec=st.lists(_gen_op, max_size=40), seed=st.integers(0, 10**6), info_rate=st.sampled_from([0.0, 0.2]))
def test_sequential_executions_are_linearizable(spec: list[tuple[str, str, int, int]], seed: int,
                                                info_rate: float) -> None:
    ops = _execute(spec, seed, info_rate)
    res = check(ops)
    assert res.verdict == Verdict.OK, res.explain()


@settings(max_examples=200, deadline=None)
@given(spec=st.lists(_gen_op, min_size=1, max_size=40), seed=st.integers(0, 10**6), pick=st.integers(0, 10**6))
def test_a_read_of_a_value_never_written_is_caught(spec: list[tuple[str, str, int, int]], seed: int,
                                                  pick: int) -> None:
    ops = _execute(spec, seed, 0.0)
    reads = [i for i, o in enumerate(ops) if o.kind == Kind.READ]
    if not reads:
        ops.append(Operation(9, Kind.READ, "a", None, 10_000.0, 10_001.0, Status.OK, 99))
    else:
        i = reads[pick % len(reads)]
        o = ops[i]
        ops[i] = Operation(o.client, o.kind, o.key, o.value, o.call, o.ret, Status.OK, 99)
    assert check(ops).verdict == Verdict.ILLEGAL
