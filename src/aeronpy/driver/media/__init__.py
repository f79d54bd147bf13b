"""UDP media: channel parsing (:mod:`.udp_channel`), non-blocking socket transports
(:mod:`.udp_transport`) and start-up socket buffer checks (:mod:`.socket_validation`)."""

from __future__ import annotations
