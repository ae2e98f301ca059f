"""The deployed tables are the models' tables: infra/resources.json is generated from them."""

from infra import resources


def test_committed_resources_match_the_model_definitions():
    assert resources.OUTPUT.read_text() == resources.render(), (
        "infra/resources.json is stale: run `.venv/bin/python -m infra.resources` and commit it"
    )


def test_every_model_table_and_index_is_deployed():
    from chalicelib.models.all import MODELS

    built = resources.build()["Resources"]
    tables = {r["Properties"]["TableName"]["Fn::Sub"]: r for r in built.values() if r["Type"] == "AWS::DynamoDB::Table"}
    for model in MODELS:
        table = tables[f"${{Stage}}-{model.Meta.base_name}"]
        deployed_indexes = {i["IndexName"] for i in table["Properties"].get("GlobalSecondaryIndexes", [])}
        assert deployed_indexes == set(model._get_schema()["global_secondary_indexes"] and
                                       [g["index_name"] for g in model._get_schema()["global_secondary_indexes"]] or [])


def test_one_cognito_group_per_role():
    from chalicelib.auth import Role

    groups = {r["Properties"]["GroupName"] for r in resources.build()["Resources"].values()
              if r["Type"] == "AWS::Cognito::UserPoolGroup"}
    assert groups == {r.value for r in Role}
