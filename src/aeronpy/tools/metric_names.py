"""Stable OpenMetrics names for Aeron's counters (data for metrics.py).

System counters (type 0) are named by their system counter id, so the name never depends on
the label's run-time suffix (version, threading mode, threshold).  ``True`` marks a cumulative
count (exposed as an OpenMetrics counter, ``_total``); the others are gauges.
"""

from __future__ import annotations

__all__ = ["SYSTEM_COUNTERS", "TYPE_METRICS", "CUMULATIVE_TYPES"]

SYSTEM_COUNTERS: dict[int, tuple[str, bool]] = {
    0: ("bytes_sent", True),
    1: ("bytes_received", True),
    2: ("receiver_proxy_fails", True),
    3: ("sender_proxy_fails", True),
    4: ("conductor_proxy_fails", True),
    5: ("naks_sent", True),
    6: ("naks_received", True),
    7: ("status_messages_sent", True),
    8: ("status_messages_received", True),
    9: ("heartbeats_sent", True),
    10: ("heartbeats_received", True),
    11: ("retransmits_sent", True),
    12: ("flow_control_under_runs", True),
    13: ("flow_control_over_runs", True),
    14: ("invalid_packets", True),
    15: ("errors", True),
    16: ("short_sends", True),
    17: ("free_fails", True),
    18: ("sender_flow_control_limits", True),
    19: ("unblocked_publications", True),
    20: ("unblocked_control_commands", True),
    21: ("possible_ttl_asymmetry", True),
    22: ("controllable_idle_strategy_status", False),
    23: ("loss_gap_fills", True),
    24: ("client_liveness_timeouts", True),
    25: ("resolution_changes", True),
    26: ("conductor_max_cycle_time_ns", False),
    27: ("conductor_cycle_time_threshold_exceeded", True),
    28: ("sender_max_cycle_time_ns", False),
    29: ("sender_cycle_time_threshold_exceeded", True),
    30: ("receiver_max_cycle_time_ns", False),
    31: ("receiver_cycle_time_threshold_exceeded", True),
    32: ("name_resolver_max_time_ns", False),
    33: ("name_resolver_time_threshold_exceeded", True),
    34: ("aeron_version", False),
    35: ("bytes_currently_mapped", False),
    36: ("retransmitted_bytes", True),
    37: ("retransmit_overflow", True),
    38: ("error_frames_received", True),
    39: ("error_frames_sent", True),
    40: ("publications_revoked", True),
    41: ("publication_images_revoked", True),
    42: ("images_rejected", True),
    43: ("control_protocol_version", False),
    44: ("status_messages_rejected", True),
    45: ("native_resource_agent_proxy_fails", True),
}

TYPE_METRICS: dict[int, str] = {
    1: "publisher_limit",
    2: "sender_position",
    3: "receiver_hwm",
    4: "subscriber_position",
    5: "receiver_position",
    6: "send_channel_status",
    7: "receive_channel_status",
    9: "sender_limit",
    10: "per_image",
    11: "client_heartbeat_ms",
    12: "publisher_position",
    13: "sender_back_pressure_events",
    14: "local_sockaddr_status",
    15: "name_resolver_neighbors",
    16: "name_resolver_cache_entries",
    17: "flow_control_receivers",
    18: "mdc_destinations",
    19: "sender_naks_received",
    20: "receiver_naks_sent",
    21: "name_resolver_bootstrap_neighbor",
}

CUMULATIVE_TYPES = frozenset({13, 19, 20})
"""Per-stream counts that only grow (back-pressure events, NAKs)."""
