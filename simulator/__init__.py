"""City simulator: generates a deterministic city and drives it through the services' public APIs."""
