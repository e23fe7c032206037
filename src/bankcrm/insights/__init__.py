"""A customer's latest published scores, tier history and place in the current/potential value quadrant."""
