"""The portal: Beilei on the web (issue 18). Public school and disclosure pages with verification in the
browser, the parent's view, the bureau's dashboard and the auditor's console, server-rendered from read
models the portal keeps from the events, so a city-wide burst of parents never fans out to other services."""
