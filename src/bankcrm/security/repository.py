"""All queries on users, sessions and API tokens, and the batch reads/writes of key rotation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Table, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from bankcrm.security.models import ApiToken, User, UserSession
from bankcrm.staff.models import Branch, Staff, Team


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_user_by_username(session: Session, username: str, *, for_update: bool = False) -> User | None:
    """The user row; ``for_update`` locks it so concurrent failed logins count correctly (PostgreSQL)."""
    stmt = select(User).where(User.username == username)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def list_users(session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.username)).all()


def add_user(session: Session, user: User) -> User:
    session.add(user)
    session.flush()
    return user


def get_staff(session: Session, staff_id: str) -> Staff | None:
    return session.get(Staff, staff_id)


def branch_exists(session: Session, branch_id: str) -> bool:
    return session.get(Branch, branch_id) is not None


def get_team(session: Session, team_id: str) -> Team | None:
    return session.get(Team, team_id)


def add_session(session: Session, row: UserSession) -> None:
    session.add(row)
    session.flush()


def get_session(session: Session, id_hash: str) -> UserSession | None:
    return session.get(UserSession, id_hash)


def revoke_sessions_of(session: Session, user_id: int, now: datetime) -> int:
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked.is_(False))
        .values(revoked=True, revoked_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def add_api_token(session: Session, token: ApiToken) -> ApiToken:
    session.add(token)
    session.flush()
    return token


def get_api_token(session: Session, token_hash: str) -> ApiToken | None:
    return session.scalars(select(ApiToken).where(ApiToken.token_hash == token_hash)).one_or_none()


# Built once: every API request runs it, and building a statement (and its cache key) costs
# SQLAlchemy about as much again as executing it. The value comes in as a bound parameter.
_TOKEN_WITH_USER = (
    select(ApiToken, User).join(User, User.id == ApiToken.user_id).where(ApiToken.token_hash == bindparam("token_hash"))
)


def get_api_token_with_user(session: Session, token_hash: str) -> tuple[ApiToken, User] | None:
    """The token and its user in one round trip (every API request asks)."""
    row = session.execute(_TOKEN_WITH_USER, {"token_hash": token_hash}).one_or_none()
    return (row[0], row[1]) if row is not None else None


def get_api_token_by_id(session: Session, token_id: int) -> ApiToken | None:
    return session.get(ApiToken, token_id)


def api_tokens_of(session: Session, user_id: int) -> Sequence[ApiToken]:
    return session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)).all()


def revoke_api_tokens_of(session: Session, user_id: int) -> int:
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked.is_(False))
        .values(revoked=True)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- key rotation: generic over (table, primary key, encrypted columns) ---


def _not_under(col: Column[Any], key_id: str) -> Any:
    return and_(col.is_not(None), col.not_like(f"{key_id}$%"))


def stale_ciphertexts(
    session: Session, table: Table, pk: str, columns: Sequence[str], active_key_id: str, *, after: Any, limit: int
) -> list[dict[str, Any]]:
    """The next batch (by primary key) of rows with any of ``columns`` not yet under the active key."""
    key = table.c[pk]
    stmt = (
        select(key, *(table.c[c] for c in columns))
        .where(or_(*(_not_under(table.c[c], active_key_id) for c in columns)))
        .order_by(key)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(key > after)
    return [dict(row._mapping) for row in session.execute(stmt)]


def replace_ciphertexts(session: Session, table: Table, pk: str, column: str, changes: list[dict[str, Any]]) -> int:
    """Set ``column`` to its new ciphertext where it still holds the old one (a concurrent write wins)."""
    if not changes:
        return 0
    stmt = (
        update(table)
        .where(table.c[pk] == bindparam("b_pk"), table.c[column] == bindparam("b_old"))
        .values({column: bindparam("b_new")})
    )
    result = session.connection().execute(stmt, changes)
    return int(result.rowcount or 0)


def count_under_key(session: Session, table: Table, column: str, key_id: str) -> int:
    return int(session.scalar(select(func.count()).select_from(table).where(table.c[column].like(f"{key_id}$%"))) or 0)


def count_not_under(session: Session, table: Table, column: str, key_id: str) -> int:
    stmt = select(func.count()).select_from(table).where(_not_under(table.c[column], key_id))
    return int(session.scalar(stmt) or 0)
