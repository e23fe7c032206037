"""Request dependencies: one database session per request (committed at the end), who is asking, and as whom.

- ``DbSession``: committed after the route returns, rolled back when it raises.
- ``CurrentAuth`` / ``CurrentUser`` / ``CurrentPrincipal``: the logged-in user. Under ``/api/`` a
  bearer API token (narrowed to its scopes) or the session cookie; elsewhere the session cookie
  only. Nobody logged in raises ``NotAuthenticated``: pages redirect to the login form, the API
  answers 401.
- ``RequestActor``: the audit actor with the client address.
- ``Call``: the request and runtime for an ``async`` API read that opens its session,
  authenticates, works and commits in one worker thread (``ApiCall.run``).
- ``Tr``: the translator of the request's language.
- ``RowId``: an integer row id in a path, bounded to what the database column holds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

import anyio
from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from bankcrm.audit.service import Actor
from bankcrm.security import service as security
from bankcrm.security.models import User
from bankcrm.security.permissions import Principal
from bankcrm.web.csrf import SESSION_COOKIE, csrf_for_session, is_bearer_api_call
from bankcrm.web.i18n import Translator
from bankcrm.web.runtime import WebRuntime
from bankcrm.web.templating import translator

T = TypeVar("T")


class NotAuthenticated(Exception):
    """No live session or valid API token (pages: redirect to login; API: 401)."""


# Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def`` dependency in its
# thread pool, and a hop to a worker thread and back costs more than these functions do.


async def get_runtime(request: Request) -> WebRuntime:
    runtime: WebRuntime = request.app.state.web
    return runtime


Runtime = Annotated[WebRuntime, Depends(get_runtime)]


def _commit_and_close(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _rollback_and_close(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


async def get_db(runtime: Runtime) -> AsyncIterator[Session]:
    """The request's session: commit when the route returns, roll back when it raises.

    Making the session does no I/O (it connects on first use), so it happens on the event loop; the
    commit or rollback runs in a worker thread, shielded from cancellation so that a connection is
    never returned to the pool in the middle of a transaction. A route that already committed
    leaves nothing to do but close, which is then done without a thread hop.
    """
    session = runtime.sessions()
    try:
        yield session
    except BaseException:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(_rollback_and_close, session)
        raise
    if session.in_transaction():
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(_commit_and_close, session)
    else:
        session.close()


# scope="function": the commit happens before the response is sent, so a failed commit is an error
DbSession = Annotated[Session, Depends(get_db, scope="function")]


@dataclass(frozen=True)
class Auth:
    user: User
    principal: Principal
    session_token: str | None = None  # set for a browser session
    via_api_token: bool = False

    @property
    def csrf_token(self) -> str | None:
        return csrf_for_session(self.session_token) if self.session_token else None


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def get_auth(request: Request, db: DbSession, runtime: Runtime) -> Auth:
    cached = getattr(request.state, "auth", None)
    if isinstance(cached, Auth):
        return cached
    if is_bearer_api_call(request):
        found = security.authenticate_api_token(db, request.headers["authorization"][7:].strip(), clock=runtime.clock)
        if found is None:
            raise NotAuthenticated()
        user, scopes = found
        auth = Auth(user, Principal.of(user, token_scopes=scopes), via_api_token=True)
    else:
        token = request.cookies.get(SESSION_COOKIE)
        user_or_none = security.validate_session(db, token, clock=runtime.clock) if token else None
        if user_or_none is None:
            raise NotAuthenticated()
        auth = Auth(user_or_none, Principal.of(user_or_none), session_token=token)
    request.state.auth = auth
    return auth


CurrentAuth = Annotated[Auth, Depends(get_auth)]


async def get_user(auth: CurrentAuth) -> User:
    return auth.user


async def get_principal(auth: CurrentAuth) -> Principal:
    return auth.principal


CurrentUser = Annotated[User, Depends(get_user)]
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def actor_of(request: Request, auth: Auth) -> Actor:
    return Actor.user(auth.user.id, auth.user.username, client_address(request))


async def get_actor(request: Request, auth: CurrentAuth) -> Actor:
    return actor_of(request, auth)


RequestActor = Annotated[Actor, Depends(get_actor)]


@dataclass(frozen=True)
class ApiCall:
    """The request and the runtime, for the busiest ``async`` API reads (``Call``).

    ``run`` opens the request's database session, authenticates the caller, does the route's work
    and commits (or rolls back) and closes the session, all in one worker thread. A plain ``def``
    route costs a thread-pool hop for the login or token check, another for the route, another
    for FastAPI's validation of its answer and one for the commit; and each of the
    ``DbSession``/``CurrentPrincipal``/``RequestActor`` dependencies costs FastAPI's dependency
    machinery more than it does itself. A request with no credentials at all is refused before
    any hop.
    """

    request: Request
    runtime: WebRuntime

    async def run(self, work: Callable[[Session, Auth, Actor], T]) -> T:
        """``work(session, auth, actor)`` and the commit in one worker thread; ``get_auth`` may raise NotAuthenticated.

        The thread finishes (commit or rollback, then close) even when the request is cancelled
        meanwhile, so a connection never goes back to the pool in the middle of a transaction.
        """

        def authenticated_work_and_commit() -> T:
            session = self.runtime.sessions()
            try:
                auth = get_auth(self.request, session, self.runtime)
                result = work(session, auth, actor_of(self.request, auth))
                session.commit()
                return result
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()

        return await run_in_threadpool(authenticated_work_and_commit)


async def get_api_call(request: Request) -> ApiCall:
    if not (is_bearer_api_call(request) or request.cookies.get(SESSION_COOKIE)):
        raise NotAuthenticated()
    return ApiCall(request, await get_runtime(request))


Call = Annotated[ApiCall, Depends(get_api_call)]


async def get_translator(request: Request) -> Translator:
    return translator(request)


Tr = Annotated[Translator, Depends(get_translator)]

# A PostgreSQL INTEGER (and so every id column here) holds at most 2**31 - 1; an id outside that is
# refused by validation (422) instead of reaching the database and failing there (a 500).
RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]
