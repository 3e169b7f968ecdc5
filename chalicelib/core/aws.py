"""boto3 clients, created lazily once per container with the standard retry mode.

Endpoints come from boto3's own configuration (``AWS_ENDPOINT_URL`` locally), never from code.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.core.config import settings

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)


@functools.cache
def dynamodb() -> Any:
    """The DynamoDB client of the resource interface: it (de)serialises plain Python values."""
    return boto3.resource("dynamodb", region_name=settings().region, config=_CONFIG).meta.client


@functools.cache
def dynamodb_wire() -> Any:
    """A plain DynamoDB client (typed attribute values), for libraries that speak the wire format."""
    return boto3.client("dynamodb", region_name=settings().region, config=_CONFIG)


@functools.cache
def cognito() -> Any:
    return boto3.client("cognito-idp", region_name=settings().region, config=_CONFIG)


@functools.cache
def events() -> Any:
    return boto3.client("events", region_name=settings().region, config=_CONFIG)


@functools.cache
def sqs() -> Any:
    return boto3.client("sqs", region_name=settings().region, config=_CONFIG)


@functools.cache
def s3() -> Any:
    """S3 with SigV4 (presigned URLs for KMS-encrypted objects need it)."""
    config = _CONFIG.merge(Config(signature_version="s3v4", read_timeout=30))
    return boto3.client("s3", region_name=settings().region, config=config)


@functools.cache
def ses() -> Any:
    return boto3.client("ses", region_name=settings().region, config=_CONFIG)
