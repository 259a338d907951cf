"""`python -m services.enrollment`: run the enrollment service."""
from shared.messaging.runtime import service_main
from services.enrollment.app import NAME, build
from services.enrollment.settings import Settings

service_main(NAME, build, Settings)
