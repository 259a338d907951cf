"""CPU seconds and peak memory of running processes, read from /proc (Linux), for benchmark reports."""
from __future__ import annotations

import os
from dataclasses import dataclass

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Usage:
    cpu_s: float  # user + system, including children that have exited (PostgreSQL backends)
    peak_rss_mb: float


def usage(pid: int) -> Usage:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    peak_kb = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                peak_kb = int(line.split()[1])
    return Usage((utime + stime + cutime + cstime) / _TICK, peak_kb / 1024)


def tree_cpu(pid: int) -> float:
    """CPU of a process and its live descendants (a PostgreSQL postmaster and its backends)."""
    total = 0.0
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            total += usage(p).cpu_s
        except OSError:
            continue
        stack.extend(children.get(p, []))
    return total


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
