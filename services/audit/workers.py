"""The audit process's background steps, run by the kit as workers: sign a checkpoint every interval
while entries arrive, run the checks over what the checkpoints cover (R24, R25), and gather the
witnesses' cosignatures. Each step is one transaction; a failed step is counted, logged and retried by
the kit, never fatal. Knows no rule itself: it calls the handlers."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import get_args

from prometheus_client import CollectorRegistry, Counter, Gauge

from services.audit.db import AuditUoW
from services.audit.handlers import CheckPolicy, publish_checkpoint, run_checks
from services.audit.handlers.proofs import consistency_proof
from services.audit.ledger.checkpoint import NoteSigner
from services.audit.ledger.witness import with_cosignatures
from services.audit.witnesses import Witness, collect
from shared.contracts.audit import AnomalyCheckV2
from shared.messaging.runtime import Runtime
from shared.messaging.workers import Worker


class LedgerWorkers:
    """The checkpoint signer and the checker of one audit process, with their metrics."""

    def __init__(self, rt: Runtime, signer: NoteSigner, origin: str, policy: CheckPolicy, *,
                 checkpoint_seconds: float, check_seconds: float, registry: CollectorRegistry,
                 witnesses: Sequence[Witness] = (), witness_quorum: int | None = None,
                 witness_seconds: float = 1.0) -> None:
        self.rt = rt
        self.signer = signer
        self.origin = origin
        self.policy = policy
        self.checkpoint_seconds = checkpoint_seconds
        self.check_seconds = check_seconds
        self.tree_size = Gauge("beilei_audit_checkpoint_tree_size", "Entries under the latest signed checkpoint.",
                               registry=registry)
        self.checkpoints = Counter("beilei_audit_checkpoints", "Checkpoints signed and published.", registry=registry)
        self.checked = Counter("beilei_audit_entries_checked", "Ledger entries run through the R25 checks.",
                               registry=registry)
        self.failures = Counter("beilei_audit_worker_failures", "Failed checkpoint or check steps (retried).", ["worker"],
                                registry=registry)
        # What the operators' dashboard and alerts read (docs/operations.md, deploy/k8s).
        self.checkpoint_age = Gauge("beilei_ledger_checkpoint_age_seconds",
                                    "Seconds since the latest signed checkpoint.", registry=registry)
        self.checkpoint_interval = Gauge("beilei_ledger_checkpoint_interval_seconds",
                                         "The configured checkpoint interval.", registry=registry)
        self.checkpoint_interval.set(checkpoint_seconds)
        self.unsigned = Gauge("beilei_ledger_unsigned_entries",
                              "Entries appended since the latest signed checkpoint.", registry=registry)
        self.anomalies = Counter("beilei_anomalies_detected", "Anomalies raised, by rule (R25).", ["rule"],
                                 registry=registry)
        for rule in get_args(AnomalyCheckV2):
            self.anomalies.labels(rule)  # every rule's series exists from the start, at 0
        self._anomalies_seen: dict[str, int] | None = None
        # Witness cosigning (issue 17): the newest checkpoint cosigned by the quorum, kept with its lines.
        self.witnesses = list(witnesses)
        self.witness_quorum = len(self.witnesses) if witness_quorum is None else witness_quorum
        self.witness_seconds = witness_seconds
        self.cosigned_note: str | None = None
        self.cosigned_size = 0
        self._pending: tuple[int, dict[str, str]] = (0, {})
        self._cosigned_published_at: datetime | None = None
        self._started = datetime.now(UTC)
        self.cosigned_age = Gauge("beilei_ledger_cosigned_checkpoint_age_seconds",
                                  "Seconds since the newest checkpoint cosigned by the witness quorum was signed "
                                  "(since start while none is).", registry=registry)
        self.witness_size = Gauge("beilei_ledger_witness_cosigned_size",
                                  "Tree size each witness last cosigned.", ["witness"], registry=registry)
        for w in self.witnesses:
            self.witness_size.labels(w.key.name)

    def kit_workers(self) -> list[Worker]:
        """The loops the kit runs: checkpoints and checks every interval, cosigning only with witnesses."""
        loops = [Worker("checkpoint", step=self._round("checkpoint", self._checkpoint), interval=self.checkpoint_seconds),
                 Worker("checks", step=self._round("checks", self._checks), interval=self.check_seconds)]
        if self.witnesses:
            # A witness that is down delays cosigning only: checkpoints and appends go on, the next round asks again.
            loops.append(Worker("cosign", step=self._round("cosign", self._cosign), interval=self.witness_seconds))
        return loops

    async def _checkpoint(self, uow: AuditUoW, now: datetime) -> bool:
        cp = await publish_checkpoint(uow, self.signer, self.origin, now)
        await uow.commit()
        if cp is not None:
            self.tree_size.set(cp.tree_size)
            self.checkpoints.inc()
        latest = await uow.latest_checkpoint()
        size = await uow.ledger_size()
        self.unsigned.set(size - (latest.tree_size if latest else 0))
        if latest is not None and latest.published_at is not None:
            self.checkpoint_age.set((now - latest.published_at).total_seconds())
        return False

    async def _proof(self, old: int, new: int) -> list[bytes]:
        async with self.rt.uow_factory() as uow:
            return await consistency_proof(uow, old, new)  # type: ignore[arg-type]

    async def _cosign(self, uow: AuditUoW, now: datetime) -> bool:
        if self.cosigned_note is None and (kept := await uow.latest_cosigned()) is not None:
            self.cosigned_size, self.cosigned_note = kept  # a restart serves the kept one at once
        latest = await uow.latest_checkpoint()
        if latest is not None and latest.tree_size > self.cosigned_size:
            size, lines = self._pending
            if size != latest.tree_size:
                size, lines = self._pending = latest.tree_size, {}
            lines.update(await collect([w for w in self.witnesses if w.key.name not in lines],
                                       latest.signed_note, size, self._proof))
            for w in self.witnesses:
                self.witness_size.labels(w.key.name).set(w.cosigned_size)
            if len(lines) >= self.witness_quorum:
                self.cosigned_note = with_cosignatures(latest.signed_note, lines.values())
                self.cosigned_size = size
                await uow.insert_cosigned(size, self.cosigned_note, sorted(lines))
                await uow.commit()
                self._cosigned_published_at = latest.published_at or now
        since = self._cosigned_published_at or self._started
        self.cosigned_age.set(max(0.0, (now - since).total_seconds()))
        return False

    async def _checks(self, uow: AuditUoW, now: datetime) -> bool:
        if self._anomalies_seen is None:  # what was found before this process started is not news
            self._anomalies_seen = await uow.anomaly_totals()
        checked = await run_checks(uow, self.policy, now)
        await uow.commit()
        self.checked.inc(checked)
        counts = await uow.anomaly_totals()
        for rule, n in counts.items():
            if n > self._anomalies_seen.get(rule, 0):
                self.anomalies.labels(rule).inc(n - self._anomalies_seen.get(rule, 0))
        self._anomalies_seen = counts
        return checked >= self.policy.batch

    def _round(self, name: str, step: Callable[[AuditUoW, datetime], Awaitable[bool]]) -> Callable[[], Awaitable[bool]]:
        """One step in its own transaction (a step cancelled at shutdown rolls back); a failure is counted
        and raised to the kit, which logs it and retries with a growing pause."""

        async def one() -> bool:
            try:
                async with self.rt.uow_factory() as uow:
                    return await step(uow, datetime.now(UTC))  # type: ignore[arg-type]
            except Exception:
                self.failures.labels(name).inc()
                raise

        return one
