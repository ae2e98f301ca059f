"""The deployed tables are the models' tables: infra/resources.json is generated from them."""

from infra import resources


def test_committed_resources_match_the_model_definitions():
    assert resources.OUTPUT.read_text() == resources.render(), (
        "infra/resources.json is stale: run `.venv/bin/python -m infra.resources` and commit it"
    )


def test_every_model_table_and_index_is_deployed():
    from chalicelib.models.all import MODELS

    built = resources.build()["Resources"]
    tables = {
        r["Properties"]["TableName"]["Fn::Sub"]: r for r in built.values() if r.get("Type") == "AWS::DynamoDB::Table"
    }
    for model in MODELS:
        table = tables[f"${{Stage}}-{model.Meta.base_name}"]
        deployed_indexes = {i["IndexName"] for i in table["Properties"].get("GlobalSecondaryIndexes", [])}
        assert deployed_indexes == set(
            model._get_schema()["global_secondary_indexes"]
            and [g["index_name"] for g in model._get_schema()["global_secondary_indexes"]]
            or []
        )


def test_the_template_names_no_partition_region_or_account():
    """One template for AWS China and global regions: every ARN from ${AWS::Partition} and friends, and no
    Cognito (AWS China has no user pools: the stage trusts an OIDC issuer given as parameters)."""
    import json
    import re

    text = resources.render()
    assert not re.findall(r"arn:aws(-cn)?:", text)
    assert not re.findall(r"\b(cn-north(west)?-1|us-east-1|eu-central-1)\b", text)
    assert not re.findall(r"\b\d{12}\b", text)  # no account id
    assert "AWS::Cognito" not in text
    built = json.loads(text)
    # The SLA timer's service integrations take the stack's partition (the ASL file says arn:aws for moto).
    definition = json.dumps(built["Resources"]["SlaTimer"]["Properties"]["Definition"])
    substitutions = built["Resources"]["SlaTimer"]["Properties"]["DefinitionSubstitutions"]
    assert '"Resource": "${StatesDynamodbUpdateItem}"' in definition
    assert substitutions["StatesDynamodbUpdateItem"] == {
        "Fn::Sub": "arn:${AWS::Partition}:states:::dynamodb:updateItem"
    }
    assert "arn:aws:states" not in definition
    assert {"AuthIssuer", "AuthAudience", "AuthJwksUrl", "PublicBaseUrl"} <= set(built["Parameters"])


def test_the_functions_get_the_stacks_arns_and_the_prod_stage_names_none():
    import json
    from pathlib import Path

    settings = resources.build()["Globals"]["Function"]["Environment"]["Variables"]
    assert settings["LAMPCARE_NOTIFY_TOPIC_ARN"] == {"Ref": "NotifyTopic"}
    assert settings["LAMPCARE_SLA_STATE_MACHINE_ARN"] == {"Ref": "SlaTimer"}
    assert settings["LAMPCARE_AUTH_JWKS_URL"] == {"Ref": "AuthJwksUrl"}
    config = json.loads(Path(".chalice/config.json").read_text())["stages"]["prod"]
    # A function-level variable would win over the stack's (SAM merges Globals under it).
    assert not set(config["environment_variables"]) & set(settings)
    assert "arn:" not in json.dumps(config)
    assert config["api_gateway_endpoint_type"] == "REGIONAL"  # AWS China has no edge-optimized endpoints
    assert config["environment_variables"]["LAMPCARE_GATEWAY_AUTHORIZER"] == "jwt"


def test_retained_data_is_retained_on_replacement_too_and_topics_are_encrypted():
    built = resources.build()["Resources"]
    for name, resource in built.items():
        if "DeletionPolicy" in resource:
            assert resource["UpdateReplacePolicy"] == resource["DeletionPolicy"], name
        if resource.get("Type") == "AWS::SNS::Topic":
            assert resource["Properties"]["KmsMasterKeyId"] == {"Ref": "TopicKey"}, name
    bucket = built["PhotoBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "AccessLogBucket"}
    [cors] = bucket["CorsConfiguration"]["CorsRules"]
    assert cors["AllowedOrigins"] == [{"Ref": "PublicBaseUrl"}] and cors["AllowedMethods"] == ["POST"]


def test_every_alarm_tells_the_operators():
    built = resources.build()["Resources"]
    alarms = {k: v for k, v in built.items() if v.get("Type") == "AWS::CloudWatch::Alarm"}
    assert {
        "SlaTimerFailedAlarm",
        "SlaEntriesPerHourAlarm",
        "SlaReconciledAlarm",
        "DeadLetterAlarm",
        "ApiThrottledAlarm",
    } <= set(alarms)
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "OperatorsTopic"}], name
    per_hour = alarms["SlaEntriesPerHourAlarm"]["Properties"]
    assert per_hour["Threshold"] == {"Ref": "SlaEntriesPerHourThreshold"}
    ids = {m["Id"] for m in per_hour["Metrics"]}
    assert {"timer", "reconciled1", "reconciled4"} <= ids
    # The timer's count is the Record state's exits, in the execution history the machine logs.
    machine = built["SlaTimer"]["Properties"]
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    assert machine["LoggingConfiguration"]["IncludeExecutionData"] is False  # tickets, phones
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert '$.details.name = "Record"' in built["SlaTimerEntriesFilter"]["Properties"]["FilterPattern"]


def test_the_timer_metric_filter_names_a_state_that_records():
    import json

    from infra import operations, sla_timer

    state = json.loads(sla_timer.DEFINITION_PATH.read_text())["States"][operations.TIMER_RECORD_STATE]
    assert state["Type"] == "Task" and "${SlaBreachesTable}" in json.dumps(state["Parameters"])


def test_each_packaged_function_gets_its_dead_letters_concurrency_logs_and_alarms():
    from infra import functions

    packaged = {
        "Resources": {
            "APIHandler": {"Type": "AWS::Serverless::Function", "Properties": {"Timeout": 30}},
            "SlaReconciliation": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Timeout": 30, "Events": {"E": {"Type": "Schedule"}}},
            },
            "JwtAuthorizer": {"Type": "AWS::Serverless::Function", "Properties": {"Timeout": 30}},
            "RestAPI": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "api", "Name": "n"}},
        }
    }
    done = functions.finish(packaged)["Resources"]
    concurrency = {
        k: done[k]["Properties"]["ReservedConcurrentExecutions"] for k in packaged["Resources"] if k != "RestAPI"
    }
    assert concurrency == {"APIHandler": {"Ref": "ApiReservedConcurrency"}, "SlaReconciliation": 1, "JwtAuthorizer": 10}
    for name in concurrency:
        assert done[name]["Properties"]["DeadLetterQueue"]["Type"] == "SQS"
        assert done[f"{name}Logs"]["Properties"]["RetentionInDays"] == 365
        for kind in ("Errors", "Throttles", "Duration"):
            assert done[f"{name}{kind}Alarm"]["Properties"]["AlarmActions"] == [{"Ref": "OperatorsTopic"}]
    assert done["APIHandlerDurationAlarm"]["Properties"]["Threshold"] == 24000
    assert done["Api5xxAlarm"]["Properties"]["Dimensions"][1] == {"Name": "Stage", "Value": "api"}
    assert "DeadLetterQueue" not in packaged["Resources"]["APIHandler"]["Properties"]  # a copy


def test_every_skipped_checkov_check_says_why():
    from devtools import package

    skips = package.skipped_checks()
    assert skips and all(len(reason) > 20 for reason in skips.values())
    for resources_skipped in package.skipped_for_resources().values():
        assert all(len(reason) > 20 for reason in resources_skipped.values())


def test_gateway_refusals_use_the_api_error_shape():
    """Throttling, bad tokens at the authorizer and unknown paths answer like our own errors."""
    body = resources.build()["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    gateway = body["x-amazon-apigateway-gateway-responses"]
    assert {"THROTTLED", "UNAUTHORIZED", "ACCESS_DENIED", "DEFAULT_4XX", "DEFAULT_5XX"} <= set(gateway)
    for response_type, response in gateway.items():
        template = response["responseTemplates"]["application/json"]
        assert template.startswith('{"error": {"code": "'), response_type
    assert gateway["MISSING_AUTHENTICATION_TOKEN"]["statusCode"] == 404
    assert gateway["UNAUTHORIZED"]["responseParameters"]["gatewayresponse.header.WWW-Authenticate"] == "'Bearer'"


def test_deployed_stages_put_the_cached_jwt_authorizer_on_every_non_public_route():
    import json
    import os
    import subprocess
    import sys

    probe = (
        "import json, app; print(json.dumps({'routes': {f'{m} {p}': (e.authorizer.name if e.authorizer else None) "
        "for p, ms in app.app.routes.items() for m, e in ms.items()}, 'authorizers': "
        "[[a.name, a.handler_string, a.ttl_seconds, a.header] for a in app.app.builtin_auth_handlers]}))"
    )
    env = {**os.environ, "LAMPCARE_GATEWAY_AUTHORIZER": "jwt"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    probed = json.loads(out.stdout)
    authorizers = probed["routes"]
    public = {
        "GET /health",
        "GET /r/{qr_token}",
        "POST /r/{qr_token}/reports",
        "POST /r/{qr_token}/photos",
        "GET /s/{public_ref}",
        # Open311 GeoReport v2: public as the spec has it; POST requests checks the partner's api_key itself
        *(f"GET /open311/v2/{name}.{fmt}" for name in ("discovery", "services", "requests") for fmt in ("json", "xml")),
        "POST /open311/v2/requests.json",
        "POST /open311/v2/requests.xml",
        "GET /open311/v2/requests/{service_request_file}",
    }
    assert {k for k, v in authorizers.items() if v is None} == public
    assert {v for k, v in authorizers.items() if k not in public} == {"jwt_authorizer"}
    # One Lambda authorizer, its answer cached by API Gateway per token for 5 minutes; no fallback routes.
    assert probed["authorizers"] == [
        ["jwt_authorizer", "chalicelib.handlers.gateway_auth.jwt_authorizer", 300, "Authorization"]
    ]


def test_the_package_leaves_out_what_the_runtime_has_and_keeps_what_the_app_needs():
    from devtools.package import dropped

    site = "python/lib/python3.11/site-packages/"  # the layer's layout
    twin = f"{site}fontTools/cu2qu/cu2qu.py"
    names = {twin, f"{site}fontTools/cu2qu/cu2qu.cpython-311-x86_64-linux-gnu.so"}
    for name in (
        f"{site}botocore/client.py",
        f"{site}botocore-1.44.8.dist-info/METADATA",
        f"{site}dateutil/tz/tz.py",
        f"{site}python_dateutil-2.9.0.dist-info/RECORD",
        f"{site}urllib3/__init__.py",
        f"{site}six.py",
        f"{site}fontTools/cu2qu/cu2qu.cpython-311-x86_64-linux-gnu.so",
    ):
        assert dropped(name, names), name
    for name in (
        twin,
        f"{site}cryptography/hazmat/bindings/_rust.abi3.so",  # no pure-Python twin
        f"{site}fontTools/ttLib/ttFont.py",
        f"{site}PIL/_imaging.cpython-311-x86_64-linux-gnu.so",
        "chalicelib/fonts/DroidSansFallbackFull.ttf",
        "app.py",
    ):
        assert not dropped(name, names), name
