"""Tests for aeronpy.client.context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aeronpy.client.context import MAX_CLIENT_NAME_LENGTH, Context
from aeronpy.errors import ConfigurationError

MS = 1_000_000
S = 1_000_000_000


def test_defaults() -> None:
    ctx = Context.from_properties(env={"USER": "tester"})
    assert ctx.aeron_dir.endswith("aeron-tester")
    assert ctx.driver_timeout_ms == 10_000
    assert ctx.client_name == ""
    assert ctx.keepalive_interval_ns == 500 * MS
    assert ctx.resource_linger_duration_ns == 3 * S
    assert ctx.idle_sleep_duration_ns == 16 * MS
    assert ctx.pre_touch_mapped_memory is False
    assert ctx.use_conductor_agent_invoker is False
    assert ctx.error_handler is None
    assert ctx.cnc_file() == ctx.aeron_dir + "/cnc.dat"


def test_direct_construction_reads_aeron_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AERON_DIR", "/tmp/from-env")
    assert Context().aeron_dir == "/tmp/from-env"
    monkeypatch.delenv("AERON_DIR")
    assert Context().aeron_dir.startswith(("/dev/shm/aeron-", "/tmp/aeron-"))


def test_env_variables() -> None:
    ctx = Context.from_properties(
        env={
            "AERON_DIR": "/tmp/aeron-c",
            "AERON_DRIVER_TIMEOUT": "2500",
            "AERON_CLIENT_NAME": "my-client",
            "AERON_CLIENT_RESOURCE_LINGER_DURATION": "1s",
            "AERON_CLIENT_IDLE_SLEEP_DURATION": "1ms",
            "AERON_CLIENT_PRE_TOUCH_MAPPED_MEMORY": "true",
        }
    )
    assert ctx.aeron_dir == "/tmp/aeron-c"
    assert ctx.cnc_file() == "/tmp/aeron-c/cnc.dat"
    assert ctx.driver_timeout_ms == 2500
    assert ctx.client_name == "my-client"
    assert ctx.resource_linger_duration_ns == S
    assert ctx.idle_sleep_duration_ns == MS
    assert ctx.pre_touch_mapped_memory is True


def test_precedence(tmp_path: Path) -> None:
    path = tmp_path / "client.properties"
    path.write_text("aeron.client.name=file\naeron.driver.timeout=4\naeron.dir=/f\naeron.client.idle.sleep.duration=4ms\n")
    ctx = Context.from_properties(
        properties={"aeron.client.name": "props", "aeron.driver.timeout": "2"},
        env={"AERON_CLIENT_NAME": "env", "AERON_DRIVER_TIMEOUT": "3", "AERON_DIR": "/e"},
        properties_file=str(path),
        client_name="kwarg",
    )
    assert ctx.client_name == "kwarg"
    assert ctx.driver_timeout_ms == 2
    assert ctx.aeron_dir == "/e"
    assert ctx.idle_sleep_duration_ns == 4 * MS
    assert ctx.resource_linger_duration_ns == 3 * S


def test_handlers_are_accepted() -> None:
    errors: list[BaseException] = []
    ctx = Context.from_properties(env={}, error_handler=errors.append, available_image_handler=lambda image: None)
    assert ctx.error_handler is not None
    ctx.error_handler(ValueError("x"))
    assert len(errors) == 1


def test_client_name_length_limit() -> None:
    Context.from_properties(env={}, client_name="x" * MAX_CLIENT_NAME_LENGTH)
    with pytest.raises(ConfigurationError, match=r"^aeron\.client\.name="):
        Context.from_properties(env={"AERON_CLIENT_NAME": "x" * (MAX_CLIENT_NAME_LENGTH + 1)})


@pytest.mark.parametrize(
    ("env", "prop"),
    [
        ({"AERON_DRIVER_TIMEOUT": "10s"}, "aeron.driver.timeout"),
        ({"AERON_DRIVER_TIMEOUT": "0"}, "aeron.driver.timeout"),
        ({"AERON_CLIENT_RESOURCE_LINGER_DURATION": "3 s"}, "aeron.client.resource.linger.duration"),
        ({"AERON_CLIENT_IDLE_SLEEP_DURATION": "-1ms"}, "aeron.client.idle.sleep.duration"),
        ({"AERON_CLIENT_PRE_TOUCH_MAPPED_MEMORY": "yes"}, "aeron.pre.touch.mapped.memory"),
    ],
)
def test_invalid_env_values(env: dict[str, str], prop: str) -> None:
    with pytest.raises(ConfigurationError, match="^" + prop.replace(".", r"\.") + "="):
        Context.from_properties(env=env)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("keepalive_interval_ns", 0),
        ("driver_timeout_ms", -1),
        ("idle_sleep_duration_ns", 1.5),
        ("pre_touch_mapped_memory", "yes"),
        ("error_handler", 42),
        ("aeron_dir", ""),
    ],
)
def test_validate_rejects(field: str, value: Any) -> None:
    ctx = Context(aeron_dir="/tmp/x")
    setattr(ctx, field, value)
    with pytest.raises(ConfigurationError, match=field.split("_")[0]):
        ctx.validate()


def test_unknown_override_rejected() -> None:
    with pytest.raises(ConfigurationError, match="driver_timeout"):
        Context.from_properties(env={}, driver_timeout=5)
