"""Structured logs and metrics with Powertools (Logger and Metrics; no Tracer, whose X-Ray SDK
import alone costs about 300 ms of cold start)."""

from __future__ import annotations

import functools
from typing import Any

SERVICE = "crmerp-api"


@functools.cache
def logger() -> Any:
    from aws_lambda_powertools import Logger

    return Logger(service=SERVICE)


@functools.cache
def metrics() -> Any:
    from aws_lambda_powertools import Metrics

    return Metrics(namespace="CrmErp", service=SERVICE)


def start_request(request: Any) -> None:
    context = request.context or {}
    log = logger()
    log.clear_state()
    log.append_keys(request_id=context.get("requestId"), method=request.method, path=request.path)


def bind(**keys: str) -> None:
    logger().append_keys(**keys)


@functools.cache
def metrics_enabled() -> bool:
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    return not is_metrics_disabled()


def finish_request(request: Any, status: int, seconds: float) -> None:
    from aws_lambda_powertools.metrics import MetricUnit

    logger().info("request", extra={"status": status, "duration_ms": round(seconds * 1000, 2)})
    if not metrics_enabled():  # disabled, Powertools would still buffer and print every 100 values
        return
    m = metrics()
    m.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    if status >= 500:
        m.add_metric(name="ServerErrors", unit=MetricUnit.Count, value=1)
    m.flush_metrics()


def count(name: str, value: int = 1) -> None:
    """A count metric, flushed at once (in AWS an EMF line that CloudWatch turns into the metric)."""
    from aws_lambda_powertools.metrics import MetricUnit

    if not metrics_enabled():
        return
    m = metrics()
    m.add_metric(name=name, unit=MetricUnit.Count, value=value)
    m.flush_metrics()
