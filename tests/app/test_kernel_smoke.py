from tests.people import login


async def test_staff_login_and_case_page(client, demo):
    await login(client, "coordinator")
    response = await client.get(f"/cases/{demo['case']}")
    assert response.status == 200
    body = await response.text()
    assert "王秀兰" in body
    assert "13912345678" not in body and "139****5678" in body
