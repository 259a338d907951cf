"""Unit tests of the attendance service: domain rules, and handlers on a real PostgreSQL schema."""
