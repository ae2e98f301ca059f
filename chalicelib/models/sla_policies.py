"""Every revision of a contract's SLA policy (D-S5): a ticket's deadlines come from the revision in force
when it was reported, so a level change on an older ticket reads its revision here. The contract item
holds the current revision; this table holds each one written by putSlaPolicy and the one it replaced."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from chalicelib.models.base import register


class SlaPolicyRevisionModel(Model):
    class Meta:
        table_name = "sla-policies"

    contract_id = UnicodeAttribute(hash_key=True)
    revision = NumberAttribute(range_key=True)
    policy = JSONAttribute()
    effective_from = UTCDateTimeAttribute()  # tickets reported from then on use it
    updated_by = UnicodeAttribute(default="")


register(SlaPolicyRevisionModel)
