"""schemathesis against the app's own OpenAPI document: no operation answers 5xx, whatever it is sent.

Every operation of ``/openapi.json`` (so a new API route is covered without touching this file)
gets schema-conforming and schema-violating requests, each from one of two logged-in callers: the RM through
a browser session with its CSRF header (every permission of the role, reveals included) and the
compliance officer through a bearer API token (``customers:read``, ``audit:read``). Path ids are
drawn from the bank's own customers (in scope, out of scope) as well as random text, so the
found, hidden and missing paths are all exercised. The number of examples per operation is
bounded, so the test takes seconds, not minutes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from bankcrm.audit.service import Actor
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.security import service as security
from bankcrm.web.csrf import CSRF_HEADER, SESSION_COOKIE
from conftest import ROLE_USER, WebBank, login

EXAMPLES_PER_OPERATION = 6  # per operation and mode (schema-conforming, schema-violating)
KNOWN_IDS = {"customer_id": ["C1", "C2", "C3"]}  # in scope of the RM, out of scope, in scope


@dataclass
class Caller:
    name: str
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def callers(web_app: FastAPI, web_bank: WebBank) -> list[Caller]:
    with TestClient(web_app, follow_redirects=False) as browser:
        csrf = login(browser, ROLE_USER["rm"])
        rm = Caller(
            "rm session", headers={CSRF_HEADER: csrf}, cookies={SESSION_COOKIE: browser.cookies[SESSION_COOKIE]}
        )
    with session_scope(session_factory(web_bank.engine)) as s:
        _, plaintext = security.create_api_token(
            s,
            ROLE_USER["compliance"],
            name="schemathesis",
            scopes=["customers:read", "audit:read"],
            actor=Actor.cli(),
            expires_in=timedelta(days=1),
            clock=web_bank.clock,
        )
    compliance = Caller("compliance token", headers={"Authorization": f"Bearer {plaintext}"})
    return [rm, compliance]


def _with_known_ids(case, choice: dict[str, str]):
    for name, value in choice.items():
        if case.path_parameters and name in case.path_parameters:
            case.path_parameters[name] = value
    return case


def test_no_api_operation_answers_a_server_error(web_app: FastAPI, callers: list[Caller]) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", web_app)
    known = st.fixed_dictionaries({k: st.sampled_from(v) for k, v in KNOWN_IDS.items()})
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            cases = operation.as_strategy(generation_mode=mode)
            # half the cases ask for a real customer (in or out of the RM's scope), half for random ids
            strategy = st.one_of(cases, st.builds(_with_known_ids, cases, known))

            @given(case=strategy, caller=st.sampled_from(callers))
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],  # no shrinking: the report shows the first failing request
                suppress_health_check=list(HealthCheck),
            )
            def no_server_error(case, caller: Caller) -> None:
                response = case.call(headers=dict(caller.headers), cookies=dict(caller.cookies))
                assert response.status_code < 500, (
                    f"{caller.name}: {case.method} {case.formatted_path} -> {response.status_code}\n"
                    f"{case.as_curl_command()}\n{response.text[:500]}"
                )

            try:
                no_server_error()
            except Unsatisfiable:  # nothing can violate the schema of an operation without inputs
                assert mode is GenerationMode.NEGATIVE, operation.label
            except Exception as exc:  # a 5xx, or the app's exception itself: list every failing operation
                failures.append(f"{operation.label} ({mode}): {type(exc).__name__}: {str(exc)[:1500]}")
    assert operations >= 5
    assert not failures, "\n\n".join(failures)
