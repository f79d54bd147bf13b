"""cluster-node's doorbell settings (aeronpy.cluster.doorbell, aeronpy.cluster.doorbell.backoff)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aeronpy.cluster.node import (
    DOORBELL_BACKOFF_DEFAULT,
    ClusterNode,
    pop_doorbell_settings,
)
from aeronpy.concurrent import doorbell
from aeronpy.concurrent.doorbell import DoorbellIdleStrategy
from aeronpy.concurrent.idle_strategy import idle_strategy_from_name
from aeronpy.errors import ConfigurationError

MEMBERS = "0,localhost:1,localhost:2,localhost:3,localhost:0,localhost:5"


def test_defaults_on_with_the_cluster_backoff() -> None:
    props = {"aeron.x": "1"}
    assert pop_doorbell_settings(props) == (True, DOORBELL_BACKOFF_DEFAULT)
    assert props == {"aeron.x": "1"}
    props = {"aeronpy.cluster.doorbell": "false", "aeronpy.cluster.doorbell.backoff": ""}
    assert pop_doorbell_settings(props) == (False, "")
    assert props == {}  # never handed on to the driver or the contexts


@pytest.mark.parametrize(("props", "named"), [
    ({"aeronpy.cluster.doorbell": "maybe"}, "aeronpy.cluster.doorbell"),
    ({"aeronpy.cluster.doorbell.backoff": "1-2-3"}, "aeronpy.cluster.doorbell.backoff"),
])
def test_bad_values_name_the_property(props: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named.replace(".", r"\.")):
        pop_doorbell_settings(dict(props))


def test_node_reads_them_before_starting(tmp_path: Path) -> None:
    node = ClusterNode(0, MEMBERS, str(tmp_path), [object()], {"aeronpy.cluster.doorbell": "false"})
    assert node.doorbell is False and "aeronpy.cluster.doorbell" not in node.properties
    with pytest.raises(ConfigurationError, match="doorbell.backoff"):
        ClusterNode(0, MEMBERS, str(tmp_path), [object()], {"aeronpy.cluster.doorbell.backoff": "x"})


def test_installed_backoff_replaces_the_agents_values() -> None:
    doorbell.install(DOORBELL_BACKOFF_DEFAULT)
    try:
        s = idle_strategy_from_name("backoff")
        assert isinstance(s, DoorbellIdleStrategy)
        assert (s.max_spins, s.max_yields, s.min_park_period_ns, s.max_park_period_ns, s.deep_park_after,
                s.max_deep_park_period_ns) == (1, 0, 10_000, 1_000_000, 10, 16_000_000)
    finally:
        doorbell.uninstall()


def test_no_deep_parks_when_the_driver_or_services_live_elsewhere(tmp_path: Path) -> None:
    joined = ClusterNode(0, MEMBERS, str(tmp_path), [object()], {}, aeron_dir=str(tmp_path / "a"),
                         launch_driver=False)
    assert joined.doorbell is True and joined.doorbell_backoff == ""
    external = ClusterNode(0, MEMBERS, str(tmp_path), [object()], {"aeron.cluster.service.count": "2"})
    assert external.doorbell_backoff == ""
    own = ClusterNode(0, MEMBERS, str(tmp_path), [object()], {})
    assert own.doorbell_backoff == DOORBELL_BACKOFF_DEFAULT
    told = ClusterNode(0, MEMBERS, str(tmp_path), [object()], {"aeronpy.cluster.doorbell.backoff": "1-0-1us-1ms"},
                       launch_driver=False)
    assert told.doorbell_backoff == "1-0-1us-1ms"
