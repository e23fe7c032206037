"""Browser tests in headless Chromium: the RM's day, record scope, CSRF and the lock-out, as a person sees them.

Run with ``BANKCRM_UPDATE_SCREENSHOTS=1`` to refresh the user guide's screenshots in
``docs/screenshots/``; a normal run writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from e2e_support import CHROMIUM, ID_C1, PASSWORDS, PHONE_C1, ROLE_USER, VIEWPORT, Screenshots
from playwright.sync_api import Browser, Page, expect

from bankcrm.web.csrf import SESSION_COOKIE

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)"
)

RM = ROLE_USER["rm"]
COMPLIANCE = ROLE_USER["compliance"]
ADMIN = ROLE_USER["admin"]
REASON = "Customer at the counter asked to confirm the ID on file"


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[[], Page]]:
    """Pages in fresh browser contexts (each its own cookie jar: one person per context)."""
    contexts = []

    def make() -> Page:
        context = browser.new_context(viewport=VIEWPORT)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def log_in(page: Page, base: str, username: str, password: str | None = None) -> None:
    page.goto(f"{base}/login")
    page.fill('form[action="/login"] input[name="username"]', username)
    page.fill('form[action="/login"] input[name="password"]', password or PASSWORDS[username])
    page.click('form[action="/login"] button[type="submit"]')


def test_rm_reveals_a_field_and_compliance_finds_the_reveal_in_the_audit_log(
    live_server: str, new_page, screenshots: Screenshots
) -> None:
    rm = new_page()
    rm.goto(f"{live_server}/login")
    screenshots.take(rm, "login")
    log_in(rm, live_server, RM)
    expect(rm).to_have_url(f"{live_server}/")

    # the workbench lists the RM's own customers only, masked
    customers = rm.locator("#my-customers tbody")
    expect(customers.locator('a[href="/customers/C1"]')).to_be_visible()
    expect(customers.locator('a[href="/customers/C3"]')).to_be_visible()
    expect(customers.locator('a[href="/customers/C2"]')).to_have_count(0)
    expect(customers).to_contain_text("138****5678")
    assert PHONE_C1 not in rm.content()
    screenshots.take(rm, "workbench")

    # the 360 view is masked by default
    customers.locator('a[href="/customers/C1"]').click()
    expect(rm).to_have_url(f"{live_server}/customers/C1")
    expect(rm.locator('#profile .masked[data-field="id_number"]')).to_have_text("110105199001******")
    expect(rm.locator('#profile .masked[data-field="phone"]')).to_have_text("138****5678")
    assert ID_C1 not in rm.content() and PHONE_C1 not in rm.content()
    screenshots.take(rm, "customer-360-masked")

    # reveal one field with a reason: in clear for this page view only
    rm.select_option('#reveal select[name="field"]', "id_number")
    rm.fill('#reveal input[name="reason"]', REASON)
    rm.click('#reveal button[type="submit"]')
    expect(rm.locator('#profile .revealed[data-field="id_number"]')).to_have_text(ID_C1)
    expect(rm.locator('#profile .masked[data-field="phone"]')).to_have_text("138****5678")
    screenshots.take(rm, "customer-360-revealed")
    rm.goto(f"{live_server}/customers/C1")
    expect(rm.locator('#profile .masked[data-field="id_number"]')).to_have_text("110105199001******")
    assert ID_C1 not in rm.content()

    # the compliance officer sees who revealed what, why, and never the value itself
    officer = new_page()
    log_in(officer, live_server, COMPLIANCE)
    expect(officer).to_have_url(f"{live_server}/")
    officer.goto(f"{live_server}/compliance/audit?action=field.reveal")
    reveal_rows = officer.locator("#audit-search tbody tr")
    expect(reveal_rows).to_have_count(1)
    expect(reveal_rows).to_contain_text(RM)
    expect(reveal_rows).to_contain_text("field.reveal")
    expect(reveal_rows).to_contain_text("C1")
    expect(reveal_rows).to_contain_text("id_number")
    expect(reveal_rows).to_contain_text(REASON)
    history = officer.locator("#reveal-history tbody")
    expect(history).to_contain_text(REASON)
    assert ID_C1 not in officer.content()
    screenshots.take(officer, "compliance-audit")


def test_admin_manages_logins_and_sees_no_customer(live_server: str, new_page, screenshots: Screenshots) -> None:
    admin = new_page()
    log_in(admin, live_server, ADMIN)
    expect(admin).to_have_url(f"{live_server}/")
    response = admin.goto(f"{live_server}/admin/users")
    assert response is not None and response.status == 200
    for username in PASSWORDS:
        expect(admin.locator("main")).to_contain_text(username)
    screenshots.take(admin, "admin-users")
    refused = admin.goto(f"{live_server}/customers/C1")
    assert refused is not None and refused.status in (403, 404)
    assert "110105" not in admin.content()


def test_rm_opening_another_rms_customer_by_url_gets_404(live_server: str, new_page) -> None:
    rm = new_page()
    log_in(rm, live_server, RM)
    expect(rm).to_have_url(f"{live_server}/")
    other = rm.goto(f"{live_server}/customers/C2")
    assert other is not None and other.status == 404
    missing = rm.goto(f"{live_server}/customers/NO-SUCH-CUSTOMER")
    assert missing is not None and missing.status == 404
    # a hidden customer and a missing one look the same, and nothing of C2 leaks
    assert "王" not in rm.content() and "137****2222" not in rm.content()


def test_a_form_posted_without_the_csrf_token_is_refused(live_server: str, new_page) -> None:
    rm = new_page()
    log_in(rm, live_server, RM)
    expect(rm).to_have_url(f"{live_server}/")
    rm.goto(f"{live_server}/customers/C1")
    rm.locator('#reveal input[name="csrf_token"]').evaluate("input => input.remove()")
    rm.select_option('#reveal select[name="field"]', "phone")
    rm.fill('#reveal input[name="reason"]', REASON)
    with rm.expect_response(lambda r: r.url.endswith("/customers/C1/reveal")) as posted:
        rm.click('#reveal button[type="submit"]')
    assert posted.value.status == 403
    assert PHONE_C1 not in rm.content()
    # a wrong token is refused as well
    rm.goto(f"{live_server}/customers/C1")
    rm.locator('#reveal input[name="csrf_token"]').evaluate("input => { input.value = 'f'.repeat(64); }")
    rm.fill('#reveal input[name="reason"]', REASON)
    with rm.expect_response(lambda r: r.url.endswith("/customers/C1/reveal")) as forged:
        rm.click('#reveal button[type="submit"]')
    assert forged.value.status == 403


def test_five_bad_passwords_lock_the_account(live_server: str, new_page) -> None:
    page = new_page()
    for attempt in range(5):
        log_in(page, live_server, RM, password=f"Wrong password {attempt}")
        expect(page.locator('[role="alert"]')).to_be_visible()
        expect(page).to_have_url(f"{live_server}/login")
    # the sixth attempt, with the right password, fails too: the account is locked
    log_in(page, live_server, RM)
    expect(page.locator('[role="alert"]')).to_be_visible()
    assert not any(c["name"] == SESSION_COOKIE for c in page.context.cookies())
    assert page.goto(f"{live_server}/").url.startswith(f"{live_server}/login")
    # another account is not affected
    other = new_page()
    log_in(other, live_server, COMPLIANCE)
    expect(other).to_have_url(f"{live_server}/")
