"""bankcrm serve --workers: the app answers from several processes, built from the settings passed on."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


@pytest.mark.timeout(120)
def test_serve_with_two_workers_answers_from_the_given_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BANKCRM_")}
    command = [sys.executable, "-m", "bankcrm.cli", "serve", "--home", str(home), "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--workers", "2", "--no-background"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        response = None
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/login", timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                time.sleep(0.5)
        assert response is not None and response.status_code == 200
        assert response.headers["x-frame-options"] == "DENY"
        assert "server" not in response.headers
        # the workers built the app over the home given on the command line, not the default one
        assert (home / "bankcrm.db").exists()
        assert not (tmp_path / "bankcrm-data").exists()
        # a supervisor and two worker processes (each with uvicorn's own helper children at most)
        assert len(_children(proc.pid)) >= 2
        # the API answers too (not logged in: 401, not a server error)
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/customers", timeout=5).status_code == 401
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
