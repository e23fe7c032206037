"""Corrections of a customer's contact details by staff, kept as numbered versions."""
