"""`python -m services.attendance`: run the attendance service."""
from services.attendance.app import NAME, build
from services.attendance.settings import Settings
from shared.messaging.runtime import service_main

service_main(NAME, build, Settings)
