"""CPU seconds and peak memory of running processes, read from /proc (Linux), for benchmark reports."""
from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

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


def own_cpu(pid: int) -> float:
    """User + system CPU of one live process alone (not its children); 0 if it has gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def snapshot(pids: Iterable[int]) -> dict[int, float]:
    return {p: own_cpu(p) for p in pids}


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU spent between two snapshots by the processes alive at the second one (a process that started
    in between counts from zero; one that ended in between is not seen)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def kafka_pid(state: Path | None = None) -> int | None:
    """The local broker's pid, from the pid file infra/local/kafka.sh keeps under the state folder
    (BEILEI_STATE, default <repo>/.local); None when Kafka runs elsewhere (a container, a given address)."""
    root = state or Path(os.environ.get("BEILEI_STATE") or Path(__file__).resolve().parents[1] / ".local")
    try:
        pid = int((root / "kafka" / "pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None
