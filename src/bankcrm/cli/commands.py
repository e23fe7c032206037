"""Registers the top-level commands on the app; each module adds its own commands."""

from __future__ import annotations

from bankcrm.cli import (
    audit,
    cadence,
    clv,
    config,
    demo,
    generate,
    ingest,
    keys,
    rules,
    run,
    scores,
    serve,
    tasks,
    user,
)
from bankcrm.cli import dispatch as dispatch_cli
from bankcrm.cli.main import app

for module in (generate, ingest, run, scores, tasks, rules, cadence, config, clv, demo, user, audit, keys, serve):
    module.register(app)
dispatch_cli.register(app)
