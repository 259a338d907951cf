"""The targets PickupSurge is held to (the city's evening in real time on 2 cores), each judged against a
run's measured figures: one line per target with the value, the goal and pass or fail."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

CITY_RATE = 310.0  # check-outs/s a city's 508 school gates send in a 30-minute evening
CITY_COMPLETED = 305.0  # completed/s the platform must keep up with at that rate
CITY_STUDENTS = 557_000
CITY_SETUP_SECONDS = 600.0  # the city's enrollments consumed by every service in 10 minutes


@dataclass(frozen=True)
class Verdict:
    target: str
    measured: float
    goal: float
    unit: str
    at_most: bool  # the goal is a ceiling (latency, CPU, memory, losses), otherwise a floor

    @property
    def passed(self) -> bool:
        if math.isnan(self.measured):
            return False
        return self.measured <= self.goal if self.at_most else self.measured >= self.goal

    def line(self) -> str:
        sign = "<=" if self.at_most else ">="
        return (f"{'PASS' if self.passed else 'FAIL'}  {self.target:<46} {self.measured:>10,.2f} {self.unit:<8} "
                f"(target {sign} {self.goal:,.2f})")

    def as_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def ratio(platform: float, baseline: float) -> float:
    return platform / baseline if baseline > 0 else float("nan")


def evaluate(result: dict) -> list[Verdict]:
    """`result` as PickupSurge writes it: platform phases (offered, saturation), per-service CPU and RSS,
    the baseline's phases, losses and duplicates on the platform's side."""
    p, b = result["platform"], result["baseline"]
    offered, saturation = p["phases"]
    rate = result["rate"]
    completed_goal = CITY_COMPLETED * rate / CITY_RATE  # 305/s at 310/s offered; scaled when --rate differs
    return [
        Verdict(f"completed at offered {rate:g}/s (single-record POSTs)", offered["per_second"], completed_goal, "/s", False),
        Verdict("p50 gate to guardian, offered", offered["p50_ms"], 150, "ms", True),
        Verdict("p99 gate to guardian, offered", offered["p99_ms"], 1000, "ms", True),
        Verdict("p99.9 gate to guardian, offered", offered["p999_ms"], 2000, "ms", True),
        Verdict("saturation, batches of 50", saturation["per_second"], 3000, "/s", False),
        Verdict("CPU s per 1,000 check-outs, all six services", p["cpu_s_per_1k_total"], 0.8, "s", True),
        Verdict("platform/baseline, single-record path", ratio(offered["per_second"], b["offered"]["per_second"]),
                0.5, "x", False),
        Verdict("platform/baseline, batch-of-50 saturation",
                ratio(saturation["per_second"], b["saturation"]["per_second"]), 0.5, "x", False),
        Verdict("peak RSS, largest service", max(p["peak_rss_mb"].values(), default=float("nan")), 300, "MB", True),
        Verdict("effects lost", p["lost"], 0, "", True),
        Verdict("effects duplicated", p["duplicated"], 0, "", True),
        setup_verdict(p),
    ]


def setup_verdict(p: dict) -> Verdict:
    """The city's setup (557,000 enrollments consumed by every service in 10 minutes), in proportion."""
    goal = CITY_SETUP_SECONDS * p.get("students", CITY_STUDENTS) / CITY_STUDENTS
    return Verdict("setup: enrollments consumed by every service", p.get("setup_seconds", float("nan")), goal, "s", True)
