"""Tests for aeronpy.driver.context: defaults, loading with precedence, validation."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from aeronpy.config import property_to_env
from aeronpy.driver.context import DriverContext, ThreadingMode
from aeronpy.errors import ConfigurationError

MIB = 1024 * 1024
S = 1_000_000_000
MS = 1_000_000


def load(**props: str) -> DriverContext:
    return DriverContext.from_properties(properties=props, env={"USER": "tester"})


def test_defaults_match_spec() -> None:
    ctx = DriverContext.from_properties(env={"USER": "tester"})
    assert ctx.aeron_dir == "/dev/shm/aeron-tester" or ctx.aeron_dir.endswith("aeron-tester")
    assert ctx.threading_mode is ThreadingMode.SHARED
    assert ctx.conductor_buffer_length == MIB + 768
    assert ctx.clients_buffer_length == MIB + 128
    assert ctx.counters_buffer_length == 8 * MIB
    assert ctx.error_buffer_length == 4 * MIB
    assert ctx.client_liveness_timeout_ns == 10 * S
    assert ctx.publication_linger_timeout_ns == 5 * S
    assert ctx.term_buffer_length == 16 * MIB
    assert ctx.ipc_term_buffer_length == 64 * MIB
    assert ctx.term_buffer_sparse_file is True
    assert ctx.low_file_store_warning_threshold == 160 * MIB
    assert ctx.file_page_size == 4096
    assert ctx.mtu_length == ctx.ipc_mtu_length == 1408
    assert ctx.socket_rcvbuf == 128 * 1024
    assert ctx.socket_sndbuf == 0
    assert ctx.send_to_status_poll_ratio == 6
    assert ctx.status_message_timeout_ns == 200 * MS
    assert ctx.initial_window_length == 128 * 1024
    assert ctx.publication_unblock_timeout_ns == 15 * S
    assert ctx.untethered_linger_timeout_ns == -1
    assert ctx.driver_timeout_ms == 10_000
    assert ctx.max_resend == 16
    assert ctx.nak_unicast_delay_ns == 1000
    assert ctx.nak_unicast_retry_delay_ratio == 100
    assert ctx.publication_reserved_session_id_low == -1
    assert ctx.publication_reserved_session_id_high == 1000
    assert ctx.receiver_group_tag is None
    assert ctx.flow_control_group_tag == -1
    assert ctx.receiver_group_consideration == "infer"
    assert ctx.driver_termination_validator == "deny"
    assert ctx.stream_session_limit == 2**31 - 1
    assert ctx.network_publication_max_messages_per_send == 16  # Aeron's 4: see its docstring
    assert ctx.shared_conductor_interval_ns == 200 * 1000  # aeronpy's own (SHARED mode)
    assert ctx.shared_eager_data_path is True  # aeronpy's own (SHARED mode)
    assert ctx.conductor_cycle_threshold_ns == 100 * MS
    assert ctx.name_resolver_threshold_ns == 5 * S
    assert ctx.conductor_idle_strategy == "backoff"
    assert ctx.cnc_file_length() == 48238592  # cnc-file.md §2, all defaults


def test_property_names_cover_every_field() -> None:
    code_only = {"error_handler", "nano_clock", "epoch_clock", "epoch_ns_clock", "transport_factory", "name_resolver"}
    fields = {f.name for f in dataclasses.fields(DriverContext)} - code_only
    assert set(DriverContext.PROPERTY_NAMES) == fields
    # settings Aeron does not have take an aeronpy. prefix
    assert all(p.startswith(("aeron.", "aeronpy.")) for p in DriverContext.PROPERTY_NAMES.values())
    assert DriverContext.PROPERTY_NAMES["dir_mode"] == "aeronpy.dir.mode"
    assert DriverContext.PROPERTY_NAMES["file_mode"] == "aeronpy.file.mode"
    assert DriverContext.PROPERTY_NAMES["counters_buffer_length"] == "aeron.counters.buffer.length"
    assert DriverContext.PROPERTY_NAMES["socket_rcvbuf"] == "aeron.socket.so_rcvbuf"


def test_every_property_round_trips_through_as_properties() -> None:
    ctx = load(**{"aeron.receiver.group.tag": "7", "aeron.sender.wildcard.port.range": "1000 2000"})
    again = DriverContext.from_properties(properties=ctx.as_properties(), env={})
    assert again == ctx


@pytest.mark.parametrize(
    ("prop", "text", "field", "expected"),
    [
        ("aeron.dir", "/tmp/aeron-x", "aeron_dir", "/tmp/aeron-x"),
        ("aeron.dir.delete.on.start", "true", "dir_delete_on_start", True),
        ("aeron.threading.mode", "DEDICATED", "threading_mode", ThreadingMode.DEDICATED),
        ("aeron.threading.mode", "shared_network", "threading_mode", ThreadingMode.SHARED_NETWORK),
        ("aeron.term.buffer.length", "64k", "term_buffer_length", 65536),
        ("aeron.mtu.length", "8k", "mtu_length", 8192),
        ("aeron.client.liveness.timeout", "5s", "client_liveness_timeout_ns", 5 * S),
        ("aeron.driver.timeout", "0x10", "driver_timeout_ms", 16),
        ("aeron.untethered.linger.timeout", "7s", "untethered_linger_timeout_ns", 7 * S),
        ("aeron.receiver.group.tag", "-5", "receiver_group_tag", -5),
        ("aeron.receiver.group.consideration", "TRUE", "receiver_group_consideration", "true"),
        ("aeron.driver.termination.validator", "allow", "driver_termination_validator", "allow"),
        ("aeron.conductor.idle.strategy", "sleep-ns", "conductor_idle_strategy", "sleeping"),
        ("aeron.sender.idle.strategy", "org.agrona.concurrent.BusySpinIdleStrategy", "sender_idle_strategy", "spin"),
        ("aeron.shared.idle.strategy.init.args", "1ms", "shared_idle_strategy_init_args", "1ms"),
        ("aeron.sender.wildcard.port.range", "20000 20100", "sender_wildcard_port_range", (20000, 20100)),
        ("aeron.multicast.FlowControl.supplier", "multicast_min", "multicast_flow_control_supplier", "min"),
        ("aeron.CongestionControl.supplier", "cubic", "congestion_control_supplier", "cubic"),
        ("aeron.name.resolver.threshold", "1s", "name_resolver_threshold_ns", S),
        ("aeron.driver.conductor.cycle.threshold", "1ms", "conductor_cycle_threshold_ns", MS),
    ],
)
def test_parses_property(prop: str, text: str, field: str, expected: object) -> None:
    assert getattr(load(**{prop: text}), field) == expected
    env_ctx = DriverContext.from_properties(env={property_to_env(prop): text})
    assert getattr(env_ctx, field) == expected


def test_cycle_threshold_env_names() -> None:
    ctx = DriverContext.from_properties(
        env={
            "AERON_DRIVER_CONDUCTOR_CYCLE_THRESHOLD": "1ms",
            "AERON_DRIVER_SENDER_CYCLE_THRESHOLD": "2ms",
            "AERON_DRIVER_RECEIVER_CYCLE_THRESHOLD": "3ms",
            "AERON_DRIVER_NAME_RESOLVER_THRESHOLD": "4ms",
        }
    )
    assert ctx.conductor_cycle_threshold_ns == MS
    assert ctx.sender_cycle_threshold_ns == 2 * MS
    assert ctx.receiver_cycle_threshold_ns == 3 * MS
    assert ctx.name_resolver_threshold_ns == 4 * MS


def test_precedence(tmp_path: Path) -> None:
    path = tmp_path / "driver.properties"
    path.write_text(
        "aeron.mtu.length=1024\naeron.socket.so_sndbuf=1m\naeron.socket.so_rcvbuf=1m\naeron.max.resend=3\n",
        encoding="utf-8",
    )
    env = {"AERON_MTU_LENGTH": "2048", "AERON_SOCKET_SO_SNDBUF": "2m", "AERON_SOCKET_SO_RCVBUF": "2m"}
    props = {"aeron.mtu.length": "4096", "aeron.socket.so_sndbuf": "4m"}
    ctx = DriverContext.from_properties(props, env, str(path), mtu_length=8192)
    assert ctx.mtu_length == 8192  # keyword argument
    assert ctx.socket_sndbuf == 4 * MIB  # properties mapping
    assert ctx.socket_rcvbuf == 2 * MIB  # environment
    assert ctx.max_resend == 3  # properties file
    assert ctx.file_page_size == 4096  # default


def test_aeron_dir_default_follows_given_env() -> None:
    ctx = DriverContext.from_properties(env={"AERON_DIR": "/tmp/a"})
    assert ctx.aeron_dir == "/tmp/a"
    assert DriverContext.from_properties(env={"USER": "zed"}).aeron_dir.endswith("aeron-zed")


def test_unknown_override_rejected() -> None:
    with pytest.raises(ConfigurationError, match="mtu"):
        DriverContext.from_properties(env={}, mtu=1408)


def test_missing_properties_file_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="missing.properties"):
        DriverContext.from_properties(env={}, properties_file=str(tmp_path / "missing.properties"))


@pytest.mark.parametrize(
    ("prop", "text"),
    [
        ("aeron.dir.delete.on.start", "maybe"),
        ("aeron.threading.mode", "POOLED"),
        ("aeron.thread.naming", "fancy"),
        ("aeron.term.buffer.length", "16x"),
        ("aeron.client.liveness.timeout", "10 minutes"),
        ("aeron.driver.timeout", "10s"),
        ("aeron.receiver.group.consideration", "perhaps"),
        ("aeron.driver.termination.validator", "sometimes"),
        ("aeron.conductor.idle.strategy", "lazy"),
        ("aeron.sender.wildcard.port.range", "2000"),
        ("aeron.receiver.wildcard.port.range", "3000 2000"),
        ("aeron.multicast.FlowControl.supplier", "fastest"),
        ("aeron.unicast.FlowControl.supplier", "min"),
        ("aeron.CongestionControl.supplier", "reno"),
    ],
)
def test_bad_format_names_property(prop: str, text: str) -> None:
    with pytest.raises(ConfigurationError, match="^" + prop.replace(".", r"\.") + "="):
        load(**{prop: text})


# Each row: (property, out-of-range or invalid value, a valid neighbour).
RANGE_CASES = [
    ("aeron.conductor.buffer.length", str(MIB + 767), str(2 * MIB + 768)),
    ("aeron.clients.buffer.length", str(MIB + 127), str(2 * MIB + 128)),
    ("aeron.counters.buffer.length", str(MIB - 1), "1m"),
    ("aeron.counters.buffer.length", "501m", "400m"),
    ("aeron.error.buffer.length", str(4 * MIB - 1), "8m"),
    ("aeron.client.liveness.timeout", "999ns", "5s"),
    ("aeron.publication.linger.timeout", "999", "1us"),
    ("aeron.term.buffer.length", "32k", "64k"),
    ("aeron.term.buffer.length", "2g", "1g"),
    ("aeron.term.buffer.length", "96k", "128k"),
    ("aeron.ipc.term.buffer.length", "100000", "128k"),
    ("aeron.file.page.size", "2k", "4k"),
    ("aeron.file.page.size", "12k", "16k"),
    ("aeron.file.page.size", "2g", "1g"),
    ("aeron.mtu.length", "32", "64"),
    ("aeron.mtu.length", "1000", "1024"),
    ("aeron.mtu.length", "65536", "65504"),
    ("aeron.ipc.mtu.length", "1424", "1408"),
    ("aeron.publication.term.window.length", "2g", "1m"),
    ("aeron.ipc.publication.term.window.length", "2g", "1m"),
    ("aeron.socket.so_rcvbuf", "2g", "2m"),
    ("aeron.socket.so_sndbuf", "2g", "2m"),
    ("aeron.socket.multicast.ttl", "256", "255"),
    ("aeron.send.to.status.poll.ratio", "0", "1"),
    ("aeron.rcv.status.message.timeout", "10ns", "10us"),
    ("aeron.image.liveness.timeout", "10ns", "10us"),
    ("aeron.rcv.initial.window.length", "255", "256"),
    ("aeron.loss.report.buffer.length", "1023", "1k"),
    ("aeron.publication.connection.timeout", "1", "1ms"),
    ("aeron.retransmit.unicast.linger", "1", "1ms"),
    ("aeron.max.resend", "0", "1"),
    ("aeron.max.resend", "257", "256"),
    ("aeron.nak.unicast.delay", "999", "1000"),
    ("aeron.nak.unicast.retry.delay.ratio", "0", "1"),
    ("aeron.nak.multicast.group.size", "0", "1"),
    ("aeron.nak.multicast.max.backoff", "1", "1ms"),
    ("aeron.publication.reserved.session.id.low", "0x80000000", "-0x80000000"),
    ("aeron.receiver.group.tag", "0x8000000000000000", "0x7fffffffffffffff"),
    ("aeron.flow.control.group.min.size", "-1", "0"),
    ("aeron.driver.stream.session.limit", "0", "1"),
    ("aeron.driver.resource.free.limit", "0", "1"),
    ("aeron.receiver.io.vector.capacity", "17", "16"),
    ("aeron.sender.io.vector.capacity", "0", "1"),
    ("aeron.network.publication.max.messages.per.send", "17", "16"),
    ("aeronpy.shared.conductor.interval", "-1", "0"),
    ("aeron.conductor.cpu.affinity", "-2", "-1"),
    ("aeron.driver.resolver.neighbor.timeout", "999us", "1ms"),
]


@pytest.mark.parametrize(("prop", "bad", "good"), RANGE_CASES)
def test_range_rules(prop: str, bad: str, good: str) -> None:
    load(**{prop: good})
    with pytest.raises(ConfigurationError, match="^" + prop.replace(".", r"\.") + "="):
        load(**{prop: bad})


def test_mtu_message_names_property() -> None:
    with pytest.raises(ConfigurationError, match=r"^aeron\.mtu\.length=1000: must be a multiple of 32$"):
        load(**{"aeron.mtu.length": "1000"})


def test_cnc_total_length_limit() -> None:
    with pytest.raises(ConfigurationError, match="CnC file length"):
        load(**{"aeron.counters.buffer.length": "500m", "aeron.error.buffer.length": "1g"})


def test_unblock_must_exceed_liveness() -> None:
    with pytest.raises(ConfigurationError, match=r"^aeron\.publication\.unblock\.timeout="):
        load(**{"aeron.publication.unblock.timeout": "10s"})
    load(**{"aeron.publication.unblock.timeout": "11s"})


def test_liveness_must_exceed_timer_interval() -> None:
    with pytest.raises(ConfigurationError, match=r"^aeron\.client\.liveness\.timeout="):
        load(**{"aeron.client.liveness.timeout": "1s"})


@pytest.mark.parametrize(
    "prop",
    ["aeron.untethered.window.limit.timeout", "aeron.untethered.resting.timeout", "aeron.untethered.linger.timeout"],
)
def test_untethered_must_exceed_timer_interval(prop: str) -> None:
    with pytest.raises(ConfigurationError, match="^" + prop.replace(".", r"\.") + "="):
        load(**{prop: "1s"})
    load(**{prop: "1001ms"})


def test_nak_delay_product_overflow() -> None:
    with pytest.raises(ConfigurationError, match=r"^aeron\.nak\.unicast\.retry\.delay\.ratio="):
        load(**{"aeron.nak.unicast.delay": "1s", "aeron.nak.unicast.retry.delay.ratio": str(2**62)})


def test_resolver_interface_requires_name() -> None:
    with pytest.raises(ConfigurationError, match=r"^aeron\.driver\.resolver\.interface="):
        load(**{"aeron.driver.resolver.interface": "0.0.0.0:0"})
    load(**{"aeron.driver.resolver.interface": "0.0.0.0:0", "aeron.driver.resolver.name": "node-a"})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mtu_length", "1408"),
        ("term_buffer_sparse_file", 1),
        ("threading_mode", "SHARED"),
        ("aeron_dir", None),
        ("receiver_group_consideration", "perhaps"),
        ("conductor_idle_strategy", "lazy"),
        ("sender_wildcard_port_range", (5, 1)),
    ],
)
def test_validate_checks_types_of_direct_construction(field: str, value: Any) -> None:
    ctx = DriverContext(aeron_dir="/tmp/x")
    setattr(ctx, field, value)
    with pytest.raises(ConfigurationError, match="^" + DriverContext.PROPERTY_NAMES[field].replace(".", r"\.")):
        ctx.validate()


def test_threading_mode_coerced_from_string() -> None:
    assert DriverContext(threading_mode="INVOKER").threading_mode is ThreadingMode.INVOKER  # type: ignore[arg-type]
    assert load().threading_mode is ThreadingMode.SHARED
    assert DriverContext.from_properties(env={}, threading_mode=ThreadingMode.DEDICATED).threading_mode is (
        ThreadingMode.DEDICATED
    )
    with pytest.raises(ConfigurationError, match=r"aeron\.threading\.mode"):
        DriverContext(threading_mode="LOTS")  # type: ignore[arg-type]


def test_override_values_are_validated() -> None:
    with pytest.raises(ConfigurationError, match=r"^aeron\.term\.buffer\.length="):
        DriverContext.from_properties(env={}, term_buffer_length=1000)


def test_paths() -> None:
    ctx = DriverContext(aeron_dir="/dev/shm/aeron-x")
    assert ctx.cnc_file() == "/dev/shm/aeron-x/cnc.dat"
    assert ctx.loss_report_file() == "/dev/shm/aeron-x/loss-report.dat"
    assert ctx.publications_dir() == "/dev/shm/aeron-x/publications"
    assert ctx.images_dir() == "/dev/shm/aeron-x/images"


def test_idle_strategy_lookup() -> None:
    ctx = load(**{"aeron.receiver.idle.strategy": "noop", "aeron.receiver.idle.strategy.init.args": "x"})
    assert ctx.idle_strategy("receiver") == ("noop", "x")
    assert ctx.idle_strategy("shared") == ("backoff", None)
