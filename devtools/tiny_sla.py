"""A seconds-scale SLA policy: the benchmark and the SLA timer tests watch real timers fire.

Red is answered within 3 s and on site within 6 s; yellow within 5 s and 10 s; blue within 12 s and
20 s. The ladder is DOMAIN's (D-S4), its last rung 3 s after the on-site deadline.
"""

from __future__ import annotations

from typing import Any

S = 1 / 60  # a policy minute that lasts a second
TINY_POLICY: dict[str, Any] = {
    "levels": {
        "4": {
            "response_minutes": 3 * S,
            "onsite_minutes": 6 * S,
            "notify_roles": ["parts_manager", "project_lead", "technical_manager"],
        },
        "3": {"response_minutes": 4 * S, "onsite_minutes": 8 * S, "notify_roles": ["parts_manager", "project_lead"]},
        "2": {"response_minutes": 5 * S, "onsite_minutes": 10 * S, "notify_roles": ["parts_manager"]},
        "1": {"response_minutes": 12 * S, "onsite_minutes": 20 * S},
    },
    "escalation": [
        {"tier": "line_2", "after": "response", "notify_roles": ["expert", "dispatcher"]},
        {"tier": "project_lead", "after": "onsite", "notify_roles": ["project_lead", "dispatcher"]},
        {"tier": "technical_manager", "after": "onsite", "delay_minutes": 3 * S, "notify_roles": ["technical_manager"]},
    ],
}
