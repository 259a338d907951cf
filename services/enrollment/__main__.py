"""`python -m services.enrollment`: run the enrollment service."""
from services.enrollment.app import NAME, build
from services.enrollment.settings import Settings
from shared.messaging.runtime import service_main

service_main(NAME, build, Settings)
