"""Channel strings of the consensus module (cluster.md §4.5): parsing that accepts Aeron's bare
``aeron:udp`` templates, and parameter merging."""

from __future__ import annotations

from aeronpy.uri import ChannelUri

__all__ = ["parse_channel", "with_params", "without_params"]


def parse_channel(channel: str) -> ChannelUri:
    """Parse ``channel``; a bare ``aeron:udp`` (a template the cluster completes) is allowed."""
    text = channel.strip()
    if text in ("aeron:udp", "aeron:udp?"):
        return ChannelUri("", "udp", {})
    return ChannelUri.parse(text)


def with_params(channel: str, **params: object) -> str:
    """``channel`` with each ``name=value`` set (``_`` in a name means ``-``); None skips."""
    uri = parse_channel(channel)
    values = dict(uri.params)
    for key, value in params.items():
        if value is not None:
            values[key.replace("_", "-")] = str(value)
    return str(ChannelUri(uri.prefix, uri.media, values))


def without_params(channel: str, *names: str) -> str:
    uri = parse_channel(channel)
    return str(ChannelUri(uri.prefix, uri.media, {k: v for k, v in uri.params.items() if k not in names}))
