"""``ConsensusModule``: the consensus module agent on its own thread (or an agent for a
composite runner), with an orderly close."""

from __future__ import annotations

import logging
from typing import Any

from aeronpy.cluster.consensus.agent import ConsensusModuleAgent
from aeronpy.cluster.consensus.context import ConsensusModuleContext
from aeronpy.concurrent.agent import AgentRunner
from aeronpy.concurrent.idle_strategy import idle_strategy_from_name

__all__ = ["ConsensusModule"]

log = logging.getLogger("aeronpy.cluster")


class ConsensusModule:
    """One member's consensus module.  ``launch`` starts it on a thread; ``close`` stops it."""

    def __init__(self, ctx: ConsensusModuleContext) -> None:
        ctx.validate()
        self.ctx = ctx
        self.agent = ConsensusModuleAgent(ctx)
        self.errors: list[BaseException] = []
        self.runner: AgentRunner | None = None

    @classmethod
    def launch(cls, ctx: ConsensusModuleContext) -> ConsensusModule:
        cm = cls(ctx)
        cm.start()
        return cm

    def _on_error(self, error: BaseException) -> None:
        self.errors.append(error)
        del self.errors[:-100]
        if self.ctx.error_handler is not None:
            self.ctx.error_handler(error)
        else:
            log.warning("consensus module %d: %s", self.ctx.member_id, error)

    def start(self) -> None:
        self.runner = AgentRunner(idle_strategy_from_name(self.ctx.idle_strategy), self._on_error, self.agent)
        self.runner.start()

    @property
    def is_running(self) -> bool:
        return self.runner is not None and self.runner.is_running

    @property
    def is_closed(self) -> bool:
        return self.runner is not None and self.runner.is_closed

    def close(self, timeout_s: float = 10.0) -> None:
        self.agent.closing = True
        if self.runner is not None:
            self.runner.close(timeout_s)
        else:
            self.agent.on_close()

    def __enter__(self) -> ConsensusModule:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
