"""`python -m services.audit`: run the audit service."""
from services.audit.app import NAME, build
from services.audit.settings import Settings
from shared.messaging.runtime import service_main

service_main(NAME, build, Settings)
