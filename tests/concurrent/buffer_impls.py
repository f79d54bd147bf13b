"""The atomic buffer implementations every concurrent structure is tested on (the C kernel and its
Python twin), and hypothesis phases without the slow 'explain'."""

from __future__ import annotations

import pytest
from hypothesis import Phase

from aeronpy.concurrent.atomic_buffer import HAVE_C_EXTENSION, AtomicBuffer, PyAtomicBuffer

FAST_PHASES = [Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink]

IMPLS = [pytest.param(PyAtomicBuffer, id="py")]
if HAVE_C_EXTENSION:
    IMPLS.insert(0, pytest.param(AtomicBuffer, id="c"))
