"""A NUL character in a request is bad input (422), never a server error: PostgreSQL's text refuses it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from conftest import ROLE_USER, WebBank, login


def test_a_nul_in_a_query_parameter_is_refused_by_name(client: TestClient) -> None:
    login(client, ROLE_USER["compliance"])
    response = client.get("/api/v1/audit/events?action=customer.view&target_id=C%001")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "target_id"]
    assert response.headers["x-frame-options"] == "DENY"  # the refusal carries the security headers too
    # the same search without the NUL works
    assert client.get("/api/v1/audit/events?action=customer.view&target_id=C1").status_code == 200


def test_a_nul_in_a_path_is_refused(client: TestClient) -> None:
    login(client, ROLE_USER["rm"])
    for path in ("/api/v1/customers/C%001", "/customers/C%001"):
        response = client.get(path)
        assert response.status_code == 422, path
        assert response.json()["detail"][0]["loc"][0] == "path"


def test_a_nul_in_a_json_body_is_bad_input_on_every_database(client: TestClient, web_bank: WebBank) -> None:
    csrf = login(client, ROLE_USER["rm"])
    body = {"channel": "call", "purpose": "care", "notes": "called\x00back"}
    response = client.post("/api/v1/customers/C1/interactions", json=body, headers={"X-CSRF-Token": csrf})
    if web_bank.engine.dialect.name == "postgresql":
        assert response.status_code == 422
        assert response.json() == {"detail": "Text must not contain NUL characters"}
        # nothing of the refused request stayed, and the next request works
        assert client.get("/api/v1/customers/C1/interactions").json()["items"] == []
    else:  # SQLite stores the text as it came
        assert response.status_code == 201
