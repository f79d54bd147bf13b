"""The dashboard end to end in headless Chromium: the page loads, shows a stream a test
publishes, the calculator answers, "driver not running" and recovery; saves a screenshot."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from typing import Any, Callable, Iterator

import pytest

from aeronpy.tools.dashboard.server import Dashboard
from tests.conftest import wait_for
from tests.tools.browser import Browser, find_chromium
from tests.tools.helpers import free_udp_port

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (.ci/run installs Debian's chromium)")

SCREENSHOT = os.path.join(os.environ.get("AERONPY_ARTIFACTS", tempfile.gettempdir()), "aeronpy-dashboard.png")


@pytest.fixture
def browser() -> Iterator[Browser]:
    assert CHROMIUM is not None
    b = Browser(CHROMIUM)
    yield b
    b.close()


def _text(selector: str) -> str:
    return f"(document.querySelector({selector!r}) || {{}}).textContent || ''"


def test_dashboard_in_chromium(
    driver_factory: Callable[..., Any], client_factory: Callable[..., Any], aeron_dir: str,
    browser: Browser, capsys: pytest.CaptureFixture[str],
) -> None:
    # 5% of DATA frames dropped on receipt, so the UDP stream shows NAKs and retransmits
    driver = driver_factory(udp_channel_incoming_interceptors="loss",
                            udp_channel_transport_bindings_loss_args="rate=0.05|seed=3|recv-msg-mask=0x2")
    aeron = client_factory()
    sub = aeron.add_subscription("aeron:ipc", 4242)
    pub = aeron.add_publication("aeron:ipc", 4242)
    udp = f"aeron:udp?endpoint=127.0.0.1:{free_udp_port()}"
    udp_sub = aeron.add_subscription(udp, 4343)
    udp_pub = aeron.add_publication(udp, 4343)
    wait_for(lambda: pub.is_connected and udp_pub.is_connected, 20, "connected")
    stop = threading.Event()

    def flow() -> None:
        while not stop.is_set():
            pub.offer(b"d" * 200)
            udp_pub.offer(b"u" * 100)
            sub.poll(lambda *a: None, 10)
            udp_sub.poll(lambda *a: None, 10)
            time.sleep(0.002)

    t = threading.Thread(target=flow)
    t.start()
    dash = Dashboard(aeron_dir, port=0, interval=0.5)
    dash.start()
    try:
        browser.navigate(dash.url)
        browser.wait_for(f"{_text('#driver-status')}.startsWith('driver running')", 30, "driver running")
        # the stream the test publishes, with a live message rate
        browser.wait_for("[...document.querySelectorAll('.stream h3')].some(h => h.textContent.includes("
                         f"'stream 4242 · session {pub.session_id}'))", 30, "stream 4242 card")
        browser.wait_for("(() => { const rows = [...document.querySelectorAll('.stream table.numbers tr')];"
                         " const r = rows.find(r => r.cells[0].textContent === 'messages/s');"
                         " return r && r.cells[1].textContent !== '–' && r.cells[1].textContent !== '0'; })()",
                         30, "a message rate")
        # the lossy UDP stream: NAKs counted on both sides
        browser.wait_for("[...document.querySelectorAll('.stream h3')].some(h => h.textContent.includes("
                         "'stream 4343'))", 30, "stream 4343 card")
        browser.wait_for("(() => { const card = [...document.querySelectorAll('.stream')].find("
                         "c => c.querySelector('h3').textContent.includes('stream 4343'));"
                         " const r = [...card.querySelectorAll('tr')].find(r => r.cells[0].textContent === "
                         "'NAKs sent (receiver)'); return r && r.cells[1].textContent !== '0'; })()",
                         30, "NAKs on the UDP stream")
        # a few polls so the plots have a history
        browser.wait_for("Number(document.body.dataset.polls || 0) >= 6", 30, "6 polls")
        # the calculator: the seed's worked example (10 Gbit/s, 100 us RTT) -> 256 KiB window
        browser.wait_for("Number(document.body.dataset.sizing || 0) >= 1", 30, "initial calculation")
        browser.evaluate(
            "(() => { const f = document.getElementById('sizing-form');"
            " f.message_size.value = '992'; f.rate.value = '1220703.125'; f.rtt.value = '100us';"
            " f.stall.value = '100us'; f.instance_family.value = 'c6in';"
            " document.getElementById('sizing-submit').click(); return true; })()")
        window = browser.wait_for(
            "(() => { const r = document.querySelector('#sizing-result tr[data-key=initial_window]');"
            " return r && r.cells[1].textContent === '262,144 B (256k)' ? r.cells[2].textContent : ''; })()",
            30, "the calculator's answer")
        assert window == "524,288 B (512k)"
        term = browser.evaluate("document.querySelector('#sizing-result tr[data-key=term_buffer]').cells[1].textContent")
        assert term == "524,288 B (512k)"
        assert "Constraint C (min): ok" in browser.evaluate(_text("#sizing-constraints"))
        browser.screenshot(SCREENSHOT)
        with capsys.disabled():
            print(f"\ndashboard screenshot: {SCREENSHOT}")
        # bad calculator input: a clear message, no table
        browser.evaluate("(() => { const f = document.getElementById('sizing-form'); f.rate.value = 'fast';"
                         " document.getElementById('sizing-submit').click(); return true; })()")
        assert "rate" in browser.wait_for(_text("#sizing-error"), 30, "calculator error")

        stop.set()
        t.join()
        driver.close()
        browser.wait_for(f"{_text('#driver-status')}.startsWith('driver not running')", 30, "driver not running")
        driver_factory()
        browser.wait_for(f"{_text('#driver-status')}.startsWith('driver running')", 30, "driver back")
    finally:
        stop.set()
        t.join()
        dash.close()
