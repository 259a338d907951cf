"""PickupSurge's pass/fail line per target of the city's evening: each goal judged on the measured value,
in the right direction, and a figure that could not be measured never passes."""
from __future__ import annotations

import math

from bench.targets import evaluate


def result(**over: float) -> dict:
    offered = {"per_second": over.get("offered", 309.0), "p50_ms": over.get("p50", 80.0), "p99_ms": 700.0,
               "p999_ms": 1500.0}
    saturation = {"per_second": over.get("saturation", 3200.0), "p50_ms": 0.0, "p99_ms": 0.0, "p999_ms": 0.0}
    return {"rate": over.get("rate", 310.0),
            "platform": {"phases": [offered, saturation], "cpu_s_per_1k_total": over.get("cpu", 0.7),
                         "peak_rss_mb": {"attendance": 200.0, "notification": over.get("rss", 250.0)},
                         "lost": over.get("lost", 0), "duplicated": 0, "students": over.get("students", 557_000),
                         "setup_seconds": over.get("setup", 540.0)},
            "baseline": {"offered": {"per_second": 310.0}, "saturation": {"per_second": over.get("base_sat", 6000.0)}}}


def verdicts(**over: float) -> dict[str, bool]:
    return {v.target.split(" (")[0]: v.passed for v in evaluate(result(**over))}


def test_a_run_meeting_every_target_passes_every_line() -> None:
    assert all(verdicts().values())


def test_completing_fewer_than_305_a_second_at_310_offered_fails_keeping_up() -> None:
    assert not verdicts(offered=300.0)["completed at offered 310/s"]


def test_the_completed_goal_scales_with_a_different_offered_rate() -> None:
    line = evaluate(result(rate=100.0, offered=99.0))[0]
    assert line.goal == 305.0 * 100 / 310 and line.passed


def test_a_median_above_150_ms_fails_and_the_other_lines_are_untouched() -> None:
    v = verdicts(p50=151.0)
    assert not v["p50 gate to guardian, offered"] and v["p99 gate to guardian, offered"]


def test_half_the_baselines_saturation_passes_and_less_fails() -> None:
    assert verdicts(saturation=3200.0, base_sat=6400.0)["platform/baseline, batch-of-50 saturation"]
    assert not verdicts(saturation=3200.0, base_sat=6401.0)["platform/baseline, batch-of-50 saturation"]


def test_more_than_0_8_cpu_seconds_per_thousand_fails_the_cost_target() -> None:
    assert not verdicts(cpu=0.81)["CPU s per 1,000 check-outs, all six services"]


def test_one_service_above_300_mb_fails_the_memory_target() -> None:
    assert not verdicts(rss=301.0)["peak RSS, largest service"]


def test_the_city_set_up_in_more_than_ten_minutes_fails_and_a_smaller_run_is_held_to_its_share() -> None:
    assert verdicts(setup=599.0)["setup: enrollments consumed by every service"]
    assert not verdicts(setup=601.0)["setup: enrollments consumed by every service"]
    # 20,000 students: 600 s x 20,000 / 557,000 = 21.5 s
    assert verdicts(students=20_000, setup=21.0)["setup: enrollments consumed by every service"]
    assert not verdicts(students=20_000, setup=22.0)["setup: enrollments consumed by every service"]


def test_a_single_lost_effect_fails() -> None:
    assert not verdicts(lost=1)["effects lost"]


def test_a_figure_that_could_not_be_measured_fails() -> None:
    assert not verdicts(p50=math.nan)["p50 gate to guardian, offered"]


def test_each_line_prints_the_verdict_the_value_and_the_goal() -> None:
    line = evaluate(result(p50=151.0))[1].line()
    assert line.startswith("FAIL") and "151.00" in line and "<= 150.00" in line
