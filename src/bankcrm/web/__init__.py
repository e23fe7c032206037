"""The web app: server-rendered pages and the JSON API over the domain services (``create_app``)."""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

from bankcrm.web.app import create_app

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["app_from_environment", "create_app"]


def app_from_environment() -> FastAPI:
    """The app over the settings the environment gives (BANKCRM_HOME, BANKCRM_DATABASE_URL, …).

    The factory ``uvicorn --factory bankcrm.web:app_from_environment`` and ``bankcrm serve
    --workers N`` start once in each worker process.
    """
    from bankcrm.config import Settings

    app = create_app(Settings())
    # What start-up made (modules, routes, mapped classes, the settings) lives as long as the
    # process. Frozen out of the garbage collector's generations, it is no longer walked by every
    # full collection, which otherwise stalls the worker for about 0.1 s each time under load.
    gc.collect()
    gc.freeze()
    return app
