"""Channel helpers of the archive: recording-subscription keys and stripped channels (§4.1)."""

from __future__ import annotations

import struct
from typing import Any

from aeronpy.config import format_size, parse_size
from aeronpy.uri import ChannelUri

__all__ = ["subscription_key", "strip_channel", "control_response_channel", "KEPT_PARAMS", "resolved_endpoint", "resolve_channel_endpoint_port"]

KEY_PARAMS = ("endpoint", "interface", "control", "session-id", "tags")
KEPT_PARAMS = frozenset({
    "endpoint", "interface", "control", "control-mode", "tags", "rejoin", "group", "tether", "fc", "gtag", "cc",
    "so-rcvbuf", "so-sndbuf", "rcv-wnd", "channel-snd-ts-offset", "channel-rcv-ts-offset", "media-rcv-ts-offset",
    "session-id", "alias", "response-correlation-id", "response-endpoint", "ttl", "stream-id",
})
# ChannelUriStringBuilder's output order.
ORDER = (
    "tags", "endpoint", "interface", "control", "control-mode", "mtu", "term-length", "init-term-id", "term-id",
    "term-offset", "session-id", "ttl", "reliable", "linger", "alias", "cc", "fc", "gtag", "sparse", "eos", "tether",
    "group", "rejoin", "ssc", "so-sndbuf", "so-rcvbuf", "rcv-wnd", "media-rcv-ts-offset", "channel-rcv-ts-offset",
    "channel-snd-ts-offset", "response-endpoint", "response-correlation-id", "nak-delay",
    "untethered-window-limit-timeout", "untethered-linger-timeout", "untethered-resting-timeout", "max-resend",
    "stream-id", "pub-wnd",
)


def subscription_key(stream_id: int, uri: ChannelUri) -> str:
    """``<streamId>:<media>?endpoint=..|interface=..|control=..|session-id=..|tags=..``."""
    parts = [f"{k}={uri.params[k]}" for k in KEY_PARAMS if k in uri.params]
    return f"{stream_id}:{uri.media}?" + "|".join(parts)


def build(uri: ChannelUri, params: dict[str, str]) -> str:
    ordered = [k for k in ORDER if k in params] + [k for k in params if k not in ORDER]
    head = f"aeron:{uri.media}"
    if not ordered:
        return head
    return head + "?" + "|".join(f"{k}={params[k]}" for k in ordered)


def strip_channel(uri: ChannelUri) -> str:
    """The channel rebuilt with only the parameters the archive keeps, in builder order."""
    return build(uri, {k: v for k, v in uri.params.items() if k in KEPT_PARAMS})


def control_response_channel(
    uri: ChannelUri, term_length: int, sparse: bool, mtu: int, image_correlation_id: int | None,
) -> str:
    """The channel of a control session's response publication (archive.md §1.2).

    The client's response channel stripped to the kept parameters, plus ``term-length``, ``sparse``
    and ``mtu`` (the client's values, else the archive's control defaults), plus
    ``response-correlation-id=<request image>`` when it is a ``control-mode=response`` channel.
    Raises ``ConfigurationError`` for a malformed size.
    """
    params = {k: v for k, v in uri.params.items() if k in KEPT_PARAMS}
    given = uri.params
    params["term-length"] = format_size(
        parse_size(given["term-length"], "term-length") if "term-length" in given else term_length)
    params["sparse"] = "true" if (given["sparse"].strip().lower() == "true" if "sparse" in given else sparse) else "false"
    params["mtu"] = format_size(parse_size(given["mtu"], "mtu") if "mtu" in given else mtu)
    if given.get("control-mode") == "response" and image_correlation_id is not None:
        params["response-correlation-id"] = str(image_correlation_id)
    return build(uri, params)


def resolved_endpoint(counters_reader: Any, channel_status_id: int) -> str | None:
    """The bound ``host:port`` of a UDP subscription, from its local-sockaddr counter."""
    from aeronpy.concurrent.counters import LOCAL_SOCKADDR_TYPE_ID

    found: list[str] = []

    def visit(counter_id: int, type_id: int, key: bytes, label: str) -> None:
        if type_id == LOCAL_SOCKADDR_TYPE_ID and not found and len(key) >= 8:
            status_id, n = struct.unpack_from("<ii", key)
            if status_id == channel_status_id and 0 < n <= len(key) - 8:
                found.append(key[8 : 8 + n].decode("utf-8", "replace"))

    counters_reader.for_each(visit)
    return found[0] if found else None


def resolve_channel_endpoint_port(counters_reader: Any, subscription: Any) -> str:
    """``subscription.channel`` with an ``endpoint=host:0`` replaced by the bound port (if any)."""
    uri = ChannelUri.parse(subscription.channel)
    endpoint = uri.get("endpoint")
    if endpoint is None or not endpoint.endswith(":0"):
        return str(uri)
    bound = resolved_endpoint(counters_reader, subscription.channel_status_id)
    if bound is None:
        return str(uri)
    port = bound.rsplit(":", 1)[1]
    return str(uri.with_param("endpoint", endpoint[:-1] + port))
