"""The template's data resources deploy, and they are the tables the code uses.

The tables of infra/resources.json (what `make package` merges into the deployment) are deployed into
moto's CloudFormation as a stack of their own; each must describe exactly like the table pynamodb creates
from the model (keys, attribute types, every index with its keys and projection, billing mode). moto
skips point-in-time recovery and TTL (../shared/PLATFORM-NOTES.md): those are checked in the template."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.models.all import MODELS
from infra import resources

STAGE = "deployed"


def _data_template() -> dict[str, Any]:
    built = resources.build()
    data = {k: v for k, v in built["Resources"].items() if v.get("Type") in ("AWS::DynamoDB::Table", "AWS::KMS::Key")}
    return {"Parameters": {"Stage": built["Parameters"]["Stage"]}, "Resources": data}


def _shape(description: dict[str, Any]) -> dict[str, Any]:
    """What makes two tables the same for the code: keys, key types, indexes, billing."""
    return {
        "KeySchema": description["KeySchema"],
        "AttributeDefinitions": sorted(description["AttributeDefinitions"], key=lambda d: d["AttributeName"]),
        "GlobalSecondaryIndexes": sorted(
            (
                {"IndexName": g["IndexName"], "KeySchema": g["KeySchema"], "Projection": g["Projection"]}
                for g in description.get("GlobalSecondaryIndexes", [])
            ),
            key=lambda g: g["IndexName"],
        ),
        "LocalSecondaryIndexes": description.get("LocalSecondaryIndexes", []),
        "BillingMode": description.get("BillingModeSummary", {}).get("BillingMode"),
    }


@pytest.fixture
def deployed(aws):
    import boto3

    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(
        StackName=f"lampcare-{STAGE}-data",
        TemplateBody=json.dumps(_data_template()),
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": STAGE}],
    )
    stack = cloudformation.describe_stacks(StackName=f"lampcare-{STAGE}-data")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return cloudformation.describe_stack_resources(StackName=f"lampcare-{STAGE}-data")["StackResources"]


def test_the_template_tables_deploy_and_equal_the_model_tables(deployed):
    """The aws fixture made test-<table> from the models; the stack made deployed-<table> from the template."""
    import boto3

    dynamodb = boto3.client("dynamodb")
    tables = {r["PhysicalResourceId"] for r in deployed if r["ResourceType"] == "AWS::DynamoDB::Table"}
    assert tables == {f"{STAGE}-{m.Meta.base_name}" for m in MODELS}
    for model in MODELS:
        from_template = dynamodb.describe_table(TableName=f"{STAGE}-{model.Meta.base_name}")["Table"]
        from_model = dynamodb.describe_table(TableName=model.Meta.table_name)["Table"]
        assert from_model["TableName"] == f"test-{model.Meta.base_name}"
        assert _shape(from_template) == _shape(from_model), model.Meta.base_name
        assert from_template["TableStatus"] == "ACTIVE"


def test_the_template_keeps_the_data_moto_does_not_deploy():
    """What moto's CloudFormation skips, checked in the template: recovery, expiry, retention, the key."""
    from pynamodb.attributes import TTLAttribute

    tables = _data_template()["Resources"]
    assert tables["DataKey"]["Properties"]["EnableKeyRotation"] is True
    for model in MODELS:
        table = tables[f"{resources._logical_id(model.Meta.base_name)}Table"]
        assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")
        properties = table["Properties"]
        assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert properties["SSESpecification"] == {
            "SSEEnabled": True,
            "SSEType": "KMS",
            "KMSMasterKeyId": {"Ref": "DataKey"},
        }
        ttl = [n for n, a in model.get_attributes().items() if isinstance(a, TTLAttribute)]
        expected = {"AttributeName": ttl[0], "Enabled": True} if ttl else None
        assert properties.get("TimeToLiveSpecification") == expected, model.Meta.base_name
