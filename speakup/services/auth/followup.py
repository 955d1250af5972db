"""Anonymous follow-up: a receipt key is traded for access to that one report.

Every failure (an unknown key, a malformed one) raises the same error with
the same message, after the same work: hash, then one indexed lookup.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from speakup.models import Report
from speakup.services.auth import receipts
from speakup.services.core.errors import Unauthorized
from speakup.services.core.keys import Keys

INVALID_RECEIPT = "That receipt key does not open a report."


class InvalidReceipt(Unauthorized):
    type = "/problems/invalid-receipt-key"
    title = "Invalid receipt key"


def redeem(session: Session, *, keys: Keys, receipt_key: str) -> str:
    """The id of the report this receipt key opens, else :class:`InvalidReceipt`."""
    digest = receipts.digest(keys.receipt, receipt_key)
    report_id = session.scalar(select(Report.id).where(Report.receipt_hash == digest))
    if report_id is None:
        raise InvalidReceipt(INVALID_RECEIPT)
    return report_id
