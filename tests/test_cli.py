"""The aeronpy command line as a user runs it: driver, pub, sub, stat, errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = [sys.executable, "-m", "aeronpy"]


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=timeout)


def test_driver_pub_sub_stat_errors(aeron_dir: str) -> None:
    driver = subprocess.Popen(
        CLI + ["driver", "--dir", aeron_dir, "-D", "aeron.ipc.term.buffer.length=1m"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert driver.stdout is not None
        banner = driver.stdout.readline()
        assert banner.startswith("aeronpy media driver running: dir=" + aeron_dir), banner
        sub = subprocess.Popen(
            CLI + ["sub", "--dir", aeron_dir, "--stream", "9", "--count", "5000", "--timeout", "60"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        assert sub.stdout is not None
        assert sub.stdout.readline().startswith("subscribed to aeron:ipc stream 9")
        pub = run("pub", "--dir", aeron_dir, "--stream", "9", "--count", "5000", "--size", "200")
        assert pub.returncode == 0, pub.stderr
        assert pub.stdout.startswith("sent 5000 messages of 200 bytes")
        out, _ = sub.communicate(timeout=60)
        assert sub.returncode == 0, out
        assert "received 5000 messages in order, payloads intact" in out

        stat = run("stat", "--dir", aeron_dir)
        assert stat.returncode == 0 and "Bytes currently mapped" in stat.stdout
        errors = run("errors", "--dir", aeron_dir)
        assert errors.returncode == 0 and "distinct errors observed" in errors.stdout

        short = run("sub", "--dir", aeron_dir, "--stream", "10", "--count", "1", "--timeout", "0.5")
        assert short.returncode != 0 and "timed out" in short.stderr
    finally:
        driver.send_signal(signal.SIGTERM)
        out, _ = driver.communicate(timeout=30)
    assert driver.returncode == 0, out
    assert "shut down" in out


def test_driver_rejects_bad_property(aeron_dir: str) -> None:
    result = run("driver", "--dir", aeron_dir, "-D", "aeron.term.buffer.length=12345")
    assert result.returncode == 1
    assert "aeron.term.buffer.length" in result.stderr


def test_client_without_driver_says_so(aeron_dir: str) -> None:
    env = dict(os.environ, AERON_DRIVER_TIMEOUT="300")
    result = subprocess.run(CLI + ["pub", "--dir", aeron_dir, "--count", "1"], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 1
    assert "could not connect to a media driver" in result.stderr


def _driver_banner(aeron_dir: str, extra: list[str], env: dict[str, str] | None = None) -> str:
    driver = subprocess.Popen(
        CLI + ["driver", "--dir", aeron_dir, *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, env=env,
    )
    try:
        assert driver.stdout is not None
        return driver.stdout.readline()
    finally:
        driver.send_signal(signal.SIGTERM)
        driver.communicate(timeout=30)


def test_driver_reads_properties_file_and_env(aeron_dir: str, tmp_path: object) -> None:
    props = os.path.join(str(tmp_path), "driver.properties")
    with open(props, "w") as f:
        f.write("# aeronpy driver settings\naeron.threading.mode=DEDICATED\naeron.mtu.length: 4096\n")
    assert "threading=DEDICATED" in _driver_banner(aeron_dir, ["--properties", props])
    env = dict(os.environ, AERON_THREADING_MODE="SHARED_NETWORK")
    assert "threading=SHARED_NETWORK" in _driver_banner(aeron_dir, [], env)
    # -D beats the environment, which beats the file
    banner = _driver_banner(aeron_dir, ["--properties", props, "-D", "aeron.threading.mode=INVOKER"], env)
    assert "threading=INVOKER" in banner
    assert "threading=SHARED_NETWORK" in _driver_banner(aeron_dir, ["--properties", props], env)


def test_terminate_obeys_the_validator(aeron_dir: str) -> None:
    for validator, expect_exit in (("deny", False), ("allow", True)):
        driver = subprocess.Popen(
            CLI + ["driver", "--dir", aeron_dir, "-D", f"aeron.driver.termination.validator={validator}",
                   "-D", "aeron.dir.delete.on.start=true"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        try:
            assert driver.stdout is not None
            assert driver.stdout.readline().startswith("aeronpy media driver running")
            result = run("terminate", "--dir", aeron_dir)
            assert result.returncode == 0, result.stderr
            try:
                driver.wait(timeout=5 if expect_exit else 2)
                exited = True
            except subprocess.TimeoutExpired:
                exited = False
            assert exited is expect_exit, validator
        finally:
            if driver.poll() is None:
                driver.send_signal(signal.SIGTERM)
            driver.communicate(timeout=30)
    assert run("terminate", "--dir", aeron_dir + "-missing").returncode == 1
