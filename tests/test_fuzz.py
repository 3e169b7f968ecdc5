"""A fuzzer over the whole contract: schemathesis generates requests for every operation of the
served /openapi.json, valid ones and ones that break the schema, and sends them over HTTP to the
stack `make run` starts, as the owner and as a sales user. Whatever it sends, the answer must not
be a 5xx, and its status, content type, headers and body must be as the document declares them.

The number of examples per operation is bounded (``EXAMPLES``) so the run stays within a few
minutes on two cores; each run draws new examples, and a failure prints the request as curl.
"""

from __future__ import annotations

import dataclasses
import json
import urllib.request
from collections import defaultdict
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.test_readme import local_stack  # noqa: F401  (the stack of `make run`, started for this module)

# (role, generation mode) -> examples per operation. A sales user is refused most of the ERP and
# the administration before the body is read (403), so fewer examples say as much there.
EXAMPLES = {
    ("owner", "positive"): 5,
    ("owner", "negative"): 3,
    ("sales", "positive"): 2,
    ("sales", "negative"): 2,
}
LOGINS = {
    "owner": ("owner@demo-trading.example", "demo-owner-pass-1"),
    "sales": ("sales@demo-trading.example", "demo-sales-pass-1"),
}


def login(base: str, email: str, password: str) -> str:
    body = json.dumps({"email": email, "password": password}).encode()
    request = urllib.request.Request(
        f"{base}/auth/login", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        return str(json.loads(reply.read())["id_token"])


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclasses.dataclass
class Fuzzer:
    """Sends generated requests to the stack as one user and keeps what broke the contract."""

    base: str
    role: str
    token: str
    session: requests.Session = dataclasses.field(default_factory=requests.Session)
    sent: int = 0
    failures: dict[str, list[str]] = dataclasses.field(default_factory=lambda: defaultdict(list))

    def send(self, case: Any) -> None:
        self.sent += 1
        label = case.operation.label
        if case.operation.schema.is_security_param_negated(case):
            # No token at all: the gateway's answer, which `chalice local` gives in its own form (docs/api.md).
            response = case.call(base_url=self.base, session=self.session, timeout=60)
            if response.status_code != 401:
                self.failures[label].append(f"{self.role}, no token: {response.status_code}, not 401")
            return
        headers = {"Authorization": f"Bearer {self.token}"}
        response = case.call(base_url=self.base, session=self.session, headers=headers, timeout=60)
        try:
            case.validate_response(response, checks=CHECKS)
        except (
            BaseException
        ) as exc:  # an exception group naming every check that failed, with a curl to replay it
            self.failures[label].append(f"{self.role}, {case.meta.generation.mode.value}: {exc}")

    def run(self, schema: Any, mode: str, examples: int) -> None:
        """``examples`` requests per operation, valid (``positive``) or breaking the schema (``negative``)."""
        for result in schema.get_all_operations():
            strategy = result.ok().as_strategy(generation_mode=GenerationMode(mode))
            limits = settings(
                max_examples=examples,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            try:
                limits(given(case=strategy)(self.send))()
            except Unsatisfiable:
                pass  # nothing in this operation to break (GET /health takes no parameters)


@pytest.mark.fuzz
def test_no_generated_request_breaks_the_contract(local_stack):
    base = f"http://127.0.0.1:{local_stack['port']}"
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    fuzzers = {role: Fuzzer(base, role, login(base, *LOGINS[role])) for role in LOGINS}
    for (role, mode), examples in EXAMPLES.items():
        fuzzers[role].run(schema, mode, examples)
    sent = sum(f.sent for f in fuzzers.values())
    failures: dict[str, list[str]] = defaultdict(list)
    for fuzzer in fuzzers.values():
        for label, found in fuzzer.failures.items():
            failures[label].extend(found)
    assert sent > 500
    report = "\n\n".join(
        f"== {label}\n" + "\n--\n".join(dict.fromkeys(found)) for label, found in failures.items()
    )
    assert not failures, (
        f"{sum(map(len, failures.values()))} of {sent} requests broke the contract:\n\n{report}"
    )
