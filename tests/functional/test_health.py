"""GET /health (issue 2 item 9)."""

import json


def test_health_reports_version_and_reachable_tables_without_auth(client):
    response = client.http.get("/health")
    assert response.status_code == 200
    body = json.loads(response.body)
    assert body["status"] == "ok"
    assert body["tables"]["reachable"] is True
    from chalicelib import __version__

    assert body["version"] == __version__
    assert response.headers["X-Request-Id"]


def test_health_reports_unreachable_tables_as_503(client):
    from chalicelib.models.registry import CounterModel

    CounterModel.delete_table()
    response = client.http.get("/health")
    assert response.status_code == 503
    assert json.loads(response.body)["tables"]["reachable"] is False
