"""Local persistence for moto: every table and photo written to one JSON file on shutdown
(and every 30 s), read back on start, so nobody loses a day's work to Ctrl-C."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import boto3

from chalicelib.domain.assets import location_key
from chalicelib.models.base import MODELS
from local_aws.calls import allow_scans


def save(path: Path, bucket: str) -> int:
    dynamodb = boto3.client("dynamodb")
    s3 = boto3.client("s3")
    tables: dict[str, list[dict[str, Any]]] = {}
    count = 0
    with allow_scans():
        for model in MODELS:
            items: list[dict[str, Any]] = []
            for page in dynamodb.get_paginator("scan").paginate(TableName=model.Meta.table_name):
                items.extend(page["Items"])
            tables[model.Meta.base_name] = items  # type: ignore[attr-defined]
            count += len(items)
    objects = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])
            objects[obj["Key"]] = {
                "content_type": body.get("ContentType", "application/octet-stream"),
                "data": base64.b64encode(body["Body"].read()).decode(),
            }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"format": 1, "tables": tables, "s3": objects}))
    os.replace(tmp, path)  # atomic: a crash mid-write never leaves half a snapshot
    return count


def _current_location_key(item: dict[str, Any]) -> dict[str, Any]:
    """Snapshots written before a change to the key's format still list their rooms."""
    if "location_key" in item:
        key = location_key(item["room_id"]["S"], item["position"]["S"], item["lamp_id"]["S"])
        item = {**item, "location_key": {"S": key}}
    return item


def load(path: Path, bucket: str) -> int:
    data = json.loads(path.read_text())
    dynamodb = boto3.client("dynamodb")
    s3 = boto3.client("s3")
    count = 0
    for model in MODELS:
        items = data["tables"].get(model.Meta.base_name, [])  # type: ignore[attr-defined]
        if model.Meta.base_name == "lamps":  # type: ignore[attr-defined]
            items = [_current_location_key(item) for item in items]
        for start in range(0, len(items), 25):
            requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            while requests:
                result = dynamodb.batch_write_item(RequestItems={model.Meta.table_name: requests})
                requests = result.get("UnprocessedItems", {}).get(model.Meta.table_name, [])
        count += len(items)
    for key, obj in data.get("s3", {}).items():
        s3.put_object(Bucket=bucket, Key=key, Body=base64.b64decode(obj["data"]), ContentType=obj["content_type"])
    return count
