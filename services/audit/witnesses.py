"""Collecting witness cosignatures over HTTP (C2SP tlog-witness add-checkpoint).

Each witness is sent the new signed checkpoint with a consistency proof from the size it last cosigned;
a witness that answers 409 tells that size, and the request is made again from it once. A witness that is
down or refuses is reported and retried with the next checkpoint: it delays cosigning, never appends.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import httpx

from services.audit.ledger.witness import WitnessKey, add_checkpoint_body, cosignatures, load_witness_key

log = logging.getLogger(__name__)

ProofSource = Callable[[int, int], Awaitable[list[bytes]]]
"""(old size, new size) -> RFC 9162 consistency proof between the log's trees of those sizes."""


class WitnessRefused(RuntimeError):
    """The witness answered with an error; `status` is its HTTP status (422: the proof did not verify,
    403: unknown log or bad log signature, 409: its known size differs, given in `known_size`)."""

    def __init__(self, witness: str, status: int, text: str, known_size: int | None = None) -> None:
        super().__init__(f"witness {witness} refused the checkpoint: {status} {text.strip()}")
        self.status = status
        self.known_size = known_size


@dataclass
class Witness:
    """One witness: where it answers, its cosignature key, and the size it last cosigned for this log."""

    url: str
    key: WitnessKey
    cosigned_size: int = 0
    client: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=10.0))

    @classmethod
    def of(cls, url: str, vkey: str) -> Witness:
        return cls(url.rstrip("/"), load_witness_key(vkey))

    async def add_checkpoint(self, old_size: int, proof: Sequence[bytes], signed_note: str) -> str:
        """One add-checkpoint request; the verified cosignature line, or WitnessRefused."""
        r = await self.client.post(f"{self.url}/add-checkpoint", content=add_checkpoint_body(old_size, proof,
                                                                                             signed_note))
        if r.status_code == 409 and r.text.strip().isdigit():
            raise WitnessRefused(self.key.name, 409, r.text, known_size=int(r.text.strip()))
        if r.status_code != 200:
            raise WitnessRefused(self.key.name, r.status_code, r.text)
        note = signed_note + "".join(line + "\n" for line in r.text.splitlines() if line)
        [cosig] = [c for c in cosignatures(note, [self.key])] or [None]
        if cosig is None:
            raise WitnessRefused(self.key.name, r.status_code, "answered no cosignature of its own key")
        return cosig.line

    async def cosign(self, signed_note: str, size: int, proof_of: ProofSource) -> str:
        """Cosign the checkpoint of `size`, from the size this witness last cosigned (learnt on 409)."""
        for attempt in range(2):
            old = min(self.cosigned_size, size)
            proof = await proof_of(old, size) if 0 < old < size else []
            try:
                line = await self.add_checkpoint(old, proof, signed_note)
            except WitnessRefused as exc:
                if exc.known_size is None or attempt or exc.known_size == self.cosigned_size:
                    raise
                self.cosigned_size = exc.known_size
                continue
            self.cosigned_size = size
            return line
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        await self.client.aclose()


async def collect(witnesses: Sequence[Witness], signed_note: str, size: int,
                  proof_of: ProofSource) -> dict[str, str]:
    """Ask every witness; the cosignature lines of those that cosigned, by witness name."""
    async def one(w: Witness) -> str | None:
        try:
            return await w.cosign(signed_note, size, proof_of)
        except (httpx.HTTPError, WitnessRefused) as exc:
            log.warning("witness did not cosign; retried with the next checkpoint",
                        extra={"witness": w.key.name, "tree_size": size, "reason": str(exc)})
            return None

    answers = await asyncio.gather(*(one(w) for w in witnesses))
    return {w.key.name: line for w, line in zip(witnesses, answers) if line is not None}
