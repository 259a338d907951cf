"""Audit's settings: the common ones plus what only audit reads."""
from shared.settings import CommonSettings


class Settings(CommonSettings):
    http_port: int = 8005
