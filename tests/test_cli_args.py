"""Every bad ``aeronpy`` argument gets a clear message and a non-zero exit, never a traceback or
a hang; and the driver options --low-latency, --loss and --properties URL."""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Iterator

import pytest

from aeronpy.cli import main

CLI = [sys.executable, "-m", "aeronpy"]


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as ex:
        code = ex.code if isinstance(ex.code, int) else (1 if ex.code else 0)
        if isinstance(ex.code, str):
            print(ex.code, file=sys.stderr)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["pub", "--size", "7"], "--size: 7 is out of range [8, 16777216]"),
        (["pub", "--size", "16777217"], "--size: 16777217 is out of range"),
        (["pub", "--size", "big"], "--size: 'big' is not an integer"),
        (["sub", "--size", "4"], "--size: 4 is out of range"),
        (["pub", "--stream", "2147483648"], "--stream: 2147483648 is out of range [-2147483648, 2147483647]"),
        (["sub", "--stream", "-2147483649"], "--stream: -2147483649 is out of range"),
        (["sub", "--stream", "x"], "--stream: 'x' is not an integer"),
        (["pub", "--count", "-1"], "--count: -1 is out of range"),
        (["sub", "--count", "-5"], "--count: -5 is out of range"),
        (["sub", "--timeout", "nan"], "--timeout: 'nan': must be a finite number of seconds > 0"),
        (["pub", "--timeout", "inf"], "--timeout: 'inf': must be a finite number"),
        (["sub", "--timeout", "-1"], "--timeout: '-1': must be a finite number"),
        (["sub", "--timeout", "0"], "--timeout: '0': must be a finite number"),
        (["pub", "--linger", "nan"], "--linger: 'nan'"),
        (["pub", "--channel", ""], "--channel: must not be empty"),
        (["sub", "--dir", " "], "--dir: must not be empty"),
        (["driver", "-D", "aeron.mtu.length="], "empty value for aeron.mtu.length"),
        (["driver", "-D", "=1408"], "empty property name"),
        (["driver", "-D", "aeron.mtu.length"], "-D expects key=value"),
        (["driver", "--loss", "1.5"], "--loss: '1.5': must be a probability in [0, 1]"),
        (["driver", "--loss", "nan"], "--loss: 'nan'"),
        (["driver", "--loss-seed", "-1"], "--loss-seed: -1 is out of range"),
        (["driver", "--loss", "0.1", "--loss-types", "data,bogus"], "unknown frame type 'bogus'"),
        (["driver", "--loss-types", "sm"], "--loss-seed and --loss-types need --loss RATE"),
        (["driver", "-D", "aeron.mtu.length=12"], "aeron.mtu.length=12"),
        (["driver", "-D", "aeronpy.dir.mode=999"], "aeronpy.dir.mode=999"),
        (["driver", "--properties", "/no/such/file.properties"], "cannot read"),
        (["driver", "--properties", "http://"], "no host"),
    ],
)
def test_bad_arguments_give_a_clear_message(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    if argv[0] == "driver":
        argv = argv + ["--dir", str(tmp_path / "never")]
    code, err = run_main(argv, capsys)
    assert code != 0
    assert expected in err, err
    assert "Traceback" not in err
    assert not os.path.exists(tmp_path / "never")  # nothing started


def test_bad_argument_from_the_shell_has_no_traceback() -> None:
    result = subprocess.run(CLI + ["sub", "--timeout", "nan"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--timeout" in result.stderr and "Traceback" not in result.stderr


def test_pub_size_above_the_publications_max_message_length(
    driver_factory: Any, aeron_dir: str, capsys: pytest.CaptureFixture[str]
) -> None:
    driver_factory(ipc_term_buffer_length=64 * 1024)  # max message length 8 KiB
    code, err = run_main(["pub", "--dir", aeron_dir, "--size", "9000", "--timeout", "5"], capsys)
    assert code == 2
    assert "--size 9000 exceeds the publication's max message length 8192" in err


def test_api_errors_reach_the_cli_as_messages(
    driver_factory: Any, aeron_dir: str, capsys: pytest.CaptureFixture[str]
) -> None:
    driver_factory()
    code, err = run_main(["sub", "--dir", aeron_dir, "--channel", "aeron:ipc?alias=" + "x" * 5000], capsys)
    assert code == 1 and "channel: length 5016 bytes exceeds the max of 4095" in err


def test_sub_timeout_counts_from_the_last_message(
    driver_factory: Any, aeron_dir: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from aeronpy.client.aeron import Aeron
    from aeronpy.client.context import Context
    from aeronpy.samples import PayloadFactory

    driver_factory()
    stop = threading.Event()

    def publish_slowly() -> None:  # 8 messages 0.3 s apart: 2.4 s in all, more than --timeout
        factory = PayloadFactory(16)
        with Aeron.connect(Context.from_properties(env={}, aeron_dir=aeron_dir)) as aeron:
            publication = aeron.add_publication("aeron:ipc", 77)
            seq = 0
            while seq < 8 and not stop.is_set():
                if publication.offer(factory.make(seq)) > 0:
                    seq += 1
                    stop.wait(0.3)
                else:
                    stop.wait(0.001)

    publisher = threading.Thread(target=publish_slowly)
    publisher.start()
    try:
        code, err = run_main(
            ["sub", "--dir", aeron_dir, "--stream", "77", "--count", "8", "--timeout", "1.5"], capsys
        )
    finally:
        stop.set()
        publisher.join(30)
    assert code == 0, err


def _spawn(aeron_dir: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        CLI + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **(env or {})},
    )


def _readline(proc: subprocess.Popen[str], prefix: str) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith(prefix), (line, proc.poll())
    return line


@pytest.mark.parametrize("tool", ["sub", "pub"])
def test_sub_and_pub_exit_promptly_when_the_driver_is_killed(aeron_dir: str, tool: str) -> None:
    driver = _spawn(aeron_dir, "driver", "--dir", aeron_dir)
    client = None
    try:
        _readline(driver, "aeronpy media driver running")
        # the client notices a dead driver after its driver timeout (here 1.5 s)
        client = _spawn(
            aeron_dir, tool, "--dir", aeron_dir, "--count", "1000000", "--timeout", "300",
            env={"AERON_DRIVER_TIMEOUT": "1500"},
        )
        if tool == "sub":
            _readline(client, "subscribed to")
        else:  # pub waits for a subscriber that never comes: make sure it is in that wait
            deadline = time.monotonic() + 30
            while not any(name.endswith(".logbuffer") for name in os.listdir(os.path.join(aeron_dir, "publications"))):
                assert time.monotonic() < deadline and client.poll() is None
                time.sleep(0.01)
        driver.send_signal(signal.SIGKILL)
        driver.communicate(timeout=30)
        started = time.monotonic()
        _, err = client.communicate(timeout=60)
        assert time.monotonic() - started < 30  # not the 300 s --timeout
        assert client.returncode == 5, err
        assert "the client was closed" in err and "Traceback" not in err
    finally:
        for proc in (driver, client):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.communicate()


def test_driver_low_latency_prints_the_preset(aeron_dir: str) -> None:
    driver = _spawn(aeron_dir, "driver", "--dir", aeron_dir, "--low-latency")
    try:
        _readline(driver, "aeronpy media driver running")
        line = _readline(driver, "low-latency preset")
        assert "aeron.threading.mode=DEDICATED" in line and "aeron.sender.idle.strategy=noop" in line
    finally:
        driver.send_signal(signal.SIGTERM)  # it busy-spins: stop at once
        driver.communicate(timeout=30)
    assert driver.returncode == 0


def test_driver_loss_options_reach_the_interceptor_settings(aeron_dir: str) -> None:
    driver = _spawn(aeron_dir, "driver", "--dir", aeron_dir, "--loss", "0.2", "--loss-seed", "5",
                    "--loss-types", "data,setup")
    try:
        _readline(driver, "aeronpy media driver running")
        assert "probability 0.2" in _readline(driver, "loss:")
        with open(os.path.join(aeron_dir, "driver-config.properties")) as f:
            config = f.read()
        assert "aeron.udp.channel.incoming.interceptors=loss" in config
        assert "aeron.udp.channel.transport.bindings.loss.args=rate=0.2|seed=5|recv-msg-mask=0x22" in config
    finally:
        driver.send_signal(signal.SIGTERM)
        driver.communicate(timeout=30)


# ---------------------------------------------------------------------------- properties URL


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path == "/driver.properties":
            body = b"aeron.mtu.length=4096\naeron.ipc.term.buffer.length=128k\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404, "no such file")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_base() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_driver_properties_from_an_http_url(aeron_dir: str, http_base: str) -> None:
    driver = _spawn(aeron_dir, "driver", "--dir", aeron_dir, "--properties", f"{http_base}/driver.properties")
    try:
        _readline(driver, "aeronpy media driver running")
        with open(os.path.join(aeron_dir, "driver-config.properties")) as f:
            config = f.read()
        assert "aeron.mtu.length=4k" in config and "aeron.ipc.term.buffer.length=128k" in config
    finally:
        driver.send_signal(signal.SIGTERM)
        driver.communicate(timeout=30)


def test_driver_properties_url_not_found_is_a_clear_error(
    http_base: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_main(
        ["driver", "--dir", str(tmp_path / "d"), "--properties", f"{http_base}/missing.properties"], capsys
    )
    assert code == 1 and "HTTP 404" in err and "Traceback" not in err
