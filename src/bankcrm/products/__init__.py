"""Product catalogue and customer accounts."""
