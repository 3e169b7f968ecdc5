"""DynamoDB reads counted by calls and by items read (what DynamoDB charges read units for), on both
clients the app uses: what tests of "the same cost at any size" compare."""

from __future__ import annotations

from typing import Any

READS = ("GetItem", "BatchGetItem", "Query", "Scan")


class Reads:
    def __init__(self) -> None:
        from chalicelib.core import aws

        self.calls = self.items = 0
        aws.observe("after-call.dynamodb.*", self._one)

    def _one(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name not in READS:
            return
        self.calls += 1
        if model.name == "GetItem":
            self.items += 1 if parsed.get("Item") else 0
        elif model.name == "BatchGetItem":
            self.items += sum(len(found) for found in parsed.get("Responses", {}).values())
        else:
            self.items += int(parsed.get("ScannedCount", 0))

    def take(self) -> tuple[int, int]:
        """(calls, items) since the last take."""
        taken = (self.calls, self.items)
        self.calls = self.items = 0
        return taken

    def close(self) -> None:
        from chalicelib.core import aws

        aws.unobserve("after-call.dynamodb.*", self._one)

    def __enter__(self) -> Reads:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
