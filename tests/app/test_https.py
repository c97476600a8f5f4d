"""Behind HTTPS every cookie is Secure and HSTS is sent; WebSockets may reach this origin only."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest

from app.demo import DEMO_PASSWORD
from app.factory import create_app
from app.security import content_security_policy
from app.settings import Settings
from tests.people import seed_ids

HSTS = "max-age=31536000; includeSubDomains"
_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def _directive(csp: str, name: str) -> str:
    return next(d.strip() for d in csp.split(";") if d.strip().startswith(name + " "))


def _flags(set_cookie: str) -> set[str]:
    return {part.strip().lower() for part in set_cookie.split(";")[1:]}


async def test_with_https_every_cookie_is_secure_and_hsts_is_sent(
    settings: Settings, aiohttp_client: Any
) -> None:
    app = create_app(replace(settings, https=True, base_url="https://mediation.example.gov.cn"))
    client = await aiohttp_client(app)
    await seed_ids(app)
    # The test client speaks plain HTTP, so its cookie jar keeps Secure cookies to itself:
    # each request carries its cookies explicitly.
    set_cookies: dict[str, str] = {}

    def seen(response: Any) -> None:
        assert response.headers["Strict-Transport-Security"] == HSTS
        for header in response.headers.getall("Set-Cookie", []):
            set_cookies[header.split("=", 1)[0]] = header

    page = await client.get("/login")
    seen(page)
    csrf = _META.search(await page.text())
    assert csrf
    login = await client.post(
        "/login",
        data={"username": "coordinator", "password": DEMO_PASSWORD, "_csrf": csrf.group(1)},
        headers={"Cookie": f"csrf={csrf.group(1)}"},
        allow_redirects=False,
    )
    assert login.status == 303
    seen(login)
    session = set_cookies["msid"].split(";")[0]
    seen(await client.get("/lang/en", allow_redirects=False))
    home = await client.get("/", headers={"Cookie": session})
    seen(home)
    token = _META.search(await home.text())
    assert token
    logout = await client.post(
        "/logout",
        data={"_csrf": token.group(1)},
        headers={"Cookie": session},
        allow_redirects=False,
    )
    assert logout.status == 303
    seen(logout)  # the session cookie's deletion is Secure too

    assert {"csrf", "msid", "lang"} <= set(set_cookies)
    insecure = [header for header in set_cookies.values() if "secure" not in _flags(header)]
    assert not insecure
    assert _directive(page.headers["Content-Security-Policy"], "connect-src") == (
        "connect-src 'self' wss://mediation.example.gov.cn"
    )


async def test_without_https_no_hsts_and_the_demo_cookies_work_over_http(client: Any) -> None:
    page = await client.get("/login")
    assert "Strict-Transport-Security" not in page.headers
    csrf = next(h for h in page.headers.getall("Set-Cookie") if h.startswith("csrf="))
    assert "secure" not in _flags(csrf) and {"httponly", "samesite=lax"} <= _flags(csrf)
    assert _directive(page.headers["Content-Security-Policy"], "connect-src") == (
        "connect-src 'self' ws://127.0.0.1:8080"
    )


@pytest.mark.parametrize(
    ("base_url", "connect_src"),
    [
        ("http://127.0.0.1:8080", "connect-src 'self' ws://127.0.0.1:8080"),
        ("http://10.1.2.3", "connect-src 'self' ws://10.1.2.3"),
        ("https://mediation.example.gov.cn", "connect-src 'self' wss://mediation.example.gov.cn"),
        ("https://tiaojie.example.cn:8443", "connect-src 'self' wss://tiaojie.example.cn:8443"),
    ],
)
def test_websockets_may_reach_this_origin_only(base_url: str, connect_src: str) -> None:
    assert _directive(content_security_policy(base_url), "connect-src") == connect_src
