"""Notification's settings: the common ones plus what only notification reads."""
from shared.settings import CommonSettings


class Settings(CommonSettings):
    http_port: int = 8004
