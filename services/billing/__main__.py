"""`python -m services.billing`: run the billing service."""
from services.billing.app import NAME, build
from services.billing.settings import Settings
from shared.messaging.runtime import service_main

service_main(NAME, build, Settings)
