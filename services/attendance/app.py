"""Attendance's composition root: wires settings, runtime, handlers and routes into one ASGI app."""
from __future__ import annotations

from fastapi import FastAPI

from shared.messaging.runtime import Runtime, build_runtime, create_app
from services.attendance import api
from services.attendance.db import AttendanceUoW
from services.attendance.handlers import HANDLERS
from services.attendance.settings import Settings

NAME = "attendance"


def build(settings: Settings | None = None) -> tuple[FastAPI, Runtime]:
    rt = build_runtime(NAME, settings or Settings(), AttendanceUoW)
    app = create_app(rt, handlers=HANDLERS, routers=[api.router], title="Beilei attendance",
                     description="Check-in, check-out and handover, absence, extended care, exercise (R11-R15).")
    return app, rt
