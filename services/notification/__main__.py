"""`python -m services.notification`: run the notification service."""
from services.notification.app import NAME, build
from services.notification.settings import Settings
from shared.messaging.runtime import service_main

service_main(NAME, build, Settings)
