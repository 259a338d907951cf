"""`python -m services.portal`: run the portal."""
from services.portal.app import NAME, build
from services.portal.settings import Settings
from shared.messaging.runtime import service_main

service_main(NAME, build, Settings)
