"""`python -m services.attendance`: run the attendance service."""
from shared.messaging.runtime import service_main
from services.attendance.app import NAME, build
from services.attendance.settings import Settings

service_main(NAME, build, Settings)
