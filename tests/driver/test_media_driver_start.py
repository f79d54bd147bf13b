"""MediaDriver start-up: racing drivers, uninitialised and recently active cnc.dat files,
dir.delete.on.start, the dir watch, the error handler, file modes and presets."""

from __future__ import annotations

import multiprocessing
import os
import signal
import stat
import subprocess
import sys
import threading
import time
import warnings
from typing import Any

import pytest

from aeronpy.cnc import CncFile, driver_activity
from aeronpy.driver.context import DriverContext, ThreadingMode
from aeronpy.driver.media_driver import AeronDirExposureWarning, CncWatch, MediaDriver
from aeronpy.driver.presets import (
    LOW_LATENCY_SETTINGS,
    LossyMediaDriver,
    describe_low_latency,
    loss_properties,
    lossy_context,
    low_latency_context,
    parse_loss_types,
)
from aeronpy.errors import ActiveDriverError, ConfigurationError, DriverError
from tests.conftest import wait_for

CLI = [sys.executable, "-m", "aeronpy"]
SMALL = dict(
    threading_mode="SHARED",
    ipc_term_buffer_length=64 * 1024,
    counters_buffer_length=1024 * 1024,
    error_buffer_length=4 * 1024 * 1024,
)


def context(aeron_dir: str, **overrides: Any) -> DriverContext:
    settings: dict[str, Any] = dict(SMALL, aeron_dir=aeron_dir)
    settings.update(overrides)
    return DriverContext.from_properties(env={}, **settings)


# ---------------------------------------------------------------------------- racing drivers


def _race_child(aeron_dir: str, barrier: Any, results: Any, stop: Any) -> None:
    barrier.wait()
    try:
        driver = MediaDriver.launch(context(aeron_dir, driver_timeout_ms=5000))
    except ActiveDriverError as ex:
        results.put(("lost", str(ex)))
        return
    except BaseException as ex:  # anything else is a failure of the test
        results.put(("error", f"{type(ex).__name__}: {ex}"))
        return
    results.put(("won", os.getpid()))
    stop.wait(30)
    driver.close()


def test_two_drivers_racing_on_one_dir_exactly_one_wins(aeron_dir: str) -> None:
    mp = multiprocessing.get_context("fork")
    for round_number in range(12):
        barrier, results, stop = mp.Barrier(2), mp.Queue(), mp.Event()
        children = [mp.Process(target=_race_child, args=(aeron_dir, barrier, results, stop)) for _ in range(2)]
        for child in children:
            child.start()
        try:
            outcomes = sorted([results.get(timeout=30), results.get(timeout=30)], key=lambda o: o[0])
            assert [o[0] for o in outcomes] == ["lost", "won"], (round_number, outcomes)
            assert "media driver" in outcomes[0][1], outcomes[0][1]
            with CncFile.map(os.path.join(aeron_dir, "cnc.dat")) as cnc:  # the winner's, intact
                assert cnc.pid == outcomes[1][1]
            assert os.path.exists(os.path.join(aeron_dir, "loss-report.dat"))
        finally:
            stop.set()
            for child in children:
                child.join(30)
        assert all(child.exitcode == 0 for child in children)


# ---------------------------------------------------------------------------- uninitialised cnc.dat


def test_driver_activity_waits_for_an_uninitialised_cnc(tmp_path: Any) -> None:
    cnc = CncFile.create(str(tmp_path / "cnc.dat"), counters_values_buffer_length=1024 * 1024)
    now = [1_000_000]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += 5
        if len(sleeps) == 20:  # the other driver finishes its start 100 ms later
            cnc.to_driver_buffer.put_int64_ordered(cnc.to_driver_buffer_length - 768 + 640, now[0])
            cnc.signal_ready()

    try:
        found = driver_activity(str(tmp_path), 10_000, wait_ms=10_000, clock=lambda: now[0], sleep=sleep)
        assert found.is_active and found.pid == os.getpid() and len(sleeps) == 20
    finally:
        cnc.close()


def test_driver_activity_gives_up_after_the_wait(tmp_path: Any) -> None:
    (tmp_path / "cnc.dat").write_bytes(b"")  # created, not yet extended
    now = [0]

    def sleep(seconds: float) -> None:
        now[0] += 5

    found = driver_activity(str(tmp_path), 10_000, wait_ms=200, clock=lambda: now[0], sleep=sleep)
    assert found.state == "uninitialised" and now[0] >= 200


def test_start_waits_for_a_driver_still_initialising_and_never_deletes_its_cnc(aeron_dir: str) -> None:
    os.makedirs(aeron_dir)
    path = os.path.join(aeron_dir, "cnc.dat")
    cnc = CncFile.create(path, counters_values_buffer_length=1024 * 1024)
    inode = os.stat(path).st_ino

    def finish_start() -> None:
        time.sleep(0.3)  # the "other driver" is slow to initialise
        cnc.to_driver_buffer.put_int64_ordered(
            cnc.to_driver_buffer_length - 768 + 640, int(time.time() * 1000)
        )
        cnc.signal_ready()

    finisher = threading.Thread(target=finish_start)
    finisher.start()
    try:
        with pytest.raises(ActiveDriverError, match="active media driver detected"):
            MediaDriver.launch(context(aeron_dir, driver_timeout_ms=5000))
        assert os.stat(path).st_ino == inode
    finally:
        finisher.join()
        cnc.close()


def test_start_takes_over_a_cnc_that_never_initialises(aeron_dir: str) -> None:
    os.makedirs(aeron_dir)
    with open(os.path.join(aeron_dir, "cnc.dat"), "wb") as f:
        f.write(bytes(4096))  # version 0 for ever: a driver that died while starting
    started = time.monotonic()
    with MediaDriver.launch(context(aeron_dir, driver_timeout_ms=300)) as driver:
        assert time.monotonic() - started >= 0.3
        with CncFile.map(os.path.join(aeron_dir, "cnc.dat")) as cnc:
            assert cnc.pid == os.getpid()
        assert driver.failure is None


# ---------------------------------------------------------------------------- active / recently active


def _spawn_cli_driver(aeron_dir: str, *extra: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        CLI + ["driver", "--dir", aeron_dir, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("aeronpy media driver running"), (line, proc.poll())
    return proc


def test_recently_active_driver_blocks_start_unless_delete_on_start(aeron_dir: str) -> None:
    proc = _spawn_cli_driver(aeron_dir)
    proc.send_signal(signal.SIGKILL)  # dies without writing the shut-down heartbeat
    proc.communicate(timeout=30)
    activity = driver_activity(aeron_dir, 10_000)
    assert activity.is_active and activity.pid == proc.pid  # recently active: heartbeat < timeout
    with pytest.raises(ActiveDriverError, match=rf"pid {proc.pid}, heartbeat \d+ms old"):
        MediaDriver.launch(context(aeron_dir, dir_delete_on_start=False))
    with MediaDriver.launch(context(aeron_dir, dir_delete_on_start=True)):
        with CncFile.map(os.path.join(aeron_dir, "cnc.dat")) as cnc:
            assert cnc.pid == os.getpid()


def test_dead_driver_older_than_the_timeout_is_replaced(aeron_dir: str) -> None:
    proc = _spawn_cli_driver(aeron_dir)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    with MediaDriver.launch(context(aeron_dir, driver_timeout_ms=1)):
        pass


def test_delete_on_start_over_a_running_driver_makes_the_running_one_stop(aeron_dir: str) -> None:
    old = _spawn_cli_driver(aeron_dir, "-D", "aeron.timer.interval=100ms")
    try:
        with MediaDriver.launch(context(aeron_dir, dir_delete_on_start=True)) as new:
            _, err = old.communicate(timeout=30)
            assert old.returncode == 1, err
            assert "cnc.dat was deleted" in err or "cnc.dat was replaced" in err, err
            assert "Traceback" not in err
            with CncFile.map(os.path.join(aeron_dir, "cnc.dat")) as cnc:  # the old one left it alone
                assert cnc.pid == os.getpid() and cnc.to_driver_heartbeat_ms() > 0
            assert new.failure is None
    finally:
        if old.poll() is None:
            old.kill()
            old.communicate()


@pytest.mark.parametrize("mode", ["INVOKER", "SHARED"])
def test_a_replaced_driver_never_deletes_the_new_drivers_dir(aeron_dir: str, mode: str) -> None:
    hook = threading.Event()
    old = MediaDriver.launch(
        context(aeron_dir, threading_mode=mode, timer_interval_ns=50_000_000, dir_delete_on_shutdown=True)
    )
    old.set_termination_hook(hook.set)
    try:
        with MediaDriver.launch(context(aeron_dir, dir_delete_on_start=True)) as new:
            deadline = time.monotonic() + 20
            if mode == "INVOKER":
                with pytest.raises(ActiveDriverError, match="was (deleted|replaced)"):
                    while time.monotonic() < deadline:
                        old.do_work()
                        time.sleep(0.001)
            assert hook.wait(20) and old.failure is not None
            old.close()
            with CncFile.map(os.path.join(aeron_dir, "cnc.dat")) as cnc:
                assert cnc.pid == os.getpid() and cnc.to_driver_heartbeat_ms() > 0  # not -1
            assert new.failure is None and not new.is_terminated
    finally:
        old.close()


def test_cnc_watch_reports_a_deleted_or_replaced_file(tmp_path: Any) -> None:
    path = tmp_path / "cnc.dat"
    path.write_bytes(b"x")
    st = os.stat(path)
    now = [0.0]
    lost: list[str] = []
    watch = CncWatch(str(path), (st.st_dev, st.st_ino), lost.append, 1000, clock=lambda: now[0])
    assert watch.do_work() == 0  # not due yet
    now[0] = 1.0
    assert watch.do_work() == 0 and lost == []  # checked: all well, which is no work
    (tmp_path / "new").write_bytes(b"y")
    os.replace(tmp_path / "new", path)  # another driver's file (a new inode) at the same path
    assert watch.do_work() == 0 and lost == []  # checked less than an interval ago
    now[0] = 2.0
    assert watch.do_work() == 1
    assert len(lost) == 1 and "was replaced" in lost[0]
    now[0] = 3.0
    path.unlink()
    watch.do_work()
    assert len(lost) == 1  # reported once


def test_cnc_watch_reports_a_deleted_file(tmp_path: Any) -> None:
    path = tmp_path / "cnc.dat"
    path.write_bytes(b"x")
    st = os.stat(path)
    lost: list[str] = []
    watch = CncWatch(str(path), (st.st_dev, st.st_ino), lost.append, 0, clock=lambda: 1.0)
    path.unlink()
    watch.do_work()
    assert len(lost) == 1 and "was deleted" in lost[0]


# ---------------------------------------------------------------------------- error handler


def test_error_handler_gets_recorded_errors_on_the_agent_thread(aeron_dir: str) -> None:
    from aeronpy.client.aeron import Aeron
    from aeronpy.client.context import Context
    from aeronpy.errors import RegistrationError

    seen: list[tuple[BaseException, str]] = []
    ctx = context(aeron_dir, error_handler=lambda ex: seen.append((ex, threading.current_thread().name)))
    with MediaDriver.launch(ctx):
        with Aeron.connect(Context.from_properties(env={}, aeron_dir=aeron_dir)) as aeron:
            with pytest.raises(RegistrationError):
                aeron.add_publication("aeron:udp?endpoint=no-such-host.invalid:40123", 1)
            wait_for(lambda: seen, message="the error handler")
    error, thread_name = seen[0]
    assert isinstance(error, DriverError) and "no-such-host.invalid" in str(error)
    assert thread_name == "aeronpy-shared"


def test_error_handler_failure_is_recorded_not_raised(aeron_dir: str) -> None:
    calls: list[BaseException] = []

    def bad_handler(ex: BaseException) -> None:
        calls.append(ex)
        raise RuntimeError("handler broke")

    with MediaDriver.launch(context(aeron_dir, threading_mode="INVOKER", error_handler=bad_handler)) as driver:
        assert driver.conductor is not None
        driver.conductor.record_error(1, "first")
        driver._error_handler(ValueError("from an agent"))  # the agents' error path
        driver.do_work()
        from aeronpy.tools.errors import format_errors

        assert driver.cnc is not None
        text = "\n".join(format_errors(driver.cnc))
    assert [type(c) for c in calls] == [DriverError, ValueError]
    assert calls[0].error_code == -1  # type: ignore[attr-defined]
    assert "error_handler raised RuntimeError: handler broke" in text


def test_error_handler_must_be_callable(aeron_dir: str) -> None:
    with pytest.raises(ConfigurationError, match="error_handler"):
        context(aeron_dir, error_handler="print")


# ---------------------------------------------------------------------------- permissions


def _mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_dir_and_file_modes_apply_to_every_file(aeron_dir: str) -> None:
    from aeronpy.client.aeron import Aeron
    from aeronpy.client.context import Context

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        driver = MediaDriver.launch(context(aeron_dir, dir_mode=0o700, file_mode=0o600))
    try:
        assert not [w for w in caught if issubclass(w.category, AeronDirExposureWarning)]
        for sub in ("", "publications", "images"):
            assert _mode(os.path.join(aeron_dir, sub)) == 0o700
        for name in ("cnc.dat", "loss-report.dat", "driver-config.properties"):
            assert _mode(os.path.join(aeron_dir, name)) == 0o600
        with Aeron.connect(Context.from_properties(env={}, aeron_dir=aeron_dir)) as aeron:
            publication = aeron.add_publication("aeron:ipc", 5)
            log = os.path.join(aeron_dir, "publications", f"{publication.registration_id}.logbuffer")
            assert _mode(log) == 0o600
    finally:
        driver.close()


def test_world_readable_default_warns(aeron_dir: str) -> None:
    old = os.umask(0o022)
    try:
        with pytest.warns(AeronDirExposureWarning, match="readable by every local user"):
            driver = MediaDriver.launch(context(aeron_dir))
        driver.close()
    finally:
        os.umask(old)
    assert any("aeronpy.dir.mode" in w for w in driver.startup_warnings)


@pytest.mark.parametrize("text", ["0700", "700", "0o700"])
def test_mode_properties_are_octal(text: str) -> None:
    ctx = DriverContext.from_properties(env={"AERONPY_DIR_MODE": text}, properties={"aeronpy.file.mode": "0640"})
    assert ctx.dir_mode == 0o700 and ctx.file_mode == 0o640
    assert ctx.as_properties()["aeronpy.dir.mode"] == "0700"


@pytest.mark.parametrize("text", ["rwx", "0800", "1777", "-1"])
def test_bad_modes_are_rejected(text: str) -> None:
    with pytest.raises(ConfigurationError, match="aeronpy.dir.mode"):
        DriverContext.from_properties(env={}, properties={"aeronpy.dir.mode": text})


# ---------------------------------------------------------------------------- presets


def test_low_latency_context_has_the_samples_settings() -> None:
    ctx = low_latency_context(env={}, properties={"aeron.threading.mode": "SHARED"})
    assert ctx.threading_mode is ThreadingMode.DEDICATED  # the preset is applied last, as the sample does
    assert ctx.term_buffer_sparse_file is False
    assert (ctx.conductor_idle_strategy, ctx.sender_idle_strategy, ctx.receiver_idle_strategy) == (
        "spin", "noop", "noop",
    )
    assert low_latency_context(env={}, threading_mode="SHARED").threading_mode is ThreadingMode.SHARED
    assert set(LOW_LATENCY_SETTINGS) <= set(DriverContext.PROPERTY_NAMES)
    assert "aeron.conductor.idle.strategy=spin" in describe_low_latency()


def test_loss_properties_map_onto_the_c_settings() -> None:
    props = loss_properties(0.25, 7, "data,sm")
    assert props == {
        "aeron.udp.channel.incoming.interceptors": "loss",
        "aeron.udp.channel.transport.bindings.loss.args": "rate=0.25|seed=7|recv-msg-mask=0xa",
    }
    assert parse_loss_types(["setup", "nak"]) == 0x24
    interceptor = lossy_context(0.5, 3, "data", env={}).loss_interceptor()
    assert interceptor is not None and (interceptor.rate, interceptor.recv_msg_mask) == (0.5, 0x2)
    ctx = DriverContext.from_properties(env={}).with_loss(1.0, 9, ("setup",))
    assert ctx.udp_channel_transport_bindings_loss_args == "rate=1.0|seed=9|recv-msg-mask=0x20"


@pytest.mark.parametrize(
    ("rate", "seed", "types", "match"),
    [(1.5, 0, "data", "rate"), (float("nan"), 0, "data", "rate"), (0.1, -1, "data", "seed"),
     (0.1, 0, "data,bogus", "bogus"), (0.1, 0, "", "none given")],
)
def test_bad_loss_options(rate: float, seed: int, types: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        loss_properties(rate, seed, types)


def test_lossy_media_driver_drops_with_the_given_settings(aeron_dir: str) -> None:
    with LossyMediaDriver.launch(0.5, 11, "data,nak", env={}, aeron_dir=aeron_dir, **SMALL) as driver:
        interceptor = driver.conductor.network.interceptor
        assert interceptor.rate == 0.5 and interceptor.recv_msg_mask == 0x6
