"""Fixtures of the concurrent tests: ``impl``, each atomic buffer implementation in turn."""

from __future__ import annotations

from typing import Any

import pytest

from tests.concurrent.buffer_impls import IMPLS


@pytest.fixture(params=IMPLS)
def impl(request: pytest.FixtureRequest) -> Any:
    return request.param
