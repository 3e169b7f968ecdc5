"""No platform-wide hot key: DynamoDB serves at most 1,000 writes a second per partition key (table
and each index alike), so a key every company's orders write to would cap the whole platform.

Writes are counted from the table's stream (NEW_AND_OLD_IMAGES: every write of the table, a
transaction's items included), per table partition key and, from the images, per partition of each
index: an item written with an index key writes that index partition, and one whose index key
changed or went also writes the old partition.
"""

from __future__ import annotations

import collections
from typing import Any

import boto3

from tests.conftest import a_customer, a_tenant
from tests.test_handoff import pump, settle  # noqa: F401  (the fixture)
from tests.test_stock import a_product, a_warehouse, receive

COMPANIES = 50
ORDERS_EACH = 6


def _stream_from_now(aws: Any) -> dict[str, str]:
    streams = boto3.client("dynamodbstreams", region_name=aws.region)
    shards = streams.describe_stream(StreamArn=aws.table_stream_arn)["StreamDescription"]["Shards"]
    return {
        s["ShardId"]: streams.get_shard_iterator(
            StreamArn=aws.table_stream_arn, ShardId=s["ShardId"], ShardIteratorType="LATEST"
        )["ShardIterator"]
        for s in shards
    }


def _writes_since(aws: Any, iterators: dict[str, str]) -> collections.Counter[str]:
    streams = boto3.client("dynamodbstreams", region_name=aws.region)
    writes: collections.Counter[str] = collections.Counter()
    for iterator in iterators.values():
        while iterator:
            answer = streams.get_records(ShardIterator=iterator, Limit=1000)
            for record in answer["Records"]:
                change = record["dynamodb"]
                writes[f"table {change['Keys']['pk']['S']}"] += 1
                for index in ("gsi1", "gsi2"):
                    old = change.get("OldImage", {}).get(f"{index}pk", {}).get("S")
                    new = change.get("NewImage", {}).get(f"{index}pk", {}).get("S")
                    if new:
                        writes[f"{index} {new}"] += 1
                    if old and old != new:
                        writes[f"{index} {old}"] += 1
            iterator = answer.get("NextShardIterator") if answer["Records"] else None
    return writes


def test_no_key_takes_more_than_twice_a_company_s_share_of_the_handoff_s_writes(api, aws, pump):
    companies = []
    for n in range(COMPANIES):
        tenant = a_tenant(api, f"Company {n}")
        store = a_warehouse(api, tenant, "SH")
        tea = a_product(api, tenant, "TEA", list_price="20")
        receive(api, tenant, tea["id"], store["id"], 100)
        companies.append((tenant, a_customer(api, tenant)["id"]))
    settle(pump)
    iterators = _stream_from_now(aws)
    for _ in range(ORDERS_EACH):
        for tenant, customer in companies:
            line = {"product_code": "TEA", "quantity": "2", "unit_price": "20", "tax_rate": "13"}
            order = api.post(
                "/crm/orders", tenant.token, {"customer_id": customer, "currency": "CNY", "lines": [line]}
            ).json
            assert api.post(f"/crm/orders/{order['id']}/confirm", tenant.token).status == 200
        settle(pump)
    for tenant, _ in companies[:3]:  # the handoff went through: each order reserved and invoiced
        orders = api.get("/crm/orders", tenant.token).json["items"]
        assert [o["status"] for o in orders] == ["reserved"] * ORDERS_EACH, orders
    writes = _writes_since(aws, iterators)
    share = sum(writes.values()) / COMPANIES
    hottest = writes.most_common(5)
    assert hottest[0][1] <= 2 * share, f"a company's share is {share:.0f} writes; the hottest keys: {hottest}"
    # What was a platform-wide key before is now spread: the outbox index over its 16 partitions,
    # the consumers' idempotency records under each company.
    outbox = {k: v for k, v in writes.items() if k.startswith("gsi1 P#OUTBOX#")}
    assert len(outbox) == 16 and max(outbox.values()) < share
    assert not any(k.startswith("table P#IDEMPOTENCY") for k in writes)
