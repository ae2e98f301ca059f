"""Table names carry the stage prefix, even for a model whose module loads after the first request."""

import os
import subprocess
import sys


def test_a_model_loaded_after_binding_gets_the_stage_prefix():
    """The idempotency store loads on the first keyed request, long after bind_tables() ran (in a
    deployed Lambda nothing imports every model up front). Its table must still be prod-idempotency."""
    probe = (
        "from chalicelib.models import registry; from chalicelib.models.base import bind_tables; "
        "bind_tables('prod-'); from chalicelib.models.idempotency import IdempotencyRecordModel; "
        "print(registry.LampModel.Meta.table_name, IdempotencyRecordModel.Meta.table_name)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=dict(os.environ)
    )
    assert out.stdout.split() == ["prod-lamps", "prod-idempotency"]
