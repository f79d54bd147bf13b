"""The shape the recorder and replayer agents share: sessions handed over by the conductor
through ``added``, run every duty cycle, and handed back through ``closed`` once done (both
thread-safe queues, so the agent may run on its own thread)."""

from __future__ import annotations

import queue
from typing import Generic, Protocol, TypeVar


class Session(Protocol):
    @property
    def done(self) -> bool: ...

    def do_work(self) -> int: ...


S = TypeVar("S", bound=Session)


class SessionAgent(Generic[S]):
    """An agent running sessions of one kind; subclasses name the role and close sessions."""

    ROLE = "archive-sessions"

    def __init__(self) -> None:
        self.added: queue.SimpleQueue[S] = queue.SimpleQueue()
        self.closed: queue.SimpleQueue[S] = queue.SimpleQueue()
        self.sessions: list[S] = []

    def role_name(self) -> str:
        return self.ROLE

    def on_start(self) -> None:
        pass

    def on_close(self) -> None:
        for session in self.sessions:
            self.close_session(session)

    def close_session(self, session: S) -> None:
        """Release a session still running when the agent closes."""

    def do_work(self) -> int:
        work = 0
        while True:
            try:
                self.sessions.append(self.added.get_nowait())
                work += 1
            except queue.Empty:
                break
        for session in list(self.sessions):
            work += session.do_work()
            if session.done:
                self.sessions.remove(session)
                self.closed.put(session)
        return work


__all__ = ["Session", "SessionAgent"]
