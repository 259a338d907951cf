"""Notification's composition root: wires settings, runtime, handlers and routes into one ASGI app."""
from __future__ import annotations

from fastapi import FastAPI

from shared.messaging.runtime import Runtime, build_runtime, create_app
from services.notification import api
from services.notification.db import NotificationUoW
from services.notification.handlers import HANDLERS
from services.notification.settings import Settings

NAME = "notification"


def build(settings: Settings | None = None) -> tuple[FastAPI, Runtime]:
    settings = settings or Settings()
    rt = build_runtime(NAME, settings, NotificationUoW)
    app = create_app(rt, handlers=HANDLERS, routers=[api.router], title="Beilei notification",
                     description="Messages to guardians by SMS and app push (R22, R23).")
    return app, rt

