"""Sessions: the deny list of ended sessions and spent refresh tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from speakup.db import Base


class RevokedToken(Base):
    """The deny list: ids of ended sessions (``sid``) and of spent refresh tokens (``jti``).

    Nothing else is kept: no user, and no time but when the row may go, rounded up to the
    hour, so the list says neither whose token it was nor when anybody signed in.
    """

    __tablename__ = "revoked_tokens"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
