"""Attendance's settings: the common ones plus what only attendance reads."""
from shared.settings import CommonSettings


class Settings(CommonSettings):
    http_port: int = 8002
