"""The bundled counter extension, reporting its state to ``<cluster dir>/extension-state`` (a
line ``count total digest`` rewritten when it changes) so multi-process tests can compare
members (``-D aeron.cluster.consensus.module.extension=tests.cluster.extension_test_extension:ReportingCounterExtension``)."""

from __future__ import annotations

import os

from aeronpy.cluster.examples.counter_extension import CounterExtension

FILE_NAME = "extension-state"


class ReportingCounterExtension(CounterExtension):
    def __init__(self) -> None:
        super().__init__()
        self._reported: tuple[int, int, bytes] | None = None

    def slow_tick_work(self, now_ns: int) -> int:
        state = (self.count, self.total, self.digest)
        if state == self._reported or self.control is None:
            return 0
        path = os.path.join(self.control.context.cluster_dir, FILE_NAME)
        with open(path + ".tmp", "w") as f:
            f.write(f"{self.count} {self.total} {self.digest.hex()}\n")
        os.replace(path + ".tmp", path)
        self._reported = state
        return 1


def read_state(cluster_dir: str) -> tuple[int, int, str] | None:
    """``(count, total, digest hex)`` a member last reported, or None."""
    try:
        with open(os.path.join(cluster_dir, FILE_NAME)) as f:
            count, total, digest = f.read().split()
    except (OSError, ValueError):
        return None
    return int(count), int(total), digest
