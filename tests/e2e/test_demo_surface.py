"""The demo's edges, against the real server: the visitor cookie as browsers send it, the cookie a
cross-site iframe needs, and a damaged store explained instead of a 500."""

import secrets
import urllib.error
import urllib.request

import pytest

from tests.e2e.helpers import running_app

pytestmark = pytest.mark.e2e


def get(url: str, headers: dict | None = None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read().decode()


@pytest.fixture(scope="module")
def demo_behind_a_proxy(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("lab"), LAB_PRIVATE_RUNS="1", LAB_TRUST_PROXY="1") as url:
        yield url


def test_another_sites_cookie_with_quotes_does_not_hide_the_visitors_token(demo_behind_a_proxy):
    token = secrets.token_urlsafe(24)
    _, headers, _ = get(demo_behind_a_proxy, {"Cookie": f'foo={{"k": 1}}; lab_visitor={token}'})
    assert headers.get_all("set-cookie") is None  # the token was read: no new one
    _, headers, _ = get(demo_behind_a_proxy, {"Cookie": 'foo={"k": 1}'})
    assert "lab_visitor=" in headers["set-cookie"]  # none was sent: one is given


def test_over_https_the_cookie_is_sent_inside_a_cross_site_iframe(demo_behind_a_proxy):
    _, headers, _ = get(demo_behind_a_proxy, {"X-Forwarded-Proto": "https"})
    cookie = headers["set-cookie"]
    assert "SameSite=None" in cookie and "Secure" in cookie and "Partitioned" in cookie and "HttpOnly" in cookie
    _, headers, _ = get(demo_behind_a_proxy)  # plain HTTP (a local lab): Lax, and no Secure it could not keep
    assert "SameSite=Lax" in headers["set-cookie"] and "Secure" not in headers["set-cookie"]


def test_a_browser_keeps_its_token_across_reloads_beside_a_quoted_cookie(demo_behind_a_proxy, browser):
    context = browser.new_context()
    context.add_cookies([{"name": "prefs", "value": '{"theme": "dark"}', "url": demo_behind_a_proxy}])
    page = context.new_page()
    page.goto(demo_behind_a_proxy)
    first = {c["name"]: c["value"] for c in context.cookies()}["lab_visitor"]
    page.reload()
    page.goto(demo_behind_a_proxy + "/runs")
    assert {c["name"]: c["value"] for c in context.cookies()}["lab_visitor"] == first  # the same browser, still
    context.close()


def test_a_damaged_store_is_explained_on_the_page_and_by_the_csv_route(tmp_path, browser):
    (tmp_path / "runs.sqlite").write_bytes(b"not a database " * 500)
    with running_app(tmp_path) as url:
        status, _, body = get(f"{url}/api/runs/0123456789ab/metrics.csv")
        assert status == 503 and "is damaged or is not a SQLite database" in body and "Move that file aside" in body
        page = browser.new_page()
        page.goto(url)
        page.get_by_text("The lab cannot start").wait_for(timeout=60_000)
        assert "LAB_HOME" in page.get_by_text("The lab cannot start").inner_text()
        page.close()
