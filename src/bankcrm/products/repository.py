"""Queries on the product catalogue."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bankcrm.products.models import Product


def list_products(session: Session) -> Sequence[Product]:
    return session.scalars(select(Product).order_by(Product.category, Product.product_id)).all()
