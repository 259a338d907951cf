"""The portal's HTTP room: public pages (public.py), sign-in (signin.py), the parent's view (parent.py), the
bureau's dashboard (bureau.py) and the auditor's console (auditor.py); what they share is in deps.py."""
from services.portal.api import auditor, bureau, parent, public, signin

routers = [public.router, signin.router, parent.router, bureau.router, auditor.router]

__all__ = ["routers"]
