"""Authentication, permissions, masking and field encryption."""
