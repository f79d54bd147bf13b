"""aeronpy.aio.launch_driver: an embedded driver, on its own threads or as an INVOKER task."""

from __future__ import annotations

import threading
from typing import Any, Callable

import pytest

from aeronpy import aio
from aeronpy.driver.context import ThreadingMode


@pytest.mark.parametrize("mode", ["SHARED", "INVOKER"])
def test_round_trip_through_an_embedded_driver(mode: str, aeron_dir: str, run: Callable[..., Any]) -> None:
    async def main() -> None:
        async with aio.launch_driver(
            aeron_dir=aeron_dir, threading_mode=mode, ipc_term_buffer_length=64 * 1024, term_buffer_sparse_file=True,
            env={},
        ) as driver:
            assert ThreadingMode(driver.driver.ctx.threading_mode).value == mode
            driver_threads = [t.name for t in threading.enumerate() if t.name.startswith("aeronpy-shared")]
            assert bool(driver_threads) == (mode == "SHARED")
            async with aio.connect(aeron_dir=aeron_dir, env={}) as aeron:
                sub = await aeron.add_subscription("aeron:ipc", 41)
                pub = await aeron.add_publication("aeron:ipc", 41)
                for i in range(50):
                    await pub.offer(b"%d" % i, timeout=10)
                got = []
                async for message in sub.messages():
                    got.append(message.data)
                    if len(got) == 50:
                        break
                assert got == [b"%d" % i for i in range(50)]
            assert driver.is_running
        if mode == "INVOKER":
            assert not driver.is_running

    run(main())


def test_awaitable_form_and_settings_or_ctx(aeron_dir: str, run: Callable[..., Any]) -> None:
    async def main() -> None:
        driver = await aio.launch_driver(aeron_dir=aeron_dir, threading_mode="INVOKER", env={})
        try:
            aeron = await aio.connect(aeron_dir=aeron_dir, env={})
            assert not aeron.is_closed
            await aeron.close()
            assert aeron.is_closed
        finally:
            await driver.close()
        assert not driver.is_running

    run(main())
    with pytest.raises(TypeError):
        aio.launch_driver(object(), aeron_dir=aeron_dir)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        aio.connect(aeron_dir=aeron_dir, max_idle_sleep=0, env={})
