"""The library's messages. Each module logs to ``logging.getLogger(__name__)`` (all under
"drscaling") instead of printing; an application (a notebook, the command line) shows them with
:func:`show_messages`. Tests see them through pytest's ``caplog``."""

from __future__ import annotations

import logging
import sys


class _CurrentStdout(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is at the time (a notebook's output, a captured stream)."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):  # StreamHandler.__init__ sets it; the property decides
        pass


def show_messages(level: int = logging.INFO) -> logging.Logger:
    """Show the library's messages of ``level`` and above on standard output, as plain lines.
    Calling it again changes the level and adds no second handler."""
    logger = logging.getLogger("drscaling")
    logger.setLevel(level)
    if not any(isinstance(h, _CurrentStdout) for h in logger.handlers):
        handler = _CurrentStdout()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    return logger


__all__ = ["show_messages"]
