"""The web app: server-rendered pages and the JSON API over the domain services (``create_app``)."""

from __future__ import annotations

from bankcrm.web.app import create_app

__all__ = ["create_app"]
