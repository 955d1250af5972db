"""One visibility rule: the list and the detail agree for every kind of actor."""

from __future__ import annotations

from sqlalchemy.orm import Session

from speakup.db import Database
from speakup.models import User
from speakup.services.core.actors import Actor
from speakup.services.core.clock import SettableClock
from speakup.services.core.errors import NotFound
from speakup.services.core.keys import Keys
from speakup.services.reports import access, intake, queries
from tests.support import Org


def actor(session: Session, user_id: str) -> Actor:
    user = session.get(User, user_id)
    assert user is not None
    return Actor(user_id=user.id, name=user.name, roles=frozenset(user.roles))


def test_list_and_detail_show_the_same_reports_from_the_same_side(
        database: Database, session: Session, clock: SettableClock, keys: Keys, hospital: Org):
    nurse = session.get(User, hospital.nurse)
    submitted = []
    for unit, reporter, anonymous in ((hospital.ward, nurse, False), (hospital.ward, None, True),
                                      (hospital.site, nurse, False)):
        submitted.append(intake.submit(database, clock=clock, keys=keys, reporter=reporter,
                                       data=intake.NewReport(kind="concern", category="other",
                                                             unit_id=unit, anonymous=anonymous,
                                                             description="Seen by whom?")))
    session.rollback()
    followup = Actor(followup_report_id=submitted[1].report_id)
    actors = {name: actor(session, getattr(hospital, name))
              for name in ("admin", "officer", "site_leader", "ward_leader", "nurse")}
    seen = {}
    for name, who in actors.items():
        listed = queries.list_reports(session, actor=who, clock=clock, keys=keys,
                                      filters=queries.Filters(), limit=50, cursor=None).items
        sides = {}
        for result in submitted:
            try:
                found = access.visible_report(session, actor=who, report_id=result.report_id)
                sides[result.report_id] = "staff" if found.staff_side else "reporter"
            except NotFound:
                pass
        assert {item.id for item in listed} == set(sides), name
        seen[name] = sides
    ids = [r.report_id for r in submitted]
    assert seen["officer"] == seen["admin"] == dict.fromkeys(ids, "staff")
    assert seen["ward_leader"] == {ids[0]: "staff", ids[1]: "staff"}
    assert seen["site_leader"] == {ids[2]: "staff"}
    assert seen["nurse"] == {ids[0]: "reporter", ids[2]: "reporter"}
    assert not access.visible_report(session, actor=followup, report_id=ids[1]).staff_side
