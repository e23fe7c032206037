"""Nightly analytics: features, tiers, values, segments and lifetime-value models."""
