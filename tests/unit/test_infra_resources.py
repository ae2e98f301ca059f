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


def test_one_cognito_group_per_role():
    from chalicelib.auth import Role

    groups = {
        r["Properties"]["GroupName"]
        for r in resources.build()["Resources"].values()
        if r.get("Type") == "AWS::Cognito::UserPoolGroup"
    }
    assert groups == {r.value for r in Role}


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
