"""Enrollment's composition root: wires settings, runtime, handlers and routes into one ASGI app."""
from __future__ import annotations

from fastapi import FastAPI

from services.enrollment import api
from services.enrollment.db import EnrollmentUoW
from services.enrollment.handlers import HANDLERS, digest_key
from services.enrollment.settings import Context, Settings
from shared.messaging.runtime import Runtime, build_runtime, create_app
from shared.privacy import Sealer

NAME = "enrollment"


def build(settings: Settings | None = None) -> tuple[FastAPI, Runtime]:
    settings = settings or Settings()
    rt = build_runtime(NAME, settings, EnrollmentUoW)
    rt.context = Context(sealer=Sealer(settings.contact_sealing_key), digest_key=digest_key(settings.contact_sealing_key))
    app = create_app(rt, handlers=HANDLERS, routers=api.routers, title="Beilei enrollment",
                     description="Programmes, public disclosure and the voluntary application workflow "
                                 "(R1, R4-R10, R27, R28, R30). Bearer tokens carry a role (guardian, school, "
                                 "district, city) and a scope; each role sees and does only its own.")
    api.install(app)
    return app, rt
