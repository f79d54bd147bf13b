"""Tests for aeronpy.config: value parsers, env mapping, properties files, precedence."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aeronpy.config import (
    INT32_MAX,
    INT64_MAX,
    PropertySource,
    PropertySpec,
    check_bounded_fields,
    check_bounds,
    check_range,
    default_aeron_dir,
    duration_spec,
    format_duration_ns,
    format_size,
    int_spec,
    load_context,
    load_properties_file,
    parse_bool,
    parse_duration_ns,
    parse_int,
    parse_properties,
    parse_size,
    parse_stripped_text,
    property_names,
    property_to_env,
    size_spec,
)
from aeronpy.errors import ConfigurationError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("1408", 1408),
        ("64k", 65536),
        ("64K", 65536),
        ("16m", 16 * 1024**2),
        ("1G", 1024**3),
        (" 8k ", 8192),
        ("8589934591g", 8589934591 * 1024**3),
    ],
)
def test_parse_size_valid(text: str, expected: int) -> None:
    assert parse_size(text, "aeron.x") == expected


@pytest.mark.parametrize("text", ["", "k", "-1", "1.5k", "1kb", "1t", "0x10", "1 k", "8589934592g"])
def test_parse_size_invalid_names_property(text: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^aeron\.term\.buffer\.length="):
        parse_size(text, "aeron.term.buffer.length")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("250", 250),
        ("250ns", 250),
        ("3us", 3000),
        ("3US", 3000),
        ("16ms", 16_000_000),
        ("16Ms", 16_000_000),
        ("10s", 10_000_000_000),
        ("10S", 10_000_000_000),
    ],
)
def test_parse_duration_valid(text: str, expected: int) -> None:
    assert parse_duration_ns(text, "aeron.timer.interval") == expected


@pytest.mark.parametrize("text", ["", "s", "-5s", "1.5s", "5m", "5min", "5 s", "5sec", "9223372037s"])
def test_parse_duration_invalid_names_property(text: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^aeron\.timer\.interval="):
        parse_duration_ns(text, "aeron.timer.interval")


@pytest.mark.parametrize("text", ["1", "on", "true", "TRUE", "On"])
def test_parse_bool_true(text: str) -> None:
    assert parse_bool(text, "aeron.p") is True


@pytest.mark.parametrize("text", ["0", "off", "false", "False"])
def test_parse_bool_false(text: str) -> None:
    assert parse_bool(text, "aeron.p") is False


@pytest.mark.parametrize("text", ["", "yes", "no", "truex", "2", "t"])
def test_parse_bool_strict(text: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^aeron\.reliable\.stream="):
        parse_bool(text, "aeron.reliable.stream")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("10000", 10000), ("-1", -1), ("+7", 7), ("0x10", 16), ("0XfF", 255), ("010", 8), ("-0x1", -1)],
)
def test_parse_int_valid(text: str, expected: int) -> None:
    assert parse_int(text, "aeron.driver.timeout") == expected


@pytest.mark.parametrize("text", ["", "x", "1.0", "08", "0x", "1k", "--1", "1_000"])
def test_parse_int_invalid(text: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^aeron\.driver\.timeout="):
        parse_int(text, "aeron.driver.timeout")


def test_check_range() -> None:
    assert check_range("aeron.p", 5, 0, 10) == 5
    assert check_range("aeron.p", -5, None, None) == -5
    with pytest.raises(ConfigurationError, match=r"^aeron\.p=11: out of range"):
        check_range("aeron.p", 11, 0, 10)


@given(st.integers(min_value=0, max_value=INT64_MAX))
def test_size_round_trip(n: int) -> None:
    assert parse_size(format_size(n), "p") == n
    assert parse_size(str(n), "p") == n


@given(st.integers(min_value=0, max_value=INT64_MAX))
def test_duration_round_trip(n: int) -> None:
    assert parse_duration_ns(format_duration_ns(n), "p") == n
    assert parse_duration_ns(str(n), "p") == n


@given(st.integers(min_value=0, max_value=2**33 - 1), st.sampled_from(["k", "m", "g", "K", "M", "G", ""]))
def test_size_suffix_multiplies(n: int, suffix: str) -> None:
    mult = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[suffix.lower()]
    assert parse_size(f"{n}{suffix}", "p") == n * mult


@given(st.text(max_size=12))
def test_parsers_only_raise_configuration_error(text: str) -> None:
    for parser in (parse_size, parse_duration_ns, parse_bool, parse_int):
        try:
            parser(text, "aeron.p")
        except ConfigurationError as e:
            assert str(e).startswith("aeron.p=")


@pytest.mark.parametrize(
    ("prop", "env"),
    [
        ("aeron.dir", "AERON_DIR"),
        ("aeron.socket.so_rcvbuf", "AERON_SOCKET_SO_RCVBUF"),
        ("aeron.mtu.length", "AERON_MTU_LENGTH"),
        ("aeron.multicast.FlowControl.supplier", "AERON_MULTICAST_FLOWCONTROL_SUPPLIER"),
        ("aeron.name.resolver.threshold", "AERON_DRIVER_NAME_RESOLVER_THRESHOLD"),
        ("aeron.driver.conductor.cycle.threshold", "AERON_DRIVER_CONDUCTOR_CYCLE_THRESHOLD"),
        ("aeron.conductor.cycle.threshold", "AERON_DRIVER_CONDUCTOR_CYCLE_THRESHOLD"),
        ("aeron.sender.cycle.threshold", "AERON_DRIVER_SENDER_CYCLE_THRESHOLD"),
        ("aeron.receiver.cycle.threshold", "AERON_DRIVER_RECEIVER_CYCLE_THRESHOLD"),
        ("aeron.pre.touch.mapped.memory", "AERON_CLIENT_PRE_TOUCH_MAPPED_MEMORY"),
        ("aeron.client.idle.sleep.duration", "AERON_CLIENT_IDLE_SLEEP_DURATION"),
        ("aeron.flow.control.group.tag", "AERON_FLOW_CONTROL_GROUP_TAG"),
    ],
)
def test_property_to_env(prop: str, env: str) -> None:
    assert property_to_env(prop) == env


def test_parse_properties_syntax() -> None:
    text = "\n".join(
        [
            "# comment",
            "  ! another comment",
            "",
            "aeron.a=1",
            "aeron.b: 2",
            "aeron.c 3",
            "  aeron.d = spaced value  ",
            "aeron.e=multi \\",
            "    line",
            "aeron.f=has=equals",
            "aeron\\=g=escaped key",
            "aeron.h=",
            "aeron.i=tab\\tand\\u0041",
            "aeron.j=#not a comment",
        ]
    )
    props = parse_properties(text)
    assert props == {
        "aeron.a": "1",
        "aeron.b": "2",
        "aeron.c": "3",
        "aeron.d": "spaced value  ",
        "aeron.e": "multi line",
        "aeron.f": "has=equals",
        "aeron=g": "escaped key",
        "aeron.h": "",
        "aeron.i": "tab\tandA",
        "aeron.j": "#not a comment",
    }


def test_load_properties_file(tmp_path: Path) -> None:
    path = tmp_path / "driver.properties"
    path.write_text("aeron.mtu.length=8k\n# x\naeron.dir: /tmp/x\n", encoding="utf-8")
    assert load_properties_file(str(path)) == {"aeron.mtu.length": "8k", "aeron.dir": "/tmp/x"}


def test_load_properties_file_missing(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.properties")
    with pytest.raises(ConfigurationError, match="nope.properties"):
        load_properties_file(missing)


def test_load_properties_file_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_properties_file(str(tmp_path))  # a directory


def test_precedence(tmp_path: Path) -> None:
    path = tmp_path / "p.properties"
    path.write_text("aeron.a=file\naeron.b=file\naeron.c=file\naeron.d=file\n", encoding="utf-8")
    src = PropertySource(
        properties={"aeron.a": "props"},
        env={"AERON_A": "env", "AERON_B": "env", "AERON_C": ""},
        properties_file=str(path),
    )
    assert src.get("aeron.a") == "props"
    assert src.lookup("aeron.a") == ("props", "properties")
    assert src.get("aeron.b") == "env"
    assert src.lookup("aeron.b") == ("env", "env AERON_B")
    assert src.get("aeron.c") == "file"  # empty env value counts as unset
    assert src.get("aeron.d") == "file"
    assert src.get("aeron.e") is None


def test_property_source_defaults_to_os_environ() -> None:
    src = PropertySource()
    assert src.env is os.environ


def test_property_source_uses_exception_env_name() -> None:
    src = PropertySource(env={"AERON_DRIVER_NAME_RESOLVER_THRESHOLD": "3s", "AERON_NAME_RESOLVER_THRESHOLD": "1s"})
    assert src.get("aeron.name.resolver.threshold") == "3s"


def test_default_aeron_dir_linux() -> None:
    assert default_aeron_dir({"USER": "alice"}, "linux") == "/dev/shm/aeron-alice"


def test_default_aeron_dir_falls_back_to_passwd() -> None:
    import pwd

    assert default_aeron_dir({}, "linux") == f"/dev/shm/aeron-{pwd.getpwuid(os.getuid()).pw_name}"


def test_default_aeron_dir_default_user(monkeypatch: pytest.MonkeyPatch) -> None:
    import pwd

    def no_user(uid: int) -> pwd.struct_passwd:
        raise KeyError(uid)

    monkeypatch.setattr(pwd, "getpwuid", no_user)
    assert default_aeron_dir({"USER": ""}, "linux") == "/dev/shm/aeron-default"


def test_default_aeron_dir_other_unix() -> None:
    assert default_aeron_dir({"USER": "bob", "TMPDIR": "/var/tmp/"}, "darwin") == "/var/tmp/aeron-bob"
    assert default_aeron_dir({"USER": "bob"}, "darwin") == "/tmp/aeron-bob"


def test_default_aeron_dir_uses_process_environment() -> None:
    assert default_aeron_dir() == default_aeron_dir(os.environ)


# ---------------------------------------------------------------------------- properties URLs


def test_load_properties_from_a_file_url(tmp_path: Path) -> None:
    path = tmp_path / "driver.properties"
    path.write_text("aeron.mtu.length=8k\n", encoding="utf-8")
    assert load_properties_file(path.as_uri()) == {"aeron.mtu.length": "8k"}
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_properties_file((tmp_path / "missing").as_uri())
    with pytest.raises(ConfigurationError, match="local path"):
        load_properties_file("file://elsewhere/etc/x.properties")


def _serve(body: bytes | None, status: int = 200) -> tuple[object, str]:
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            if body is None:
                self.send_error(status)
                return
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/p.properties"


def test_load_properties_from_an_http_url_and_into_a_context() -> None:
    from aeronpy.driver.context import DriverContext

    server, url = _serve(b"aeron.mtu.length=4096\n# comment\naeron.term.buffer.length=1m\n")
    try:
        assert load_properties_file(url) == {"aeron.mtu.length": "4096", "aeron.term.buffer.length": "1m"}
        ctx = DriverContext.from_properties(env={}, properties_file=url)
        assert ctx.mtu_length == 4096 and ctx.term_buffer_length == 1024 * 1024
    finally:
        server.shutdown()  # type: ignore[attr-defined]
        server.server_close()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("body", "status", "match"),
    [(None, 404, "HTTP 404"), (None, 500, "HTTP 500"), (b"\xff\xfe\x00bad", 200, "not UTF-8"),
     (b"x" * (1024 * 1024 + 1), 200, "longer than")],
)
def test_bad_http_properties_are_clear_errors(body: bytes | None, status: int, match: str) -> None:
    server, url = _serve(body, status)
    try:
        with pytest.raises(ConfigurationError, match=match):
            load_properties_file(url)
    finally:
        server.shutdown()  # type: ignore[attr-defined]
        server.server_close()  # type: ignore[attr-defined]


def test_unreachable_and_silent_servers_are_clear_errors() -> None:
    import socket

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    with pytest.raises(ConfigurationError, match="unreachable"):
        load_properties_file(f"http://127.0.0.1:{port}/p.properties", timeout_s=2.0)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the connection (kernel backlog) but never answers
    try:
        with pytest.raises(ConfigurationError, match=r"no answer within 0.3s|timed out"):
            load_properties_file(f"http://127.0.0.1:{silent.getsockname()[1]}/p", timeout_s=0.3)
    finally:
        silent.close()


_SPECS = {
    "aeron_dir": PropertySpec("aeron.dir", parse_stripped_text),
    "stream_id": int_spec("aeron.test.stream.id"),
    "buffer_length": size_spec("aeron.test.buffer.length", 1024),
    "timeout_ns": duration_spec("aeron.test.timeout", 1),
}


@dataclass
class _TestContext:
    aeron_dir: str = ""
    stream_id: int = 10
    buffer_length: int = 4096
    timeout_ns: int | None = None
    validated: bool = False

    def validate(self) -> None:
        check_bounded_fields(_SPECS, self)
        self.validated = True


def test_load_context_reads_each_spec_and_validates() -> None:
    ctx = load_context(
        _TestContext, _SPECS, {"aeron.test.buffer.length": "8k", "aeron.dir": " /tmp/x "},
        {"AERON_TEST_TIMEOUT": "5ms"}, None, {"stream_id": 7},
    )
    assert (ctx.aeron_dir, ctx.stream_id, ctx.buffer_length, ctx.timeout_ns, ctx.validated) == (
        "/tmp/x", 7, 8192, 5_000_000, True)
    assert property_names(_SPECS)["buffer_length"] == "aeron.test.buffer.length"


def test_load_context_rejects_unknown_and_out_of_range_fields() -> None:
    with pytest.raises(ConfigurationError, match="unknown _TestContext field"):
        load_context(_TestContext, _SPECS, None, {}, None, {"validated_twice": True})
    with pytest.raises(ConfigurationError, match="unknown _TestContext field"):
        load_context(_TestContext, _SPECS, None, {}, None, {"validated": True}, fields={"stream_id"})
    with pytest.raises(ConfigurationError, match=r"aeron.test.buffer.length=512: out of range \[1024, "):
        load_context(_TestContext, _SPECS, {"aeron.test.buffer.length": "512"}, {}, None, {})


@pytest.mark.parametrize("value", [True, "7", 1.0])
def test_check_bounds_wants_an_int(value: object) -> None:
    with pytest.raises(ConfigurationError, match="aeron.test.stream.id=.*: must be an integer"):
        check_bounds(_SPECS["stream_id"], value)


def test_check_bounds_is_inclusive_and_unset_fields_pass() -> None:
    check_bounds(_SPECS["stream_id"], INT32_MAX)
    with pytest.raises(ConfigurationError, match="out of range"):
        check_bounds(_SPECS["stream_id"], INT32_MAX + 1)
    check_bounded_fields(_SPECS, _TestContext(timeout_ns=None))
    with pytest.raises(ConfigurationError, match="aeron.test.timeout=0: out of range"):
        check_bounded_fields(_SPECS, _TestContext(timeout_ns=0))
