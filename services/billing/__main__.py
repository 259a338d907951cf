"""`python -m services.billing`: run the billing service."""
from shared.messaging.runtime import service_main
from services.billing.app import NAME, build
from services.billing.settings import Settings

service_main(NAME, build, Settings)
