"""`python -m services.audit.verifier`: the offline ledger verifier's command line."""
import sys

from services.audit.verifier import main

sys.exit(main())
