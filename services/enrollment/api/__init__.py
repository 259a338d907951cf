"""Enrollment's HTTP API: routes translate requests into commands and results into responses; every
route but the public disclosure needs a bearer token (R27)."""
from fastapi import FastAPI

from services.enrollment.api import applications, coercion, errors, pickups, programmes, reference, reports

routers = [reference.router, programmes.router, programmes.public_router, applications.router, reports.router,
           pickups.router, coercion.router]


def install(app: FastAPI) -> None:
    """Exception handlers that turn refusals into 4xx replies with reasons."""
    errors.install(app)


__all__ = ["install", "routers"]
