"""Published nightly outputs: runs, per-customer scores, tier history, the current-run pointer."""
