"""The client reports errors through the ``aeronpy.client`` logger, not print."""

from __future__ import annotations

import logging
from typing import Any, Callable

import pytest

from tests.conftest import wait_for


def test_a_failing_image_handler_is_logged(
    driver: Any, client_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(image: Any) -> None:
        raise RuntimeError("handler broke")

    caplog.set_level(logging.ERROR, logger="aeronpy.client")
    aeron = client_factory()
    sub = aeron.add_subscription("aeron:ipc", 1002, available_image_handler=broken)
    aeron.add_publication("aeron:ipc", 1002)
    wait_for(lambda: sub.image_count == 1, message="image")
    wait_for(lambda: any("handler broke" in r.getMessage() for r in caplog.records), message="log record")
    record = next(r for r in caplog.records if "handler broke" in r.getMessage())
    assert record.name == "aeronpy.client" and record.levelno == logging.ERROR
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError
    assert "handler broke" not in capsys.readouterr().err


def test_an_error_handler_replaces_the_log(
    driver: Any, client_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[BaseException] = []

    def broken(image: Any) -> None:
        raise RuntimeError("handler broke")

    caplog.set_level(logging.ERROR, logger="aeronpy.client")
    aeron = client_factory(error_handler=seen.append)
    sub = aeron.add_subscription("aeron:ipc", 1003, available_image_handler=broken)
    aeron.add_publication("aeron:ipc", 1003)
    wait_for(lambda: seen, message="error handler call")
    assert sub.image_count == 1 and str(seen[0]) == "handler broke"
    assert not [r for r in caplog.records if r.name == "aeronpy.client"]
