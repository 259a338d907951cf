"""Unit tests of the enrollment service: rules, handlers on a fake and on PostgreSQL, the HTTP API in-process."""
