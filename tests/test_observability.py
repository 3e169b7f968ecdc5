"""Every request leaves one JSON log line carrying the tenant, the user and the request id."""

from __future__ import annotations

import io
import json
import logging

from chalicelib.core import observability


def test_a_request_is_logged_as_json_with_tenant_user_and_request_id(api, tenant):
    log = observability.logger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(log.registered_formatter)
    log.addHandler(handler)
    level = log.log_level
    log.setLevel("INFO")
    try:
        reply = api.get("/crm/customers", tenant.token)
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    request_line = next(line for line in lines if line["message"] == "request")
    assert request_line["tenant_id"] == tenant.id
    assert request_line["user_id"] == tenant.owner_id
    assert request_line["request_id"] == reply.headers["x-request-id"]
    assert request_line["status"] == 200 and request_line["path"] == "/crm/customers"
