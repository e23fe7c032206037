"""Append-only, hash-chained audit log of logins, customer access, reveals, exports and changes."""
