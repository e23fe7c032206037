"""Makes the ``bank`` fixture of ``bank360`` available to the tests of this folder."""

from bank360 import bank

__all__ = ["bank"]
