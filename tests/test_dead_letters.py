"""Dead letters per company: whatever other companies have failed, a company lists and redrives
exactly its own."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3

from tests.conftest import a_tenant
from tests.test_handoff import pump  # noqa: F401  (fixture)


def envelope(tenant_id: str, detail_type: str = "OrderConfirmed") -> dict[str, Any]:
    """An event as the bus delivers it (what SQS moves to the dead-letter queue unchanged)."""
    event_id = f"evt_{uuid.uuid4().hex[:26].upper()}"
    detail = {
        "tenant_id": tenant_id,
        "event_id": event_id,
        "order_id": f"ord_{uuid.uuid4().hex[:26].upper()}",
        "occurred_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "schema_version": "1.0",
    }
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "crmerp.crm",
        "detail": detail,
    }


def dead(sqs, dlq_url: str, envelopes: list[dict[str, Any]]) -> None:
    for start in range(0, len(envelopes), 10):
        entries = [
            {"Id": str(n), "MessageBody": json.dumps(e)} for n, e in enumerate(envelopes[start : start + 10])
        ]
        assert not sqs.send_message_batch(QueueUrl=dlq_url, Entries=entries).get("Failed")


def drain(pump) -> None:
    """What the dead-letter queues' event source mappings do in AWS: deliver until nothing is left."""
    while pump.run_once():
        pass


def every_dead_letter(api, token: str) -> list[dict[str, Any]]:
    found, cursor = [], None
    while True:
        page = api.get("/admin/dead-letters?limit=100" + (f"&cursor={cursor}" if cursor else ""), token).json
        found += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return found


def delivered(consumer: str, envelopes: list[dict[str, Any]]) -> None:
    """Deliver to the dead-letter queue's handler as Lambda does (moto's SQS spends time in proportion
    to a queue's length on every call, so a thousand messages through it would take minutes)."""
    from app import app
    from infra.pump import LambdaContext

    for start in range(0, len(envelopes), 10):
        records = [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "r",
                "body": json.dumps(e),
                "attributes": {"ApproximateReceiveCount": "6"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:1:dlq",
                "awsRegion": "us-east-1",
            }
            for e in envelopes[start : start + 10]
        ]
        answer = app.handler_map[f"{consumer}_dead_letters"](
            {"Records": records}, LambdaContext(f"{consumer}_dead_letters")
        )
        assert answer["batchItemFailures"] == []


def test_a_company_sees_and_redrives_exactly_its_own_dead_letters_behind_a_thousand_of_another(
    api, aws, tenant, pump
):
    sqs = boto3.client("sqs", region_name=aws.region)
    busy = a_tenant(api, "Busy Failing Co")
    theirs_earlier = [envelope(busy.id) for _ in range(1000)]
    theirs = [envelope(busy.id) for _ in range(30)]
    mine = [envelope(tenant.id), envelope(tenant.id, "OrderCancelled"), envelope(tenant.id)]
    dead(sqs, aws.erp_dlq_url, theirs)
    dead(sqs, aws.erp_dlq_url, mine)
    drain(pump)
    listed = every_dead_letter(api, tenant.token)
    assert sorted(d["event_id"] for d in listed) == sorted(e["detail"]["event_id"] for e in mine)
    assert {d["consumer"] for d in listed} == {"erp"} and "OrderCancelled" in {d["type"] for d in listed}

    delivered("erp", theirs_earlier)  # a thousand more of theirs, older than any of mine
    assert every_dead_letter(api, tenant.token) == listed

    moved = api.post("/admin/dead-letters/redrive", tenant.token, {}).json["redriven"]
    assert sorted(d["event_id"] for d in moved) == sorted(e["detail"]["event_id"] for e in mine)
    back = []
    while batch := sqs.receive_message(QueueUrl=aws.erp_queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        back += [json.loads(m["Body"])["detail"]["event_id"] for m in batch]
    assert sorted(back) == sorted(e["detail"]["event_id"] for e in mine)  # each once, none of theirs
    assert every_dead_letter(api, tenant.token) == []
    assert len(every_dead_letter(api, busy.token)) == 1030
    # A retried redrive is harmless: nothing is left to move.
    assert api.post("/admin/dead-letters/redrive", tenant.token, {}).json["redriven"] == []


def test_redriving_chosen_dead_letters_moves_only_those(api, aws, tenant, pump):
    sqs = boto3.client("sqs", region_name=aws.region)
    mine = [envelope(tenant.id) for _ in range(3)]
    dead(sqs, aws.crm_dlq_url, mine)
    drain(pump)
    listed = every_dead_letter(api, tenant.token)
    assert len(listed) == 3 and {d["consumer"] for d in listed} == {"crm"}
    chosen = listed[1]["message_id"]
    moved = api.post("/admin/dead-letters/redrive", tenant.token, {"message_ids": [chosen]}).json["redriven"]
    assert [d["message_id"] for d in moved] == [chosen]
    assert sorted(d["message_id"] for d in every_dead_letter(api, tenant.token)) == sorted(
        d["message_id"] for d in listed if d["message_id"] != chosen
    )
    # Another company naming these messages moves nothing.
    other = a_tenant(api, "Nosy Co")
    ids = [d["message_id"] for d in listed]
    assert api.post("/admin/dead-letters/redrive", other.token, {"message_ids": ids}).json["redriven"] == []
    assert len(every_dead_letter(api, tenant.token)) == 2


def test_a_dead_letter_naming_no_company_stays_in_its_queue(api, aws, tenant):
    from app import app
    from infra.pump import LambdaContext

    bodies = {
        "m-good": json.dumps(envelope(tenant.id)),
        "m-bad": json.dumps({"detail": {"tenant_id": "a#b"}}),
        "m-junk": "junk",
    }
    records = [
        {"messageId": mid, "receiptHandle": mid, "body": body, "attributes": {}}
        for mid, body in bodies.items()
    ]
    answer = app.handler_map["crm_dead_letters"]({"Records": records}, LambdaContext("crm_dead_letters"))
    assert sorted(f["itemIdentifier"] for f in answer["batchItemFailures"]) == ["m-bad", "m-junk"]
    assert [d["message_id"] for d in every_dead_letter(api, tenant.token)] == ["m-good"]
