"""The messaging kit: outbox, relay, inbox, batch consumer with DLQ, and the database plumbing they share."""
