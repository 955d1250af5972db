"""Categories a reporter chooses from; deactivated, never deleted."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from speakup.db import Database
from speakup.models import Category
from speakup.services.core.errors import Conflict, NotFound

DEFAULT_CATEGORIES = (
    ("patient_safety", "Patient safety"),
    ("staff_safety_wellbeing", "Staff safety and wellbeing"),
    ("bullying_harassment", "Bullying and harassment"),
    ("behaviour_attitudes", "Behaviour and attitudes"),
    ("staffing_workload", "Staffing and workload"),
    ("equipment_environment", "Equipment and environment"),
    ("process_systems", "Processes and systems"),
    ("quality_improvement", "Quality improvement"),
    ("other", "Other"),
)


def list_categories(session: Session, *, include_inactive: bool) -> list[Category]:
    stmt = select(Category).order_by(Category.position, Category.id)
    if not include_inactive:
        stmt = stmt.where(Category.active.is_(True))
    return list(session.scalars(stmt))


def get_category(session: Session, category_id: str, *, include_inactive: bool = True
                 ) -> Category:
    category = session.get(Category, category_id)
    if category is None or not (category.active or include_inactive):
        raise NotFound("No such category.")
    return category


def create_category(
    db: Database, *, id: str, label: str, position: int | None = None
) -> Category:
    """Add a category.  An existing id is 409."""
    with db.write() as session:
        if session.get(Category, id) is not None:
            raise Conflict(f"Category {id!r} exists already.")
        if position is None:
            last = session.scalar(select(Category.position).order_by(Category.position.desc()))
            position = (last or 0) + 1
        category = Category(id=id, label=label, active=True, position=position)
        session.add(category)
    return category


def update_category(db: Database, category_id: str, **changes: Any) -> Category:
    with db.write() as session:
        category = get_category(session, category_id)
        for key, value in changes.items():
            setattr(category, key, value)
    return category
