"""CPU time and resident memory of a process tree (a gunicorn master and its workers), from /proc."""
from __future__ import annotations

import os
import resource
from dataclasses import dataclass

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def own_cpu() -> float:
    """CPU seconds (user + system) of the calling process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode("latin-1")
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its last ')'
    return raw[raw.rfind(")") + 2:].split()


def children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    found.extend(int(p) for p in f.read().split())
            except OSError:
                pass
    except OSError:
        pass
    return found


def tree(pid: int) -> list[int]:
    """The process and its direct children (a gunicorn master and its workers)."""
    return [pid] + children(pid)


def cpu_seconds(pid: int) -> float:
    fields = _stat(pid)
    if fields is None:
        return 0.0
    # after the command: state(3) ppid(4) ... utime(14) stime(15) → indexes 11, 12 here
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except OSError:
        return 0


@dataclass
class TreeSample:
    pids: tuple[int, ...]
    cpu: float
    rss: int


def sample(pid: int) -> TreeSample:
    pids = tree(pid)
    return TreeSample(tuple(pids), sum(cpu_seconds(p) for p in pids), sum(rss_bytes(p) for p in pids))
