"""The school's sign-off of a visit (D-O2, D-O4): the rules of the one-time code and of the record.

A sign-off is given by the school, not typed by the engineer: either a 6-digit code sent by SMS to
the school's contact on record and read out to the engineer, or the contact's signature drawn on the
engineer's screen. The code is kept only as a salted HMAC, is good for 10 minutes and 5 attempts; a
sixth attempt needs a new code. Plain Python with an injected clock: no I/O, no boto3, no pynamodb.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

from chalicelib.errors import Conflict, FieldProblem, InvalidInput

CODE_DIGITS = 6
VALID_FOR = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 5
# New codes per ticket and hour: with 5 attempts each, at most 25 guesses an hour of a million codes,
# and a school contact is not flooded with messages.
REQUESTS_PER_HOUR = 5
SIGNATURE_MAX_BYTES = 1024 * 1024
SIGNATURE_TYPE = "image/png"


class Method(StrEnum):
    OTP = "otp"
    SIGNATURE = "signature"


class CodeExpired(InvalidInput):
    code = "sign_off_code_expired"


class WrongCode(InvalidInput):
    code = "sign_off_code_wrong"


class CodeLocked(Conflict):
    code = "sign_off_locked"


class NoRequest(Conflict):
    code = "sign_off_not_requested"


class SmsNotSent(Conflict):
    code = "sms_not_sent"


def new_code() -> str:
    """Six digits from the OS's CSPRNG (never `random`)."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def new_salt() -> str:
    return secrets.token_hex(16)


def hash_code(code: str, salt: str) -> str:
    """What is stored instead of the code: HMAC-SHA256 keyed by a salt of its own."""
    return hmac.new(bytes.fromhex(salt), code.encode(), hashlib.sha256).hexdigest()


def code_matches(code: str, salt: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_code(code, salt), stored_hash)


def attempt_token(idempotency_key: str, code: str) -> str:
    """Names one attempt: the same request sent again (a retry: same key, same code) is one attempt; a new
    key or another code is another, so one key cannot be reused to guess without being counted."""
    return hashlib.sha256(f"{idempotency_key}\0{code}".encode()).hexdigest()[:32]


def expires_at(now: dt.datetime) -> dt.datetime:
    return now + VALID_FOR


def sms_text(code: str, ticket_ref: str, school_name: str) -> str:
    """The message to the school's contact: what the code is for, so it is not read out blindly."""
    return (
        f"【LampCare】{school_name} 维修单 {ticket_ref} 完工签认码 {code}，10 分钟内有效。"
        f"请仅在工程师完成维修后告知。 Sign-off code for repair {ticket_ref}: {code} (valid 10 minutes)."
    )


def e164(phone: str) -> str | None:
    """A phone on record as SNS needs it (+<country><number>); mainland mobiles without a prefix get +86.
    None: not a number an SMS can go to."""
    text = "".join(c for c in phone.strip() if c.isdigit() or c == "+")
    if text.startswith("+"):
        digits = text[1:]
        return text if digits.isdigit() and 8 <= len(digits) <= 15 else None
    if text.startswith("00") and text[2:].isdigit() and 8 <= len(text) - 2 <= 15:
        return "+" + text[2:]
    if len(text) == 11 and text.startswith("1") and text.isdigit():
        return "+86" + text
    if len(text) == 13 and text.startswith("861") and text.isdigit():
        return "+" + text
    return None


@dataclass(frozen=True)
class CodeState:
    """A code request as stored after this attempt was counted, or refused to be counted."""

    expires_at: dt.datetime
    attempts: int
    used: bool
    counted: bool  # this attempt is among the counted ones (counted now, or a retry of one counted before)


def check_attempt(state: CodeState, now: dt.datetime) -> None:
    """Refusals before the code is compared: used, expired, locked (in that order). An attempt that was
    not counted, on a code neither used nor expired, found the request at its limit."""
    if state.used:
        raise Conflict("this sign-off code was already used", details=[FieldProblem("code", "already used")])
    if now >= state.expires_at:
        raise CodeExpired(
            "the sign-off code has expired; request a new one",
            details=[FieldProblem("code", f"expired: codes are valid for {int(VALID_FOR.total_seconds() // 60)} min")],
        )
    if not state.counted or state.attempts > MAX_ATTEMPTS:
        raise locked()


def locked() -> CodeLocked:
    return CodeLocked(
        f"{MAX_ATTEMPTS} wrong codes: this sign-off request is locked; request a new code",
        details=[FieldProblem("code", "locked: request a new code")],
        extra={"attempts_left": 0},
    )


def wrong_code(attempts: int) -> WrongCode:
    left = max(0, MAX_ATTEMPTS - attempts)
    if left == 0:  # the fifth wrong code locks the request
        return WrongCode(
            "wrong sign-off code; no attempts left: request a new code",
            details=[FieldProblem("code", "wrong code; locked: request a new code")],
            extra={"attempts_left": 0},
        )
    return WrongCode(
        f"wrong sign-off code; {left} attempt{'s' if left != 1 else ''} left",
        details=[FieldProblem("code", f"wrong code; {left} attempt{'s' if left != 1 else ''} left")],
        extra={"attempts_left": left},
    )


def sign_off_record(
    *,
    method: Method,
    signer_name: str,
    signer_role: str,
    recorded_by: str,
    now: dt.datetime,
    device_at: dt.datetime | None,
    lat: float | None,
    lon: float | None,
    satisfaction: int | None,
    comment: str,
    sent_to: str = "",
    signature_key: str = "",
) -> dict[str, object]:
    """The ticket's `sign_off`: who signed, how, when (server and device time), where, and the
    school's satisfaction (D-O4). `sent_to` is the masked number the code went to."""
    record: dict[str, object] = {
        "method": method.value,
        "signer_name": signer_name,
        "signer_role": signer_role,
        "recorded_by": recorded_by,
        "at": now.isoformat(),
        "device_at": device_at.isoformat() if device_at else None,
        "lat": lat,
        "lon": lon,
        "satisfaction": satisfaction,
        "comment": comment,
    }
    if sent_to:
        record["sent_to"] = sent_to
    if signature_key:
        record["signature_key"] = signature_key
    return record
