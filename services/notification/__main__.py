"""`python -m services.notification`: run the notification service."""
from shared.messaging.runtime import service_main
from services.notification.app import NAME, build
from services.notification.settings import Settings

service_main(NAME, build, Settings)
