"""The reports of a visit (D-S1): the fault technical report (故障技术报告) that the engineer fills for every
visit and the account manager archives, and for yellow and worse the fault handling report (故障处理报告)
delivered to the school.

A report can be pulled at any stage after check-in, so every part of the visit may still be missing, and
what the visit wrote is read leniently: a value of the wrong type, or a time that does not parse, is "not
recorded" (shown as 未填写), never an error. This module reads the visit's stored records into clean values
and holds the words the printed reports use. Plain Python: no AWS, no HTTP, no storage.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from chalicelib.domain.public_reports import SCHOOL_TZ

ReportKind = Literal["fault_technical", "fault_handling"]

# D-S1: yellow (2), orange (3) and red (4) faults also produce the handling report for the school.
HANDLING_MIN_LEVEL = 2

TITLES: dict[ReportKind, tuple[str, str]] = {
    "fault_technical": ("故障技术报告", "Fault technical report"),
    "fault_handling": ("故障处理报告", "Fault handling report"),
}

NOT_RECORDED = "未填写"  # a part of the visit not recorded (yet)
DASH = "—"  # a single value not recorded

COLOUR_WORDS = {"red": "红色", "orange": "橙色", "yellow": "黄色", "blue": "蓝色"}
STATUS_WORDS = {
    "reported": "已报修",
    "triaged": "已分级",
    "assigned": "已派工",
    "acknowledged": "已接单",
    "en_route": "在途",
    "on_site": "已到场",
    "resolved": "已修复",
    "signed_off": "已签认",
    "closed": "已关闭",
    "cancelled": "已取消",
    "merged": "已合并",
    "reopened": "已重开",
}
# D-O3's categories and what a teacher sees on a lamp (domain.tickets.Category).
CATEGORY_WORDS = {
    "operation_error": "操作错误",
    "software_error": "软件错误",
    "configuration_error": "配置错误",
    "hardware_fault": "硬件故障",
    "not_lit": "不亮",
    "flickering": "闪烁",
    "dim": "亮度不足",
    "noise": "噪音",
    "physical_damage": "物理损坏",
    "controller_fault": "控制器故障",
    "other": "其他",
}
MILESTONE_WORDS = {"response": "响应", "onsite": "到场", "resolution": "修复"}
SIGN_OFF_METHODS = {"otp": "短信验证码", "signature": "手写签名"}
PHOTO_STAGES = {"before": "维修前", "after": "维修后"}
LAMP_STATES = {"in_service": "在用", "replaced": "已更换", "retired": "已报废"}
# D-S1: after a red fault the device's state is followed up.
FOLLOW_UP_LEVEL = 4


def needs_handling_report(level: int) -> bool:
    return level >= HANDLING_MIN_LEVEL


# ---- lenient readers: a stored value, or None when it is absent or not what it should be ----------


def text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    return None


def when(value: Any) -> dt.datetime | None:
    """An aware time; a time stored without a zone is read as UTC (the server writes UTC)."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        try:
            moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        result = float(Decimal(str(value))) if isinstance(value, str | Decimal) else float(value)
    except (InvalidOperation, TypeError, ValueError, OverflowError):
        return None
    return result if math.isfinite(result) else None


def whole(value: Any) -> int | None:
    result = number(value)
    return int(result) if result is not None and result == int(result) else None


def flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def record(value: Any) -> Mapping[str, Any]:
    """A stored map (pynamodb's JSON and map attributes, or a plain dict); anything else is empty."""
    if isinstance(value, Mapping):
        return value
    as_dict = getattr(value, "as_dict", None)  # pynamodb MapAttribute
    if callable(as_dict):
        result = as_dict()
        return result if isinstance(result, Mapping) else {}
    return {}


def records(value: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, list | tuple):
        return []
    return [r for r in (record(item) for item in value) if r]


def _present(section: dict[str, Any]) -> dict[str, Any] | None:
    """None when nothing of a section was recorded: the report says 未填写 once for the whole part."""
    return section if any(v not in (None, []) for v in section.values()) else None


# ---- the visit's parts, as stored on the ticket by the visit's routes ----------------------------


def travel(raw: Any) -> dict[str, Any] | None:
    r = record(raw)
    return _present(
        {"started_at": when(r.get("started_at")), "eta": when(r.get("eta")), "device_at": when(r.get("device_at"))}
    )


def check_in(raw: Any) -> dict[str, Any] | None:
    r = record(raw)
    return _present(
        {
            "at": when(r.get("at")),
            "device_at": when(r.get("device_at")),
            "lat": number(r.get("lat")),
            "lon": number(r.get("lon")),
            "accuracy_m": number(r.get("accuracy_m")),
            "distance_m": number(r.get("distance_m")),
            "inside_fence": flag(r.get("inside_fence")),
            "device_clock_ok": flag(r.get("device_clock_ok")),
        }
    )


def check_out(raw: Any) -> dict[str, Any] | None:
    r = record(raw)
    return _present({"at": when(r.get("at")), "device_at": when(r.get("device_at"))})


def actions(value: Any) -> list[str]:
    """What was done: one text or a list of steps."""
    if isinstance(value, list | tuple):
        return [t for t in (text(v) for v in value) if t]
    single = text(value)
    return [single] if single else []


def part(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "sku": text(raw.get("sku")),
        "name": text(raw.get("name")),
        "qty": whole(raw.get("qty")),
        "location_id": text(raw.get("location_id")),
    }


def swap(raw: Any) -> dict[str, Any] | None:
    r = record(raw)
    return _present(
        {
            "old_serial": text(r.get("old_serial")),
            "new_serial": text(r.get("new_serial")),
            "new_lamp_id": text(r.get("new_lamp_id")),
        }
    )


def work(raw: Any) -> dict[str, Any] | None:
    r = record(raw)
    return _present(
        {
            "cause": text(r.get("cause")),
            "category": text(r.get("category")),
            "actions": actions(r.get("actions")),
            "parts": [part(p) for p in records(r.get("parts"))],
            "swap": swap(r.get("swap")),
            "recorded_at": when(r.get("recorded_at")),
            "by": text(r.get("by")),
        }
    )


def photos(raw: Any) -> list[dict[str, Any]]:
    """The visit's before and after photos (not the school's report photos, which are the ticket's `photos`)."""
    return [
        {
            "photo_id": text(p.get("photo_id")),
            "stage": text(p.get("stage")),
            "content_type": text(p.get("content_type")),
            "size": whole(p.get("size")),
            "at": when(p.get("at")),
        }
        for p in records(raw)
    ]


def satisfaction(value: Any) -> int | None:
    score = whole(value)
    return score if score is not None and 1 <= score <= 5 else None


def sign_off(raw: Any) -> dict[str, Any] | None:
    """The school's sign-off (D-O2, D-O4). Older tickets carry the typed-name sign-off: signer and time only."""
    r = record(raw)
    return _present(
        {
            "method": text(r.get("method")),
            "signer_name": text(r.get("signer_name")),
            "signer_role": text(r.get("signer_role")),
            "at": when(r.get("at")),
            "lat": number(r.get("lat")),
            "lon": number(r.get("lon")),
            "satisfaction": satisfaction(r.get("satisfaction")),
            "comment": text(r.get("comment")),
        }
    )


def missing_parts(parts: Mapping[str, Any]) -> list[str]:
    """The names of the visit's parts not recorded yet, in the order a visit records them."""
    return [name for name, value in parts.items() if value in (None, [])]


# ---- words for the printed reports ----------------------------------------------------------------


def local_time(moment: dt.datetime | None) -> str:
    """A time as the school reads it (Beijing time), to the minute."""
    if moment is None:
        return DASH
    return moment.astimezone(SCHOOL_TZ).strftime("%Y-%m-%d %H:%M")


def duration(seconds: float) -> str:
    minutes = math.ceil(seconds / 60)
    hours, rest = divmod(minutes, 60)
    return f"{hours} 小时 {rest} 分钟" if hours else f"{rest} 分钟"


def milestone_verdict(deadline: dt.datetime | None, met_at: dt.datetime | None, now: dt.datetime) -> str:
    """In time, late by how much, or not met yet (and whether it is already late)."""
    if deadline is None:
        return "无时限 no target"
    if met_at is not None:
        return "按时 in time" if met_at <= deadline else f"超时 late by {duration((met_at - deadline).total_seconds())}"
    if now > deadline:
        return f"未完成, 已超时 not met, late by {duration((now - deadline).total_seconds())}"
    return "未完成 not met yet"


def word(words: Mapping[str, str], value: str | None) -> str:
    """A stored code with its Chinese word: `hardware_fault` -> 硬件故障 (hardware_fault)."""
    if value is None:
        return DASH
    known = words.get(value)
    return f"{known} ({value})" if known else value
