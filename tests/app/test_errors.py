async def test_api_errors_are_bilingual_json(client, demo) -> None:
    response = await client.get("/api/v1/no-such-thing")
    assert response.status == 404
    body = await response.json()
    assert body["error"] == "not_found"
    assert body["messages"]["zh_CN"] == "您访问的页面不存在。"
    assert body["messages"]["en"] == "The page you asked for does not exist."


async def test_api_without_token_is_401(client, demo) -> None:
    response = await client.get("/api/v1/openapi.json")
    assert response.status == 200  # the document itself is public
    bad = await client.get("/api/v1/openapi.json", headers={"Authorization": "Bearer nope"})
    assert bad.status == 401
    assert (await bad.json())["messages"]["zh_CN"].startswith("API 令牌")


async def test_html_error_page_follows_the_language_switch(client, demo) -> None:
    page = await client.get("/nowhere")
    assert page.status == 404 and "您访问的页面不存在" in await page.text()
    switched = await client.get("/lang/en?next=/nowhere", allow_redirects=False)
    assert switched.headers["Location"] == "/nowhere"
    page = await client.get("/nowhere")
    assert "The page you asked for does not exist." in await page.text()


async def test_language_switch_refuses_open_redirects(client, demo) -> None:
    response = await client.get("/lang/en?next=//evil.example/x", allow_redirects=False)
    assert response.headers["Location"] == "/"


async def test_security_headers(client, demo) -> None:
    response = await client.get("/")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_referrer_policy_lets_browsers_send_their_origin(client, demo) -> None:
    # With no-referrer, Chromium posts forms with `Origin: null`, which the CSRF check refuses.
    response = await client.get("/login")
    assert response.headers["Referrer-Policy"] == "same-origin"


async def test_api_post_without_token_is_401_not_a_csrf_error(client, demo) -> None:
    response = await client.post("/api/v1/appointments", json={})
    assert response.status == 401
    assert (await response.json())["error"] == "not_authenticated"


async def test_huge_ids_are_not_found_not_database_errors(client, demo) -> None:
    from tests.people import login

    await login(client, "coordinator")
    assert (await client.get("/cases/99999999999999999999")).status == 404
    assert (await client.get("/cases/999999999")).status == 404


async def test_odd_digits_in_the_application_form_are_a_field_error(client, demo) -> None:
    import pytest

    from app.db import transaction
    from app.errors import ValidationFailed
    from booking.intake import check_application

    async with transaction(client.app) as db:
        with pytest.raises(ValidationFailed) as failed:
            await check_application(db, {"org_id": "²", "description": "x\x00" * 20})
    assert "org_id" in failed.value.fields


async def test_lone_surrogates_in_json_are_not_valid_json(client, demo) -> None:
    from app.auth import create_api_token
    from app.db import transaction

    async with transaction(client.app) as db:
        token = await create_api_token(db, demo["user:coordinator"], "test")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for body in (
        b'{"description": "\\ud800"}',
        b'{"\\udfff": 1}',
        b'{"applicant": {"name": ["x", "a\\udc00b"]}}',
    ):
        response = await client.post("/api/v1/cases", data=body, headers=headers)
        assert response.status == 400, body
        problem = await response.json()
        assert problem["messages"]["en"] == "The request body is not valid JSON."
    # A pair of surrogate escapes is one character (𠮷) and is fine.
    paired = b'{"description": "\\ud842\\udfb7"}'
    response = await client.post("/api/v1/cases", data=paired, headers=headers)
    assert response.status == 422


def test_clean_drops_what_no_database_can_store() -> None:
    from app.forms import clean

    assert clean(" 张\x00三\ud800\udfff 𠮷 ") == "张三 𠮷"


async def _raw(client, request: bytes) -> bytes:
    """Sends bytes no HTTP client library would (header values that are not UTF-8)."""
    import asyncio

    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(request)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return answer


async def test_tokens_and_cookies_that_are_not_utf8_are_refused_not_500(client, demo) -> None:
    host = f"Host: {client.host}:{client.port}\r\n".encode()
    for request in (
        b"GET /api/v1/mediators HTTP/1.1\r\n" + host + b"Authorization: Bearer \xff\xfe\r\n",
        b"GET / HTTP/1.1\r\n" + host + b"Cookie: msid=\xff\xfe\r\n",
        b"GET /login HTTP/1.1\r\n" + host + b"Cookie: csrf=\xff\r\n",
        b"POST /login HTTP/1.1\r\n" + host + b"Cookie: csrf=\xff\r\nX-CSRF-Token: \xfe\r\n"
        b"Content-Length: 0\r\n",
    ):
        answer = await _raw(client, request + b"Connection: close\r\n\r\n")
        status = int(answer.split(b" ", 2)[1])
        assert 200 <= status < 500, answer[:300]
