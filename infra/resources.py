"""Cloud resources beside the Lambda functions, generated from the model definitions.

`python -m infra.resources` writes infra/resources.json, a CloudFormation fragment that
`chalice package --merge-template infra/resources.json` merges into the deployment:
every DynamoDB table and index exactly as the pynamodb models declare them, the SLA timer's state
machine (from infra/sla_timer.asl.json), its role and a topic per supplier role, and what a stage
needs in any partition (infra/operations.py: parameters, the functions' settings, bucket, topics and
their key, logs, dead letters, alarms). A unit test fails when the committed file and the models disagree.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pynamodb.attributes import TTLAttribute

from chalicelib.models.all import MODELS
from infra import operations

OUTPUT = Path(__file__).with_name("resources.json")


def _logical_id(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]", name) if part)


def _key_schema(keys: list[dict[str, str]]) -> list[dict[str, str]]:
    return sorted(
        ({"AttributeName": k["AttributeName"], "KeyType": k["KeyType"]} for k in keys),
        key=lambda k: k["KeyType"] != "HASH",
    )


def table_resource(model: Any) -> dict[str, Any]:
    schema = model._get_schema()
    definitions = {d["AttributeName"]: d["AttributeType"] for d in schema["attribute_definitions"]}
    properties: dict[str, Any] = {
        "TableName": {"Fn::Sub": f"${{Stage}}-{model.Meta.base_name}"},
        "BillingMode": "PAY_PER_REQUEST",
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        # The stage's own key (infra/operations.data_key): its use is logged, and revoking it closes the data.
        "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "DataKey"}},
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in sorted(definitions.items())],
        "KeySchema": _key_schema(schema["key_schema"]),
    }
    if schema["global_secondary_indexes"]:
        properties["GlobalSecondaryIndexes"] = [
            {
                "IndexName": gsi["index_name"],
                "KeySchema": _key_schema(gsi["key_schema"]),
                "Projection": gsi["projection"],
            }
            for gsi in sorted(schema["global_secondary_indexes"], key=lambda g: g["index_name"])
        ]
    ttl = [name for name, attr in model.get_attributes().items() if isinstance(attr, TTLAttribute)]
    if ttl:
        properties["TimeToLiveSpecification"] = {"AttributeName": ttl[0], "Enabled": True}
    return {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": properties,
    }


# Refusals API Gateway gives before our code runs, in our error shape (mobile_api_docs/README.md).
GATEWAY_ERRORS = {
    "THROTTLED": "throttled",
    "QUOTA_EXCEEDED": "throttled",
    "UNAUTHORIZED": "unauthenticated",
    "ACCESS_DENIED": "forbidden",
    "MISSING_AUTHENTICATION_TOKEN": "not_found",  # what API Gateway answers for an unknown path
    "REQUEST_TOO_LARGE": "payload_too_large",
    "DEFAULT_4XX": "bad_request",
    "DEFAULT_5XX": "unavailable",
}


def gateway_responses() -> dict[str, Any]:
    """Merged (deeply, by `chalice package --merge-template`) into the API's own OpenAPI body, so
    that a change to them changes the deployment's hash and takes effect on the next deploy."""
    responses = {}
    for response_type, code in GATEWAY_ERRORS.items():
        template = (
            '{"error": {"code": "' + code + '", "message": $context.error.messageString, "details": [], '
            '"request_id": "$context.requestId"}}'
        )
        response: dict[str, Any] = {"responseTemplates": {"application/json": template}}
        if response_type == "MISSING_AUTHENTICATION_TOKEN":
            response["statusCode"] = 404
        if response_type == "UNAUTHORIZED":
            response["responseParameters"] = {"gatewayresponse.header.WWW-Authenticate": "'Bearer'"}
        responses[response_type] = response
    return {"RestAPI": {"Properties": {"DefinitionBody": {"x-amazon-apigateway-gateway-responses": responses}}}}


def sla_timer_resources() -> dict[str, Any]:
    """Issue 10: a topic per supplier role, the SLA timer's state machine from infra/sla_timer.asl.json (its
    `${...}` placeholders filled by DefinitionSubstitutions with the stage's tables) and the role it runs
    as: conditional updates of tickets, its records and notifications, and publishing to the role topics."""
    from infra import sla_timer

    resources: dict[str, Any] = {}
    topics = []
    for role in sla_timer.supplier_roles():
        logical = f"RoleTopic{_logical_id(role)}"
        resources[logical] = operations.encrypted_topic(sla_timer.TOPIC_NAME.format(stage="${Stage}", role=role))
        topics.append({"Ref": logical})
    tables = {placeholder: {"Fn::Sub": f"${{Stage}}-{base}"} for placeholder, base in sla_timer.TABLES.items()}
    table_arns = [
        {"Fn::Sub": f"arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/${{Stage}}-{base}"}
        for base in sla_timer.TABLES.values()
    ]
    resources["SlaTimerRole"] = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "states.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
            "Policies": [
                {
                    "PolicyName": "sla-timer",
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["dynamodb:UpdateItem", "dynamodb:PutItem"],
                                "Resource": table_arns,
                            },
                            {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": topics},
                            *operations.timer_role_statements(),
                        ],
                    },
                }
            ],
        },
    }
    # The ASL names its service integrations in the aws partition (moto runs it as it is); deployed, each
    # is a placeholder filled with the stack's partition (arn:aws-cn:states:::dynamodb:updateItem in AWS
    # China). A whole-value placeholder, so that cfn-lint still checks the rest of the definition.
    definition = sla_timer.DEFINITION_PATH.read_text()
    integrations = {}
    for arn in sorted(set(re.findall(r'"arn:aws:states:::([a-zA-Z0-9.:]+)"', definition))):
        placeholder = "States" + "".join(p[:1].upper() + p[1:] for p in re.split(r"[:.]", arn))
        integrations[placeholder] = {"Fn::Sub": f"arn:${{AWS::Partition}}:states:::{arn}"}
        definition = definition.replace(f'"arn:aws:states:::{arn}"', f'"${{{placeholder}}}"')
    resources["SlaTimer"] = {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {
            "StateMachineName": {"Fn::Sub": sla_timer.MACHINE_NAME.format(stage="${Stage}")},
            "StateMachineType": "STANDARD",
            "Definition": json.loads(definition),
            "DefinitionSubstitutions": {**tables, **integrations},
            "RoleArn": {"Fn::GetAtt": ["SlaTimerRole", "Arn"]},
            **operations.timer_machine_settings(),
        },
    }
    return resources


def build() -> dict[str, Any]:
    resources: dict[str, Any] = {
        f"{_logical_id(m.Meta.base_name)}Table": table_resource(m)
        for m in MODELS  # type: ignore[attr-defined]
    }
    resources.update(operations.data_key())
    resources.update(operations.topic_key())
    resources.update(operations.photo_buckets())
    resources["NotifyTopic"] = operations.encrypted_topic("lampcare-${Stage}-notify")
    resources.update(operations.dead_letters())
    resources.update(operations.timer_observability())
    resources.update(operations.alarms())
    resources.update(sla_timer_resources())
    resources.update(operations.gateway())
    resources["RestAPI"] = _merge(gateway_responses()["RestAPI"], operations.gateway()["RestAPI"])
    return {
        "Parameters": operations.parameters(),
        # SAM merges these into every function's environment (config.json's own variables win).
        "Globals": {"Function": {"Environment": {"Variables": operations.function_settings()}}},
        "Resources": resources,
        "Outputs": {
            "NotifyTopicArn": {"Value": {"Ref": "NotifyTopic"}},
            "OperatorsTopicArn": {"Value": {"Ref": "OperatorsTopic"}},
            "PhotoBucketName": {"Value": {"Ref": "PhotoBucket"}},
            "SlaStateMachineArn": {"Value": {"Ref": "SlaTimer"}},
            "RoleTopicArnPrefix": {
                "Value": {"Fn::Sub": "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:lampcare-${Stage}-"}
            },
            "DeadLetterQueueUrl": {"Value": {"Ref": "FunctionDeadLetterQueue"}},
        },
    }


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    merged = dict(a)
    for key, value in b.items():
        merged[key] = (
            _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    OUTPUT.write_text(render())
    print(f"wrote {OUTPUT}")
