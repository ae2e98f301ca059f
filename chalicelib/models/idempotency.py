"""The idempotency store (Powertools' DynamoDB persistence layer writes it; we only declare it).

Declared as a model so that `make run`, the tests and infra/resources.json create it like
every other table. Records expire through DynamoDB's TTL on `expiration`.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.models.base import bind_tables, register


@register
class IdempotencyRecordModel(Model):
    class Meta:
        table_name = "idempotency"

    id = UnicodeAttribute(hash_key=True)
    expiration = TTLAttribute(null=True)
    in_progress_expiration = NumberAttribute(null=True)
    status = UnicodeAttribute(null=True)
    data = UnicodeAttribute(null=True)
    validation = UnicodeAttribute(null=True)


def idempotency_table_name() -> str:
    """For Powertools' persistence layer, which talks to the table itself."""
    bind_tables()
    name: str = IdempotencyRecordModel.Meta.table_name
    return name
