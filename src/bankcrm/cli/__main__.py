"""`python -m bankcrm.cli` runs the command line."""

from bankcrm.cli.main import app

app()
