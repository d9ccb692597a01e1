"""One process trains a run at a time: an advisory lock (flock) on the run folder itself, held from the moment a
Trainer first touches an existing run (before clearing stale temporaries, wiping or resuming it) until its fit
ends. A second process that opens the same run — a `--resume` typed twice in two terminals — gets one line
instead of two trainings writing the same checkpoints. Locks are per process: Trainers of one process share
them (tests and notebooks build several on one folder). Where flock is missing (Windows) or unsupported by the
file system, runs go on unguarded."""
from __future__ import annotations

import errno
import os
from typing import Dict, List, Optional, Tuple

from ..errors import GanforgeError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None

_HELD: Dict[Tuple[int, int], List[int]] = {}  # (device, inode) of a run folder -> [fd, holders] in this process


class RunLock:
    """The lock one Trainer holds on its run folder (re-acquired when the folder is replaced, e.g. --overwrite)."""

    def __init__(self):
        self.key: Optional[Tuple[int, int]] = None

    def acquire(self, run_dir: str) -> None:
        if fcntl is None:
            return
        st = os.stat(run_dir)
        key = (st.st_dev, st.st_ino)
        if key == self.key:
            return
        self.release()
        if key in _HELD:
            _HELD[key][1] += 1
            self.key = key
            return
        fd = os.open(run_dir, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise GanforgeError(f"{run_dir} is being trained by another ganforge process: let it finish, or "
                                    f"stop it (Ctrl-C) first") from None
            return  # a file system without locks: go on unguarded
        _HELD[key] = [fd, 1]
        self.key = key

    def release(self) -> None:
        if self.key is None:
            return
        held = _HELD.get(self.key)
        if held is not None:
            held[1] -= 1
            if held[1] <= 0:
                os.close(held[0])
                del _HELD[self.key]
        self.key = None
