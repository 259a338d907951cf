"""`python -m services.audit`: run the audit service."""
from shared.messaging.runtime import service_main
from services.audit.app import NAME, build
from services.audit.settings import Settings

service_main(NAME, build, Settings)
