"""Generic process helpers for interop tests: media drivers and clients as subprocesses.

Nothing here is specific to the C reference: a driver is any command line that prints a
ready line (default ``READY``) and creates ``cnc.dat`` in its aeron directory; a
subscriber prints ``READY`` once subscribed and exits 0 on success; a publisher exits 0 on
success.  :func:`c_driver_command` / :func:`c_client_command` build the command lines for the
real Aeron C driver and client; aeronpy equivalents can be passed in their place.

Typical use (see conftest.py for the ``procs`` and ``aeron_dir`` fixtures)::

    driver = procs.start_driver(c_driver_command(aeron_dir), aeron_dir)
    result = procs.run_pub_sub(sub_argv, pub_argv)
    result.assert_ok()
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.fakes import free_udp_port  # noqa: F401  (re-exported for the interop tests)

INTEROP_DIR = Path(__file__).resolve().parent
REPO_ROOT = INTEROP_DIR.parents[1]
C_DRIVER_SCRIPT = INTEROP_DIR / "c_driver.py"
C_CLIENT_SCRIPT = INTEROP_DIR / "c_client.py"

DRIVER_READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
KILL_TIMEOUT_S = 5.0
OUTPUT_TAIL_LINES = 40


class ProcessFailure(AssertionError):
    """A managed process misbehaved (exited early, timed out, failed); message has its output."""


def new_aeron_dir(prefix: str = "aeronpy-test-") -> Path:
    """A fresh, not yet existing aeron directory path (under /dev/shm when available)."""
    base = Path("/dev/shm")
    if not (base.is_dir() and os.access(base, os.W_OK)):
        base = Path(tempfile.gettempdir())
    return base / f"{prefix}{uuid.uuid4().hex}"


def remove_aeron_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def python_command(script: Path | str, *args: str) -> list[str]:
    return [sys.executable, str(script), *args]


def c_driver_command(
    aeron_dir: Path | str, props: Mapping[str, str] | None = None, threading_mode: str | None = None
) -> list[str]:
    """Command line running the real Aeron C media driver (tests/interop/c_driver.py)."""
    argv = python_command(C_DRIVER_SCRIPT, "--dir", str(aeron_dir))
    for key, value in (props or {}).items():
        argv += ["-D", f"{key}={value}"]
    if threading_mode is not None:
        argv += ["--threading-mode", threading_mode]
    return argv


def c_client_command(
    mode: str,
    aeron_dir: Path | str,
    channel: str,
    stream: int,
    count: int,
    size: int | None = None,
    *,
    exclusive: bool = False,
    timeout: float = 60.0,
) -> list[str]:
    """Command line for the real Aeron C client: ``mode`` is ``"pub"`` or ``"sub"``."""
    if mode not in ("pub", "sub"):
        raise ValueError(f"mode must be 'pub' or 'sub', got {mode!r}")
    argv = python_command(
        C_CLIENT_SCRIPT, mode, "--dir", str(aeron_dir), "--channel", channel,
        "--stream", str(stream), "--count", str(count), "--timeout", str(timeout),
    )
    if size is not None:
        argv += ["--size", str(size)]
    elif mode == "pub":
        raise ValueError("pub needs a size")
    if exclusive:
        if mode != "pub":
            raise ValueError("--exclusive only applies to pub")
        argv.append("--exclusive")
    return argv


class ManagedProcess:
    """A subprocess whose stdout/stderr lines are collected by background reader threads."""

    def __init__(
        self, argv: Sequence[str], name: str, env: Mapping[str, str] | None = None, cwd: Path | str | None = None
    ) -> None:
        self.argv = list(argv)
        self.name = name
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self._cond = threading.Condition()
        self._eof = {"stdout": False, "stderr": False}
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        full_env.setdefault("PYTHONUNBUFFERED", "1")
        self.popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            env=full_env,
            cwd=str(cwd) if cwd is not None else str(REPO_ROOT),
            start_new_session=True,  # terminal Ctrl-C goes to pytest only; we clean up ourselves
        )
        self._readers = [
            threading.Thread(target=self._read, args=("stdout",), daemon=True, name=f"{name}-stdout"),
            threading.Thread(target=self._read, args=("stderr",), daemon=True, name=f"{name}-stderr"),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, which: str) -> None:
        stream = self.popen.stdout if which == "stdout" else self.popen.stderr
        sink = self.stdout_lines if which == "stdout" else self.stderr_lines
        assert stream is not None
        for line in stream:
            with self._cond:
                sink.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._eof[which] = True
            self._cond.notify_all()

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    @property
    def stdout(self) -> str:
        with self._cond:
            return "\n".join(self.stdout_lines)

    @property
    def stderr(self) -> str:
        with self._cond:
            return "\n".join(self.stderr_lines)

    def describe(self) -> str:
        """Name, command, exit status and output tails, for assertion messages."""
        with self._cond:
            out = self.stdout_lines[-OUTPUT_TAIL_LINES:]
            err = self.stderr_lines[-OUTPUT_TAIL_LINES:]
        return (
            f"--- {self.name} (pid {self.pid}, rc={self.popen.poll()}) ---\n"
            f"cmd: {' '.join(self.argv)}\n"
            f"stdout:\n  " + "\n  ".join(out) + "\n"
            "stderr:\n  " + "\n  ".join(err)
        )

    def wait_for_line(self, text: str, timeout: float, *, exact: bool = True) -> str:
        """Wait until a stdout line equals (``exact``) or contains ``text``; fail if the process exits first."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for line in self.stdout_lines[seen:]:
                    if (line.strip() == text) if exact else (text in line):
                        return line
                seen = len(self.stdout_lines)
                if self._eof["stdout"]:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(min(remaining, 0.5))
        self.popen.poll()
        what = "exited" if self.popen.returncode is not None else f"timed out after {timeout}s"
        raise ProcessFailure(f"{self.name} {what} before printing {text!r}\n{self.describe()}")

    def wait(self, timeout: float) -> int:
        """Wait for exit (and the end of its output); kill and fail on timeout."""
        try:
            rc = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise ProcessFailure(f"{self.name} did not exit within {timeout}s (killed)\n{self.describe()}") from None
        self._join_readers(5.0)
        return rc

    def _join_readers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for reader in self._readers:
            reader.join(max(0.0, deadline - time.monotonic()))

    def signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            try:
                self.popen.send_signal(sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM, wait up to ``timeout``, then SIGKILL. Returns the exit code."""
        if self.popen.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._join_readers(5.0)
        rc = self.popen.returncode
        assert rc is not None
        return rc

    def kill(self) -> None:
        if self.popen.poll() is None:
            try:
                self.popen.kill()
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=KILL_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass

    def assert_exit_ok(self, timeout: float) -> None:
        rc = self.wait(timeout)
        if rc != 0:
            raise ProcessFailure(f"{self.name} exited with {rc}\n{self.describe()}")


def wait_for_cnc(aeron_dir: Path | str, timeout: float = DRIVER_READY_TIMEOUT_S,
                 process: ManagedProcess | None = None) -> Path:
    """Wait (bounded) until ``<aeron_dir>/cnc.dat`` exists and is non-empty."""
    cnc = Path(aeron_dir) / "cnc.dat"
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        try:
            if cnc.stat().st_size > 0:
                return cnc
        except FileNotFoundError:
            pass
        if process is not None and process.returncode is not None:
            raise ProcessFailure(f"{process.name} exited before creating {cnc}\n{process.describe()}")
        if time.monotonic() > deadline:
            detail = f"\n{process.describe()}" if process is not None else ""
            raise ProcessFailure(f"{cnc} not created within {timeout}s{detail}")
        time.sleep(delay)  # polling back-off, bounded by the deadline
        delay = min(delay * 2, 0.05)


@dataclass
class PubSubResult:
    sub: ManagedProcess
    pub: ManagedProcess
    sub_rc: int
    pub_rc: int

    def assert_ok(self, count: int | None = None) -> None:
        if self.sub_rc != 0 or self.pub_rc != 0:
            raise ProcessFailure(
                f"pub rc={self.pub_rc}, sub rc={self.sub_rc}\n{self.pub.describe()}\n{self.sub.describe()}"
            )
        if count is not None:
            if not has_report(self.sub, f"received {count}"):
                raise ProcessFailure(f"subscriber did not report 'received {count}'\n{self.sub.describe()}")
            if not has_report(self.pub, f"sent {count}"):
                raise ProcessFailure(f"publisher did not report 'sent {count}'\n{self.pub.describe()}")


def has_report(proc: ManagedProcess, report: str) -> bool:
    """True when a stdout line is ``report`` or starts with ``report`` followed by a space.

    The C clients print e.g. ``received 10``; aeronpy prints ``received 10 messages in order, ...``.
    """
    return any(line == report or line.startswith(report + " ") for line in proc.stdout.splitlines())


class ProcessGroup:
    """Tracks started processes and aeron dirs; :meth:`close` kills/removes everything."""

    def __init__(self) -> None:
        self.processes: list[ManagedProcess] = []
        self.aeron_dirs: list[Path] = []

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def new_aeron_dir(self) -> Path:
        path = new_aeron_dir()
        self.aeron_dirs.append(path)
        return path

    def start(
        self, argv: Sequence[str], name: str | None = None, env: Mapping[str, str] | None = None,
        cwd: Path | str | None = None,
    ) -> ManagedProcess:
        proc = ManagedProcess(argv, name or Path(argv[1] if len(argv) > 1 else argv[0]).name, env=env, cwd=cwd)
        self.processes.append(proc)
        return proc

    def start_driver(
        self, argv: Sequence[str], aeron_dir: Path | str, *, ready_line: str | None = "READY",
        ready_exact: bool = True, timeout: float = DRIVER_READY_TIMEOUT_S, name: str = "driver",
        env: Mapping[str, str] | None = None,
    ) -> ManagedProcess:
        """Start a media driver and wait (bounded) for its ready line and cnc.dat.

        ``ready_line=None`` waits for cnc.dat only; ``ready_exact=False`` matches a substring.
        """
        if Path(aeron_dir) not in self.aeron_dirs:
            self.aeron_dirs.append(Path(aeron_dir))
        proc = self.start(argv, name=name, env=env)
        deadline = time.monotonic() + timeout
        if ready_line is not None:
            proc.wait_for_line(ready_line, timeout, exact=ready_exact)
        wait_for_cnc(aeron_dir, max(0.1, deadline - time.monotonic()), process=proc)
        return proc

    def start_subscriber(
        self, argv: Sequence[str], *, ready_line: str = "READY", ready_exact: bool = True, timeout: float = 30.0,
        name: str = "sub", env: Mapping[str, str] | None = None,
    ) -> ManagedProcess:
        """Start a subscriber client and wait (bounded) until it prints its ready line."""
        proc = self.start(argv, name=name, env=env)
        proc.wait_for_line(ready_line, timeout, exact=ready_exact)
        return proc

    def run_pub_sub(
        self, sub_argv: Sequence[str], pub_argv: Sequence[str], *, timeout: float = 120.0,
        sub_ready_timeout: float = 30.0, sub_ready_line: str = "READY", sub_ready_exact: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> PubSubResult:
        """Start the subscriber, wait for its ready line, start the publisher, wait for both to exit.

        ``sub_ready_exact=False`` accepts any stdout line containing ``sub_ready_line``.
        """
        deadline = time.monotonic() + timeout
        sub = self.start_subscriber(
            sub_argv, ready_line=sub_ready_line, ready_exact=sub_ready_exact, timeout=sub_ready_timeout, env=env
        )
        pub = self.start(pub_argv, name="pub", env=env)
        pub_rc = pub.wait(max(0.1, deadline - time.monotonic()))
        if pub_rc != 0:
            sub.stop()  # no point waiting for messages that will not come
        sub_rc = sub.wait(max(0.1, deadline - time.monotonic()))
        return PubSubResult(sub=sub, pub=pub, sub_rc=sub_rc, pub_rc=pub_rc)

    def stop_driver(self, driver: ManagedProcess, timeout: float = STOP_TIMEOUT_S) -> int:
        """Graceful SIGTERM shutdown; raises if it had to be killed or exited non-zero."""
        rc = driver.stop(timeout)
        if rc != 0:
            raise ProcessFailure(f"{driver.name} shutdown rc={rc}\n{driver.describe()}")
        return rc

    def close(self) -> None:
        """Terminate every process still running (SIGTERM, then SIGKILL) and remove aeron dirs."""
        for proc in reversed(self.processes):  # clients before the driver
            if proc.returncode is None:
                proc.stop(timeout=STOP_TIMEOUT_S / 2)
        for path in self.aeron_dirs:
            remove_aeron_dir(path)
