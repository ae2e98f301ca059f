"""The embedded AWS's write journal, in-process: replaying it rebuilds exactly what the writes made.

Every kind of write the journal records (DynamoDB's five write operations, refused ones
included, and S3's puts, presigned-POST uploads, copies and deletes) runs through moto with the
lock and the journal of `local_aws.moto_patches.serialized`; a second, empty moto then replays
the journal and must hold the same items and objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from moto import mock_aws

from local_aws.journal import Journal, apply_entry, backends, journal_files, read_entries
from local_aws.moto_patches import fast_transactions, serialized

BUCKET = "journal-test"


def _create_resources() -> None:
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName="pairs",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.create_table(
        TableName="counters",
        KeySchema=[{"AttributeName": "name", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "name", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    boto3.client("s3").create_bucket(Bucket=BUCKET)


def _state() -> dict[str, Any]:
    dynamodb, s3 = backends()
    tables = {
        name: sorted(repr(item.to_json()["Attributes"]) for item in dynamodb.get_table(name).all_items())
        for name in ("pairs", "counters")
    }
    bucket = s3.get_bucket(BUCKET)
    objects = {name: (bucket.keys[name].value, dict(bucket.keys[name].metadata)) for name in bucket.keys}
    return {"tables": tables, "objects": objects}


def _refused(call: Any, **kwargs: Any) -> None:
    with pytest.raises(ClientError):
        call(**kwargs)


def _every_kind_of_write() -> None:
    db = boto3.client("dynamodb")
    s3 = boto3.client("s3")
    db.put_item(TableName="pairs", Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "tags": {"SS": ["x", "y"]}})
    db.put_item(TableName="pairs", Item={"pk": {"S": "a"}, "sk": {"S": "2"}, "doc": {"M": {"n": {"N": "1"}}}})
    for _ in range(3):
        db.update_item(
            TableName="counters",
            Key={"name": {"S": "tickets"}},
            UpdateExpression="ADD next_value :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
    _refused(  # a refused conditional write changes nothing and is not journaled
        db.put_item,
        TableName="pairs",
        Item={"pk": {"S": "a"}, "sk": {"S": "1"}},
        ConditionExpression="attribute_not_exists(pk)",
    )
    db.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "pairs", "Item": {"pk": {"S": "b"}, "sk": {"S": "1"}, "v": {"N": "7"}}}},
            {
                "Update": {
                    "TableName": "counters",
                    "Key": {"name": {"S": "tickets"}},
                    "UpdateExpression": "ADD next_value :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
            {"Delete": {"TableName": "pairs", "Key": {"pk": {"S": "a"}, "sk": {"S": "2"}}}},
            {
                "ConditionCheck": {
                    "TableName": "pairs",
                    "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
        ]
    )
    _refused(  # a cancelled transaction: all or nothing
        db.transact_write_items,
        TransactItems=[
            {"Put": {"TableName": "pairs", "Item": {"pk": {"S": "c"}, "sk": {"S": "1"}}}},
            {
                "ConditionCheck": {
                    "TableName": "pairs",
                    "Key": {"pk": {"S": "zz"}, "sk": {"S": "0"}},
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
        ],
    )
    db.batch_write_item(
        RequestItems={
            "pairs": [{"PutRequest": {"Item": {"pk": {"S": "d"}, "sk": {"S": str(n)}}}} for n in range(5)]
            + [{"DeleteRequest": {"Key": {"pk": {"S": "b"}, "sk": {"S": "1"}}}}]
        }
    )
    db.delete_item(TableName="pairs", Key={"pk": {"S": "d"}, "sk": {"S": "0"}})

    s3.put_object(
        Bucket=BUCKET, Key="photos/1.jpg", Body=b"\xff\xd8jpeg", ContentType="image/jpeg", Metadata={"by": "eng-1"}
    )
    s3.put_object(Bucket=BUCKET, Key="photos/2.jpg", Body=b"two")
    post = s3.generate_presigned_post(
        Bucket=BUCKET,
        Key="uploads/3.png",
        Fields={"Content-Type": "image/png"},
        Conditions=[{"Content-Type": "image/png"}],
    )
    uploaded = requests.post(post["url"], data=post["fields"], files={"file": ("3.png", b"\x89PNG...")}, timeout=10)
    assert uploaded.status_code in (200, 204), uploaded.text
    s3.copy_object(Bucket=BUCKET, Key="photos/copy.jpg", CopySource={"Bucket": BUCKET, "Key": "photos/1.jpg"})
    s3.delete_object(Bucket=BUCKET, Key="photos/2.jpg")
    s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "photos/copy.jpg"}]})


@pytest.fixture
def journal_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


def test_replaying_the_journal_rebuilds_every_item_and_object(journal_dir: Path) -> None:
    with mock_aws(), fast_transactions(), serialized() as serial:
        _create_resources()
        serial.journal = Journal(journal_dir, 1)
        _every_kind_of_write()
        written = _state()
        serial.journal.close()
    assert written["tables"]["counters"] and written["objects"]["uploads/3.png"][0] == b"\x89PNG..."
    assert written["objects"]["photos/1.jpg"][1]["content-type"] == "image/jpeg"

    [(_, path)] = journal_files(journal_dir)
    entries = list(read_entries(path))
    assert len(entries) == 14  # 2 puts, 3 updates, 1 transaction, 1 batch, 1 delete (not the refused); 6 S3
    with mock_aws():
        _create_resources()
        dynamodb, s3 = backends()
        for entry in entries:
            apply_entry(entry, dynamodb, s3)
        assert _state() == written


def test_a_torn_last_line_is_dropped_as_never_acknowledged(journal_dir: Path) -> None:
    journal = Journal(journal_dir, 4)
    journal.append({"dynamodb": [{"table": "pairs", "delete": {"pk": {"S": "a"}, "sk": {"S": "1"}}}]})
    journal.close()
    path = journal_files(journal_dir)[0][1]
    with path.open("ab") as f:
        f.write(b'{"dynamodb": [{"table": "pairs", "put": {"pk"')  # the kill came mid-write
    assert len(list(read_entries(path))) == 1


# ---- the snapshot of `make run`'s data directory ----------------------------------------------------


def _model_tables() -> dict[str, Any]:
    from chalicelib.models.all import MODELS

    return {model.Meta.base_name: model for model in MODELS}  # type: ignore[attr-defined]


def _app_state(bucket: str) -> dict[str, Any]:
    dynamodb, s3 = backends()
    tables = {
        base: sorted(repr(i.to_json()["Attributes"]) for i in dynamodb.get_table(m.Meta.table_name).all_items())
        for base, m in _model_tables().items()
    }
    keys = s3.get_bucket(bucket).keys
    return {"tables": tables, "objects": {name: keys[name].value for name in keys}}


def _old_format_snapshot(bucket: str) -> dict[str, Any]:
    """What `devtools/snapshot.py` wrote before the journal: each table's items as a Scan returns them
    (taken from moto's tables here: the suite's No-Scan guard refuses Scans), objects by key."""
    import base64

    dynamodb, s3 = backends()
    tables = {
        base: [i.to_json()["Attributes"] for i in dynamodb.get_table(m.Meta.table_name).all_items()]
        for base, m in _model_tables().items()
    }
    client = boto3.client("s3")
    objects = {}
    for obj in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        body = client.get_object(Bucket=bucket, Key=obj["Key"])
        objects[obj["Key"]] = {
            "content_type": body["ContentType"],
            "data": base64.b64encode(body["Body"].read()).decode(),
        }
    return {"format": 1, "tables": tables, "s3": objects}


def _app_resources(bucket: str) -> None:
    from chalicelib.models.all import bind_tables, create_all_tables

    bind_tables()
    create_all_tables()
    boto3.client("s3").create_bucket(Bucket=bucket)


def _some_app_writes(bucket: str, tag: str) -> None:
    """One item in each table (its keys made from `tag`, in the key's type) and one photo."""
    db = boto3.client("dynamodb")
    number = str(sum(map(ord, tag)))
    for base, model in _model_tables().items():
        table = backends()[0].get_table(model.Meta.table_name)
        types = {a["AttributeName"]: a["AttributeType"] for a in table.attr}
        item = {"tag": {"S": tag}}
        for key in filter(None, (table.hash_key_attr, table.range_key_attr)):
            item[key] = {"N": number} if types[key] == "N" else {"S": f"{tag}-{base}"}
        db.put_item(TableName=model.Meta.table_name, Item=item)
    boto3.client("s3").put_object(Bucket=bucket, Key=f"photos/{tag}.jpg", Body=tag.encode(), ContentType="image/jpeg")


def test_an_old_snapshot_loads_and_compaction_keeps_everything(tmp_path: Path) -> None:
    import json

    from local_aws.snapshot import LocalStore

    bucket = "lampcare-test-photos"
    with mock_aws():  # the data directory as the previous version of `make run` left it
        _app_resources(bucket)
        _some_app_writes(bucket, "old")
        before = _app_state(bucket)
        (tmp_path / "snapshot.json").write_text(json.dumps(_old_format_snapshot(bucket)))

    with mock_aws(), serialized() as serial:
        _app_resources(bucket)
        store = LocalStore(tmp_path, bucket, serial)
        assert store.restore() == (len(_model_tables()), 0)
        assert _app_state(bucket) == before
        store.start_journal()
        _some_app_writes(bucket, "new")  # journaled
        store.compact()
        _some_app_writes(bucket, "newer")  # journaled after the compaction
        after = _app_state(bucket)
        store.journal.close()  # type: ignore[union-attr]  # as a kill would leave it: no final snapshot

    with mock_aws(), serialized() as serial:
        _app_resources(bucket)
        store = LocalStore(tmp_path, bucket, serial)
        assert store.restore() == (2 * len(_model_tables()), len(_model_tables()) + 1)
        assert _app_state(bucket) == after
        store.start_journal()
        store.close()
