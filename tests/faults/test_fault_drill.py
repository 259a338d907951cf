"""The fault drill, bounded, in `make test`: a small school day streamed through the five services (billing
in two replicas) on a broker and a cluster of the test's own, while audit is killed inside its start-up
migrations, attendance and notification are SIGKILLed mid-stream (notification once while the SMS
provider holds calls it has not answered), the billing replica publishing the outbox is killed, the broker
is kill -9'd and PostgreSQL restarted immediately; every fault is recovered from, and each record,
message and payment has exactly one effect (R11, R15, R22, R24). `make faults` runs the full schedule."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults import drill

pytestmark = pytest.mark.integration

STUDENTS = 600
BOUNDED = ("migrate:audit", "sigkill:attendance", "mid-send", "replica:billing", "kafka-kill", "pg-restart",
           "sigkill:notification")


def test_a_school_day_through_killed_services_broker_and_database_loses_and_doubles_nothing(tmp_path: Path) -> None:
    outcome = drill.run(drill.Config(students=STUDENTS, schools=4, rate=25, faults=BOUNDED, replicas={"billing": 2},
                                     gap=2, state=tmp_path / "drill", recover_timeout=180, settle_timeout=300,
                                     say=lambda line: print(line, flush=True)))
    print(report := drill.table(outcome))
    # Every effect was looked for: both records, four messages and a ledger entry per student.
    kinds = ("check_in", "check_out", "ledger", *(f"sms:{k}" for k in drill.KINDS))
    assert outcome.checked == {k: STUDENTS for k in kinds}
    assert [f.name for f in outcome.faults] == list(BOUNDED)
    assert [f.name for f in outcome.faults if not f.recovered] == []
    assert (outcome.lost, outcome.duplicated) == (0, 0), report
