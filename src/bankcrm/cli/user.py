"""bankcrm user …: staff logins (passwords never on the command line) and API tokens."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from bankcrm.audit.service import Actor
from bankcrm.cli.common import DatabaseUrlOption, HomeOption, build_settings, console, fail, open_engine
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.reference import ROLES
from bankcrm.security import service
from bankcrm.security.auth import is_locked, system_clock
from bankcrm.security.passwords import hasher_for

user_app = typer.Typer(help="Staff logins: add, disable, reset passwords, list; API tokens.", no_args_is_help=True)

PasswordStdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="read the password from the first line of standard input")
]


def _read_password(from_stdin: bool) -> str:
    """From stdin (one line) or prompted twice without echo; never from an argument."""
    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))


@user_app.command("add")
def add_cmd(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="login name: a-z, 0-9, '.', '_', '-'")],
    role: Annotated[str, typer.Option("--role", help=f"one of {', '.join(ROLES)}")],
    staff_id: Annotated[str | None, typer.Option("--staff-id", help="the staff record (required for rm)")] = None,
    branch_id: Annotated[str | None, typer.Option("--branch-id", help="scope of a branch_manager")] = None,
    team_id: Annotated[str | None, typer.Option("--team-id", help="scope of a team_lead")] = None,
    name: Annotated[str | None, typer.Option("--name", help="display name (default: the staff name)")] = None,
    password_stdin: PasswordStdinOption = False,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Add a login with a role and the scope the role needs."""
    settings = build_settings(ctx, home, database_url)
    password = _read_password(password_stdin)
    engine = open_engine(settings)
    try:
        with session_scope(session_factory(engine)) as session:
            user = service.create_user(
                session,
                username=username,
                password=password,
                role=role,
                hasher=hasher_for(settings),
                actor=Actor.cli(),
                display_name=name,
                staff_id=staff_id,
                branch_id=branch_id,
                team_id=team_id,
            )
            summary = f"added {user.username} ({user.role})"
    except service.UserError as exc:
        raise fail(str(exc)) from exc
    console.print(summary, highlight=False)


@user_app.command("disable")
def disable_cmd(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="login name")],
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Disable a login; its sessions and API tokens stop working at once."""
    engine = open_engine(build_settings(ctx, home, database_url))
    try:
        with session_scope(session_factory(engine)) as session:
            user = service.disable_user(session, username, actor=Actor.cli())
            name = user.username
    except service.UserError as exc:
        raise fail(str(exc)) from exc
    console.print(f"disabled {name}; its sessions and tokens are revoked", highlight=False)


@user_app.command("reset-password")
def reset_password_cmd(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="login name")],
    password_stdin: PasswordStdinOption = False,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Set a new password, clear a lock-out and end every session of the user."""
    settings = build_settings(ctx, home, database_url)
    password = _read_password(password_stdin)
    engine = open_engine(settings)
    try:
        with session_scope(session_factory(engine)) as session:
            revoked = service.reset_password(
                session, username, password, hasher=hasher_for(settings), actor=Actor.cli()
            )
    except service.UserError as exc:
        raise fail(str(exc)) from exc
    console.print(f"password reset for {service.normalise_username(username)}; {revoked} session(s) ended")


@user_app.command("list")
def list_cmd(ctx: typer.Context, home: HomeOption = None, database_url: DatabaseUrlOption = None) -> None:
    """List logins with role, scope and state."""
    engine = open_engine(build_settings(ctx, home, database_url))
    with session_scope(session_factory(engine)) as session:
        users = service.list_users(session)
        now = system_clock()
        table = Table(title=f"{len(users)} user(s)")
        for column in ("username", "name", "role", "staff", "team", "branch", "state", "last login"):
            table.add_column(column)
        for u in users:
            state = "disabled" if u.disabled else ("locked" if is_locked(u.locked_until, now) else "active")
            table.add_row(
                u.username,
                u.display_name,
                u.role,
                u.staff_id or "",
                u.team_id or "",
                u.branch_id or "",
                state,
                u.last_login_at.isoformat(timespec="seconds") if u.last_login_at else "",
            )
    console.print(table)


@user_app.command("token")
def token_cmd(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="the user the integration acts as")],
    name: Annotated[str, typer.Option("--name", help="what the token is for")],
    scope: Annotated[list[str], typer.Option("--scope", help="e.g. customers:read (repeat for more)")],
    expires_days: Annotated[int, typer.Option("--expires-days", help="lifetime in days; 0 for none")] = 90,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Issue an API token; it is printed once and only its hash is kept."""
    from datetime import timedelta

    engine = open_engine(build_settings(ctx, home, database_url))
    try:
        with session_scope(session_factory(engine)) as session:
            _, plaintext = service.create_api_token(
                session,
                username,
                name=name,
                scopes=scope,
                actor=Actor.cli(),
                expires_in=timedelta(days=expires_days) if expires_days > 0 else None,
            )
    except service.UserError as exc:
        raise fail(str(exc)) from exc
    console.print("token (shown once; store it in the integration's secret store):", highlight=False)
    typer.echo(plaintext)


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
