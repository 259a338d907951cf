"""Local HTTP servers that behave like the providers' documented APIs (signatures, answers, errors)."""
