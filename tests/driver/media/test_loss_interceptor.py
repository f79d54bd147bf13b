"""The ``loss`` incoming interceptor: C-compatible settings, mask filtering, drop statistics."""

from __future__ import annotations

import ctypes
import ctypes.util
import struct

import pytest

from aeronpy.driver.context import DriverContext
from aeronpy.driver.media.loss_interceptor import (
    LossInterceptor,
    LossParams,
    loss_enabled,
    loss_interceptor_from_env,
    loss_interceptor_from_properties,
    parse_incoming_interceptors,
    parse_loss_args,
)
from aeronpy.errors import ConfigurationError
from aeronpy.protocol.data_header import HDR_TYPE_DATA, HDR_TYPE_NAK, HDR_TYPE_SETUP, HDR_TYPE_SM

ARGS_PROP = "aeron.udp.channel.transport.bindings.loss.args"
ICPT_PROP = "aeron.udp.channel.incoming.interceptors"


def frame(frame_type: int, length: int = 32) -> bytes:
    data = bytearray(length)
    struct.pack_into("<iBBH", data, 0, length, 0, 0xC0, frame_type)
    return bytes(data)


# --- argument parsing -------------------------------------------------------------------


def test_parse_loss_args_keys_and_defaults() -> None:
    assert parse_loss_args(None) == LossParams(0.0, 0, 0)
    assert parse_loss_args("") == LossParams(0.0, 0, 0)
    assert parse_loss_args("rate=0.2|seed=7|recv-msg-mask=0xF") == LossParams(0.2, 7, 0xF)
    assert parse_loss_args("recv-msg-mask=ff") == LossParams(0.0, 0, 0xFF)  # strtoul base 16
    assert parse_loss_args("rate=1|rate=.5") == LossParams(0.5, 0, 0)  # last one wins
    assert parse_loss_args("rate=1e-1|seed=18446744073709551615").seed == 2**64 - 1


@pytest.mark.parametrize(
    "args",
    [
        "rate=abc",
        "rate=0.1xyz",
        "rate=1.5",
        "rate=-0.1",
        "rate=nan",
        "rate=",
        "seed=-1",
        "seed=0x10",
        "seed=18446744073709551616",
        "recv-msg-mask=0xG",
        "recv-msg-mask=-1",
        "recv-msg-mask=1_0",
        "bogus=1",
        "=1",
        "rate",
        "rate=0.1||seed=1",
    ],
)
def test_bad_loss_args_raise_naming_the_property(args: str) -> None:
    with pytest.raises(ConfigurationError, match="^" + ARGS_PROP.replace(".", r"\.")):
        parse_loss_args(args)
    with pytest.raises(ConfigurationError, match="^AERON_UDP_CHANNEL_TRANSPORT_BINDINGS_LOSS_ARGS"):
        loss_interceptor_from_env(
            {"AERON_UDP_CHANNEL_INCOMING_INTERCEPTORS": "loss", "AERON_UDP_CHANNEL_TRANSPORT_BINDINGS_LOSS_ARGS": args}
        )


def test_interceptor_list() -> None:
    assert parse_incoming_interceptors("loss") == ("loss",)
    assert parse_incoming_interceptors(",loss,,") == ("loss",)
    assert parse_incoming_interceptors("") == ()
    assert loss_enabled("aeron_udp_channel_interceptor_loss_load")
    assert not loss_enabled(None)
    assert not loss_enabled("")
    for bad, reason in (
        ("fixed-loss", "not implemented by aeronpy"),
        ("loss,multi-gap-loss", "not implemented by aeronpy"),
        ("Loss", "unknown interceptor"),
        (" loss", "unknown interceptor"),  # C does not trim either
        (",".join(["loss"] * 11), "too many"),
        ("x" * 5000, "too long"),
    ):
        with pytest.raises(ConfigurationError, match="^" + ICPT_PROP.replace(".", r"\.") + ".*" + reason):
            parse_incoming_interceptors(bad)


def test_from_env_and_properties() -> None:
    env = {
        "AERON_UDP_CHANNEL_INCOMING_INTERCEPTORS": "loss",
        "AERON_UDP_CHANNEL_TRANSPORT_BINDINGS_LOSS_ARGS": "rate=0.25|seed=7|recv-msg-mask=0x2",
    }
    interceptor = loss_interceptor_from_env(env)
    assert interceptor is not None
    assert (interceptor.rate, interceptor.seed, interceptor.recv_msg_mask) == (0.25, 7, 2)
    assert loss_interceptor_from_env({}) is None
    assert loss_interceptor_from_env({"AERON_UDP_CHANNEL_TRANSPORT_BINDINGS_LOSS_ARGS": "rate=0.5"}) is None
    props = {ICPT_PROP: "loss", ARGS_PROP: "rate=0.25|seed=7|recv-msg-mask=0x2"}
    p = loss_interceptor_from_properties(props)
    assert p is not None and (p.rate, p.seed, p.recv_msg_mask) == (0.25, 7, 2)
    assert loss_interceptor_from_properties({ARGS_PROP: "rate=0.5"}) is None


def test_driver_context_fields() -> None:
    assert DriverContext.PROPERTY_NAMES["udp_channel_incoming_interceptors"] == ICPT_PROP
    assert DriverContext.PROPERTY_NAMES["udp_channel_transport_bindings_loss_args"] == ARGS_PROP
    ctx = DriverContext.from_properties(
        env={
            "AERON_UDP_CHANNEL_INCOMING_INTERCEPTORS": "loss",
            "AERON_UDP_CHANNEL_TRANSPORT_BINDINGS_LOSS_ARGS": "rate=0.1|recv-msg-mask=0x2",
        }
    )
    assert ctx.udp_channel_incoming_interceptors == "loss"
    assert ctx.udp_channel_transport_bindings_loss_args == "rate=0.1|recv-msg-mask=0x2"
    li = ctx.loss_interceptor()
    assert li is not None and li.rate == 0.1 and li.recv_msg_mask == 2
    assert DriverContext.from_properties(env={}).loss_interceptor() is None
    with pytest.raises(ConfigurationError, match="^" + ARGS_PROP.replace(".", r"\.")):
        DriverContext.from_properties(env={}, properties={ARGS_PROP: "rate=x"})
    with pytest.raises(ConfigurationError, match="^" + ICPT_PROP.replace(".", r"\.")):
        DriverContext.from_properties(env={}, properties={ICPT_PROP: "nope"})
    bad = DriverContext(udp_channel_transport_bindings_loss_args="seed=-3")
    with pytest.raises(ConfigurationError, match="^" + ARGS_PROP.replace(".", r"\.")):
        bad.validate()


# --- drop decision ----------------------------------------------------------------------


def test_mask_selects_frame_types() -> None:
    data_only = LossInterceptor(rate=1.0, seed=1, recv_msg_mask=1 << HDR_TYPE_DATA)
    assert data_only.should_drop(frame(HDR_TYPE_DATA))
    assert not data_only.should_drop(frame(HDR_TYPE_SM))
    assert not data_only.should_drop(frame(HDR_TYPE_NAK))
    assert not data_only.should_drop(frame(HDR_TYPE_SETUP))
    assert not data_only.should_drop(frame(HDR_TYPE_DATA)[:7])  # shorter than a header
    assert data_only.should_drop(memoryview(bytearray(frame(HDR_TYPE_DATA))))
    setup_sm = LossInterceptor(rate=1.0, recv_msg_mask=(1 << HDR_TYPE_SETUP) | (1 << HDR_TYPE_SM))
    assert [setup_sm.should_drop(frame(t)) for t in (0, 1, 2, 3, 4, 5, 6)] == [
        False, False, False, True, False, True, False
    ]
    assert not LossInterceptor(1.0, 0, 2**64 - 1).should_drop(frame(64))  # type beyond the mask
    assert LossInterceptor(1.0, 0, 1 << 40).should_drop(frame(40))


def test_defaults_and_zero_rate_drop_nothing() -> None:
    assert not any(LossInterceptor(0.0, 1, 0xFFFF).should_drop(frame(HDR_TYPE_DATA)) for _ in range(100))
    assert not any(LossInterceptor(1.0, 1, 0).should_drop(frame(HDR_TYPE_DATA)) for _ in range(100))


def test_generator_advances_only_on_matching_types() -> None:
    a = LossInterceptor(0.5, 42, 1 << HDR_TYPE_DATA)
    b = LossInterceptor(0.5, 42, 1 << HDR_TYPE_DATA)
    seq_a = [a.should_drop(frame(HDR_TYPE_DATA)) for _ in range(50)]
    seq_b = []
    for _ in range(50):
        b.should_drop(frame(HDR_TYPE_SM))  # interleaved non-matching frames change nothing
        seq_b.append(b.should_drop(frame(HDR_TYPE_DATA)))
    assert seq_a == seq_b
    assert a.matched == 50 and b.matched == 50


def test_drop_rate_statistics_with_seed() -> None:
    n = 20_000
    for rate in (0.05, 0.2, 0.5):
        li = LossInterceptor(rate, seed=7, recv_msg_mask=0x2)
        dropped = sum(li.should_drop(frame(HDR_TYPE_DATA)) for _ in range(n))
        assert dropped == li.dropped
        sigma = (n * rate * (1 - rate)) ** 0.5
        assert abs(dropped - n * rate) < 5 * sigma, (rate, dropped)


def test_deterministic_per_seed() -> None:
    def run(seed: int) -> list[bool]:
        li = LossInterceptor(0.3, seed, 0x2)
        return [li.should_drop(frame(HDR_TYPE_DATA)) for _ in range(200)]

    assert run(7) == run(7)
    assert run(7) != run(8)
    # seed bits above 48 are ignored (as in C)
    assert run(7) == run(7 + (1 << 48))


def test_generator_is_posix_erand48_seeded_like_c() -> None:
    li = LossInterceptor(0.5, seed=7)
    # X0 = 7 << 32; X1 = (0x5DEECE66D * X0 + 0xB) mod 2^48
    x1 = (0x5DEECE66D * (7 << 32) + 0xB) & ((1 << 48) - 1)
    assert li.next_random() == x1 / 2**48
    name = ctypes.util.find_library("c")
    if name is None:
        pytest.skip("no libc")
    libc = ctypes.CDLL(name)
    if not hasattr(libc, "erand48"):
        pytest.skip("libc has no erand48")
    libc.erand48.restype = ctypes.c_double
    libc.erand48.argtypes = [ctypes.POINTER(ctypes.c_ushort)]
    for seed in (0, 7, 0x123456789ABC, 2**64 - 1):
        xsubi = (ctypes.c_ushort * 3)(
            (seed >> 32) & 0xFFFF, (seed >> 16) & 0xFFFF, seed & 0xFFFF
        )  # exactly as aeron_udp_channel_interceptor_loss_configure
        ours = LossInterceptor(0.5, seed)
        assert [ours.next_random() for _ in range(100)] == [libc.erand48(xsubi) for _ in range(100)]


def test_constructor_validates() -> None:
    bad: list[dict[str, float]] = [
        {"rate": 1.1},
        {"rate": float("nan")},
        {"rate": 0.5, "seed": -1},
        {"rate": 0.5, "recv_msg_mask": -1},
    ]
    for kwargs in bad:
        with pytest.raises(ConfigurationError, match="^" + ARGS_PROP.replace(".", r"\.")):
            LossInterceptor(**kwargs)  # type: ignore[arg-type]
    assert "recv_msg_mask=0xf" in repr(LossInterceptor(0.2, 7, 0xF))
