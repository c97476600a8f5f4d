"""The outcome and after-care API: the same rules as the pages, JSON errors in both languages,
and an Idempotency-Key that makes a retried obligation one row."""

from __future__ import annotations

from datetime import timedelta

from booking.models import PerformanceItem
from booking.slots import local_today
from tests.booking.setup_data import bearer, count
from tests.builders import scheduled


async def test_outcome_close_follow_up_and_performance_over_the_api(app, client, demo):
    case_id = await scheduled(app, demo)
    headers = await bearer(app, demo["user:mediator"])
    base = f"/api/v1/cases/{case_id}"

    early = await client.post(f"{base}/close", headers=headers)
    assert early.status == 409
    bad = await client.post(f"{base}/outcome", json={"outcome": "terminated"}, headers=headers)
    assert bad.status == 422
    assert (await bad.json())["fields"]["note"]["zh_CN"] == "请填写此项（不超过4000字）。"
    wrong_type = await client.post(
        f"{base}/outcome", json={"outcome": 3, "note": []}, headers=headers
    )
    assert wrong_type.status == 422

    done = await client.post(
        f"{base}/outcome", json={"outcome": "terminated", "note": "一方拒绝调解"}, headers=headers
    )
    assert done.status == 200, await done.text()
    assert (await done.json())["status"] == "concluded"
    closed = await client.post(f"{base}/close", headers=headers)
    assert closed.status == 200
    body = await closed.json()
    assert body["status"] == "closed" and body["outcome"] == "terminated" and body["closed_at"]

    item = {
        "what": "返还借款",
        "debtor": "钱七",
        "due_on": (local_today() + timedelta(days=3)).isoformat(),
        "amount": "500",
    }
    keyed = {**headers, "Idempotency-Key": "item-1"}
    first = await client.post(f"{base}/performance", json=item, headers=keyed)
    second = await client.post(f"{base}/performance", json=item, headers=keyed)
    assert (first.status, second.status) == (201, 201)
    assert (await first.json()) == (await second.json())
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert await count(app, PerformanceItem) == 1
    item_id = (await first.json())["id"]
    assert (await first.json())["amount"] == "500.00"

    mark = await client.post(
        f"{base}/performance/{item_id}", json={"status": "performed"}, headers=headers
    )
    assert mark.status == 200
    visit = await client.post(
        f"{base}/followup", json={"method": "visit", "result": "issues"}, headers=headers
    )
    assert visit.status == 200
    state = await (await client.get(f"{base}/aftercare", headers=headers)).json()
    assert state["followup"]["result"] == "issues" and state["followup"]["recorded_at"]
    assert [i["status"] for i in state["performance"]] == ["performed"]
    assert state["ratings"] == 0


async def test_a_case_outside_the_callers_reach_is_not_found(app, client, demo):
    case_id = await scheduled(app, demo)
    headers = await bearer(app, demo["user:mediator2"])  # another mediator, another village
    answer = await client.post(
        f"/api/v1/cases/{case_id}/outcome", json={"outcome": "withdrawn"}, headers=headers
    )
    assert answer.status == 404
