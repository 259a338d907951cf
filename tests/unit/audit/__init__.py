"""Unit tests for the audit service."""
