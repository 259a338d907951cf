"""Local infrastructure for `make run` and the tests: real Kafka and PostgreSQL, service processes."""
