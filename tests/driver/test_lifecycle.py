"""The shared lifecycle: one state table for IPC publications, network publications and images."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from aeronpy.driver.ipc_publication import PublicationState
from aeronpy.driver.lifecycle import TRANSITIONS, IllegalStateChange, LifecycleState, change_state
from aeronpy.driver.network_publication import NetworkPublicationState
from aeronpy.driver.publication_image import ImageState


@dataclass
class Resource:
    state: LifecycleState = LifecycleState.ACTIVE
    time_of_last_state_change_ns: int = 0


def test_every_resource_kind_uses_the_one_table() -> None:
    assert PublicationState is NetworkPublicationState is ImageState is LifecycleState


def test_the_normal_path_and_the_revoke_shortcut() -> None:
    r = Resource()
    change_state(r, LifecycleState.DRAINING, 10)
    change_state(r, LifecycleState.LINGER, 20)
    change_state(r, LifecycleState.DONE)
    assert r.state is LifecycleState.DONE and r.time_of_last_state_change_ns == 20
    revoked = Resource()
    change_state(revoked, LifecycleState.LINGER, 5)
    assert revoked.state is LifecycleState.LINGER


@pytest.mark.parametrize("start", list(LifecycleState))
@pytest.mark.parametrize("target", list(LifecycleState))
def test_only_the_table_s_steps_are_allowed(start: LifecycleState, target: LifecycleState) -> None:
    r = Resource(start, 1)
    if target in TRANSITIONS[start]:
        change_state(r, target, 2)
        assert r.state is target and r.time_of_last_state_change_ns == 2
    else:
        with pytest.raises(IllegalStateChange, match=f"{start.name} -> {target.name}"):
            change_state(r, target, 2)
        assert r.state is start and r.time_of_last_state_change_ns == 1
