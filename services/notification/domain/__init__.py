"""Notification's pure rules (templates, channel policy, quiet hours, retries, rate limits); no I/O."""
