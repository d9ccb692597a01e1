"""Ctrl-C / SIGTERM become a request to stop at the next iteration boundary (never mid-update).

A second Ctrl-C raises KeyboardInterrupt at once, for a user who really wants out.
"""
from __future__ import annotations

import logging
import signal
import threading

log = logging.getLogger(__name__)


class StopRequest:
    def __init__(self):
        self.requested = False
        self.signal_name = ""
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        self.signal_name = signal.Signals(signum).name
        log.warning("%s received: finishing this iteration, then saving a checkpoint (Ctrl-C again to abort)",
                    self.signal_name)

    def request(self, reason: str = "request") -> None:
        self.requested = True
        self.signal_name = reason

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
        return False
