"""Keep-alive recycling: a connection is closed after so many requests, so clients spread over the workers again."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bankcrm.web.app import create_app
from bankcrm.web.middleware import ConnectionRecycleMiddleware
from conftest import WebBank


def _echo_app(max_requests: int) -> ConnectionRecycleMiddleware:
    async def hello(request: Request) -> PlainTextResponse:
        client = request.client
        # the app's own Connection header must not survive on the closing answer
        return PlainTextResponse(f"{client.port if client else 0}", headers={"connection": "keep-alive"})

    return ConnectionRecycleMiddleware(Starlette(routes=[Route("/", hello)]), max_requests=max_requests)


def test_every_nth_answer_on_a_connection_closes_it() -> None:
    client = TestClient(_echo_app(3))  # one client address and port for every request
    closing = [client.get("/").headers.get("connection") for _ in range(7)]
    assert closing == ["keep-alive", "keep-alive", "close", "keep-alive", "keep-alive", "close", "keep-alive"]


def test_the_table_of_counts_is_bounded() -> None:
    middleware = _echo_app(5)
    middleware.TABLE_LIMIT = 3
    for port in range(10):
        assert not middleware._last_on_connection({"client": ("10.0.0.1", port)})
    assert list(middleware._counts) == [("10.0.0.1", 7), ("10.0.0.1", 8), ("10.0.0.1", 9)]
    assert not middleware._last_on_connection({"client": None})  # no address (a unix socket): never closed


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_requests"):
        _echo_app(0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def recycling_server() -> Iterator[int]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(_echo_app(2), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield port
    server.should_exit = True
    thread.join(timeout=10)


def test_a_real_client_reconnects_after_the_closing_answer(recycling_server: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", recycling_server, timeout=10)
    seen: list[tuple[str, str | None]] = []
    for _ in range(5):
        conn.request("GET", "/")
        response = conn.getresponse()
        seen.append((response.read().decode(), response.getheader("connection")))
    conn.close()
    ports = [port for port, _ in seen]
    # two requests per connection: the client's port changes after every second answer, and nothing failed
    assert ports[0] == ports[1] != ports[2] == ports[3] != ports[4]
    assert [header for _, header in seen] == ["keep-alive", "close", "keep-alive", "close", "keep-alive"]


def test_the_app_recycles_after_the_configured_number(web_bank: WebBank) -> None:
    settings = web_bank.settings.model_copy(update={"web_keepalive_requests": 4})
    app: FastAPI = create_app(settings, engine=web_bank.engine, hasher=web_bank.hasher, clock=web_bank.clock)
    try:
        with TestClient(app, follow_redirects=False) as client:
            headers = [client.get("/login").headers.get("connection") for _ in range(8)]
        assert [h == "close" for h in headers] == [False, False, False, True] * 2
    finally:
        if app.state.web.sealer is not None:
            app.state.web.sealer.stop()
