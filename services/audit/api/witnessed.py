"""The ledger's witnesses, public (issue 17; R26): who cosigns the checkpoints, the quorum the service
aims for, how far each witness has cosigned, and the newest checkpoint cosigned by the quorum, a signed
note with the log's signature and the witnesses' cosignature lines (C2SP tlog-cosignature)."""
from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from services.audit.settings import Context
from shared.messaging.runtime import context_of

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])


class WitnessOut(BaseModel):
    name: str = Field(description="The witness's name, as in its cosignature lines.")
    vkey: str = Field(description="Its cosignature/v1 verifier key; confirm it with the witness's operator.")
    cosigned_size: int = Field(description="Tree size it last cosigned, as this process knows.")


class Witnessed(BaseModel):
    quorum: int = Field(description="How many witnesses must cosign a checkpoint (k of n).")
    witnesses: list[WitnessOut]
    cosigned_size: int = Field(description="Size of the newest checkpoint cosigned by the quorum; 0: none yet.")
    cosigned_note: str | None = Field(
        description="That checkpoint: the log's signed note plus the witnesses' cosignature lines, for "
                    "`python -m services.audit.verifier checkpoint --witnesses POLICY`; null until one is.")


@router.get("/witnesses", response_model=Witnessed,
            summary="The witnesses, their quorum and the newest checkpoint they cosigned.")
async def witnesses(request: Request) -> Witnessed:
    workers = context_of(request, Context).workers
    if workers is None:
        return Witnessed(quorum=0, witnesses=[], cosigned_size=0, cosigned_note=None)
    return Witnessed(
        quorum=workers.witness_quorum,
        witnesses=[WitnessOut(name=w.key.name, vkey=w.key.vkey, cosigned_size=w.cosigned_size)
                   for w in workers.witnesses],
        cosigned_size=workers.cosigned_size, cosigned_note=workers.cosigned_note)
