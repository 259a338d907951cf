"""HTTP routes of pickup persons (R11, issue 16): a guardian names who else may collect their child and
revokes them."""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from services.enrollment.api.deps import ERRORS, actor, uow
from services.enrollment.domain import Actor
from services.enrollment.domain.reference import Mobile
from services.enrollment.domain.values import Id, PersonName, Text
from services.enrollment.handlers import pickups as h
from shared.messaging.http import RequestBody

router = APIRouter(prefix="/v1", tags=["pickup persons"], responses=ERRORS)


class PickupPersonIn(RequestBody):

    name: PersonName = Field(description="Name checked at the gate (R11).")
    relation: Text = Field(description="Relation to the child, e.g. 祖父, 邻居.")
    phone: Mobile = Field(description="Mainland mobile number; only its mask is kept and sent.")
    valid_until: date = Field(description="Last school-local day they may collect the child.")

class PickupPersonOut(BaseModel):
    pickup_person_id: str
    student_id: str
    name: str
    relation: str
    phone_masked: str
    valid_until: date
    revoked: bool


@router.post("/students/{student_id}/pickup-persons", status_code=201, response_model=PickupPersonOut,
             summary="A guardian authorises someone to collect the child until a day (R11).")
async def authorise(student_id: Id, body: PickupPersonIn, request: Request,
                    who: Actor = Depends(actor)) -> PickupPersonOut:
    async with uow(request) as u:
        e = await h.authorise_pickup(u, who, student_id, name=body.name, relation=body.relation, phone=body.phone,
                                     valid_until=body.valid_until)
    return PickupPersonOut(**e.model_dump(include=set(PickupPersonOut.model_fields)), revoked=False)


@router.delete("/students/{student_id}/pickup-persons/{pickup_person_id}", response_model=PickupPersonOut,
               summary="A guardian revokes a pickup person; attendance refuses them from then on (R11).")
async def revoke(student_id: Id, pickup_person_id: Id, request: Request, who: Actor = Depends(actor)) -> PickupPersonOut:
    async with uow(request) as u:
        e = await h.revoke_pickup(u, who, student_id, pickup_person_id)
    return PickupPersonOut(**e.model_dump(include=set(PickupPersonOut.model_fields)), revoked=True)
