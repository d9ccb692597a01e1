"""Progress display for long loops: tqdm's bar on a terminal, a plain line every 10 % anywhere else.

A tqdm bar redraws itself with carriage returns; written into a log file or a CI console (stderr not a terminal)
that is thousands of lines. :func:`progress` gives the bar only on a terminal, and otherwise a
:class:`PlainProgress` with the same small interface (``update``, ``set_postfix``, ``close``, iteration) that
writes one line per ``every`` of the total.
"""
from __future__ import annotations

import sys
import time
from typing import Iterable, Optional


def _is_tty(stream) -> bool:
    """A terminal, or a Jupyter kernel's stream (where tqdm.auto draws a widget, not lines)."""
    if type(stream).__module__.startswith("ipykernel"):
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class PlainProgress:
    """tqdm's interface, writing `desc: 40% 400/1000 it, 12.5 it/s, 0:32 elapsed, key=value ...` each time the
    count crosses another `every` fraction of `total` (and at the end). Without a total it stays silent."""

    def __init__(self, iterable: Optional[Iterable] = None, total: Optional[int] = None, initial: int = 0,
                 desc: str = "", unit: str = "it", file=None, every: float = 0.1):
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.total, self.n, self.desc, self.unit = total, int(initial), desc, unit
        self.file = file if file is not None else sys.stderr
        self.every = every
        self.postfix = ""
        self._start, self._start_n = time.perf_counter(), self.n
        self._shown = self._bucket(self.n)  # the resumed position is not reported again
        self._closed = False

    def _bucket(self, n: int) -> int:
        if not self.total:
            return 0
        return int(min(n, self.total) / self.total / self.every + 1e-9)

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.update(1)
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        bucket = self._bucket(self.n)
        if bucket > self._shown:
            self._shown = bucket
            self._write()

    def set_postfix(self, values=None, refresh: bool = True, **kwargs) -> None:
        items = {**(values or {}), **kwargs}
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def _write(self) -> None:
        elapsed = time.perf_counter() - self._start
        rate = (self.n - self._start_n) / elapsed if elapsed > 0 else 0.0
        mins, secs = divmod(int(elapsed), 60)
        line = (f"{self.desc + ': ' if self.desc else ''}{100 * self.n / self.total:3.0f}% {self.n}/{self.total} "
                f"{self.unit}, {rate:.3g} {self.unit}/s, {mins}:{secs:02d} elapsed")
        self.file.write(line + (f", {self.postfix}" if self.postfix else "") + "\n")
        self.file.flush()

    def close(self) -> None:
        self._closed = True


class _Silent(PlainProgress):
    """Progress switched off: the same interface, nothing written."""

    def update(self, n: int = 1) -> None:
        self.n += n


def progress(iterable: Optional[Iterable] = None, *, total: Optional[int] = None, initial: int = 0, desc: str = "",
             unit: str = "it", disable: bool = False, file=None, every: float = 0.1, **tqdm_kwargs):
    """A progress display over `iterable` (or updated by hand up to `total`): a tqdm bar when `file` (default
    stderr) is a terminal, else a :class:`PlainProgress` writing a line per `every` of the total; `disable` keeps
    it silent. Extra keyword arguments go to tqdm."""
    stream = file if file is not None else sys.stderr
    if disable:
        return _Silent(iterable, total, initial, desc, unit, stream, every)
    if _is_tty(stream):
        try:
            from tqdm.auto import tqdm
        except ImportError:
            pass
        else:
            return tqdm(iterable, total=total, initial=initial, desc=desc, unit=unit, file=file, **tqdm_kwargs)
    return PlainProgress(iterable, total, initial, desc, unit, stream, every)
