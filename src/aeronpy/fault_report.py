"""A clear last word when a memory-mapped file faults (SIGBUS).

Aeron's files are memory-mapped: if one is truncated or deleted by another process, or a
sparse log on a full tmpfs cannot get a page, the access raises SIGBUS, which Python cannot
turn into an exception.  :func:`install_sigbus_report` makes such a crash say why: one line
naming the cause, then Python's :mod:`faulthandler` traceback, then the process ends as it
would have.  The ``aeronpy`` commands install it; applications may call it at start.
"""

from __future__ import annotations

import faulthandler

from aeronpy import _logbuffer

__all__ = ["install_sigbus_report"]


def install_sigbus_report() -> bool:
    """Install the report (idempotent); True when this call installed it."""
    if not faulthandler.is_enabled():
        faulthandler.enable()
    return _logbuffer.install_sigbus_handler()
