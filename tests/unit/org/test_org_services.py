"""Organisation rules at the service layer, without HTTP: the unit tree, users and roles,
leaders, categories, and which domain error each broken rule raises."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from speakup.db import Database
from speakup.models import Unit, User
from speakup.services import auth, org
from speakup.services.auth.passwords import Passwords
from speakup.services.core.clock import SettableClock
from speakup.services.core.errors import Conflict, Invalid, NotFound, ServiceError, Unauthorized
from tests.support import PASSWORD, Org


def unit(database: Database, clock: SettableClock, code: str, parent: Unit | None = None) -> Unit:
    return org.create_unit(database, clock=clock, name=f"Unit {code}", code=code,
                           parent_id=parent.id if parent else None)


def person(**overrides: object) -> org.NewUser:
    fields: dict[str, object] = {"email": "new@example.org", "name": "New Starter",
                                 "password": PASSWORD, "roles": ["staff"]}
    fields.update(overrides)
    return org.NewUser(**fields)  # type: ignore[arg-type]


def epoch(session: Session, user_id: str) -> int:
    """The user's session epoch as stored: every token carries the one it was issued under."""
    session.rollback()  # a fresh snapshot: commands write in their own transactions
    value = session.scalar(select(User.session_epoch).where(User.id == user_id))
    assert value is not None
    return value


@pytest.fixture()
def tree(database: Database, session: Session, clock: SettableClock) -> dict[str, Unit]:
    """site > (medicine > (ward7, ward8), surgery)"""
    site = unit(database, clock, "SITE")
    medicine = unit(database, clock, "MED", site)
    surgery = unit(database, clock, "SURG", site)
    ward7 = unit(database, clock, "W7", medicine)
    ward8 = unit(database, clock, "W8", medicine)
    return {"site": site, "medicine": medicine, "surgery": surgery, "ward7": ward7,
            "ward8": ward8}


# --- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status"), [(NotFound, 404), (Conflict, 409), (Invalid, 422)]
)
def test_domain_errors_carry_their_http_status(error: type[ServiceError], status: int):
    assert issubclass(error, ServiceError)
    assert error.status == status
    assert error.type.startswith("/problems/")


def test_invalid_field_names_the_field_and_its_message():
    error = Invalid.field("parent_id", "No such unit.")

    assert error.detail == "No such unit."
    assert error.errors == {"parent_id": ["No such unit."]}


# --- units -----------------------------------------------------------------------------


def test_create_unit_is_active_and_stamped_with_the_clock(
        database: Database, session, clock: SettableClock):
    created = org.create_unit(database, clock=clock, name="Site", code="SITE")

    assert created.active is True
    assert created.parent_id is None
    assert created.created_at == clock.now()
    stored = org.get_unit(session, created.id)
    assert (stored.id, stored.name, stored.created_at) == (created.id, "Site", clock.now())


def test_create_unit_with_duplicate_code_raises_conflict(database: Database, clock, tree):
    with pytest.raises(Conflict):
        org.create_unit(database, clock=clock, name="Other", code="W7")


def test_create_unit_with_unknown_parent_raises_invalid_naming_parent_id(
        database: Database, session, clock):
    with pytest.raises(Invalid) as caught:
        org.create_unit(database, clock=clock, name="Orphan", code="ORPH", parent_id="nope")

    assert "parent_id" in caught.value.errors
    assert session.scalar(select(Unit).where(Unit.code == "ORPH")) is None


def test_get_unknown_unit_raises_not_found(session):
    with pytest.raises(NotFound):
        org.get_unit(session, "no-such-unit")


def test_inactive_unit_is_not_found_unless_inactive_ones_are_asked_for(
        database: Database, session, tree):
    org.update_unit(database, tree["ward7"].id, active=False)

    with pytest.raises(NotFound):
        org.get_unit(session, tree["ward7"].id, include_inactive=False)
    assert org.get_unit(session, tree["ward7"].id, include_inactive=True).active is False


@pytest.mark.parametrize(
    ("moved", "under"),
    [("site", "site"), ("site", "medicine"), ("site", "ward7"), ("medicine", "ward8"),
     ("ward7", "ward7")],
)
def test_moving_a_unit_under_itself_or_its_descendant_raises_invalid(
    database: Database, session, tree, moved: str, under: str
):
    with pytest.raises(Invalid) as caught:
        org.update_unit(database, tree[moved].id, parent_id=tree[under].id)

    assert "parent_id" in caught.value.errors
    session.rollback()
    assert session.get(Unit, tree["site"].id).parent_id is None  # type: ignore[union-attr]
    assert session.get(Unit, tree["medicine"].id).parent_id == tree["site"].id  # type: ignore[union-attr]


def test_moving_a_unit_to_a_sibling_branch_is_allowed(database: Database, session, tree):
    moved = org.update_unit(database, tree["ward7"].id, parent_id=tree["surgery"].id)

    assert moved.parent_id == tree["surgery"].id
    assert sorted(org.subtree_ids(session, tree["surgery"].id)) == sorted(
        [tree["surgery"].id, tree["ward7"].id])
    assert tree["ward7"].id not in org.subtree_ids(session, tree["medicine"].id)


def test_moving_a_unit_to_the_top_is_allowed(database: Database, session, tree):
    moved = org.update_unit(database, tree["medicine"].id, parent_id=None)

    assert moved.parent_id is None
    assert [u.id for u in org.ancestors(session, tree["ward7"])] == [
        tree["ward7"].id, tree["medicine"].id]


def test_update_unit_to_unknown_parent_raises_invalid(database: Database, tree):
    with pytest.raises(Invalid) as caught:
        org.update_unit(database, tree["ward7"].id, parent_id="nope")

    assert "parent_id" in caught.value.errors


def test_update_unit_to_a_taken_code_raises_conflict_but_own_code_is_fine(
        database: Database, session, tree):
    with pytest.raises(Conflict):
        org.update_unit(database, tree["ward7"].id, code="W8")
    session.rollback()

    assert org.update_unit(database, tree["ward7"].id, code="W7", name="Ward Seven").name == (
        "Ward Seven")


def test_update_unknown_unit_raises_not_found(database: Database):
    with pytest.raises(NotFound):
        org.update_unit(database, "no-such-unit", name="X")


def test_subtree_ids_holds_the_unit_and_everything_below_it(session, tree):
    ids = {name: u.id for name, u in tree.items()}

    assert sorted(org.subtree_ids(session, ids["site"])) == sorted(ids.values())
    assert sorted(org.subtree_ids(session, ids["medicine"])) == sorted(
        [ids["medicine"], ids["ward7"], ids["ward8"]])
    assert org.subtree_ids(session, ids["ward7"]) == [ids["ward7"]]
    assert org.subtree_ids(session, ids["surgery"]) == [ids["surgery"]]


def test_subtree_ids_includes_inactive_units(database: Database, session, tree):
    org.update_unit(database, tree["ward8"].id, active=False)

    assert tree["ward8"].id in org.subtree_ids(session, tree["medicine"].id)


def test_subtree_ids_of_unknown_unit_is_empty(session, tree):
    assert org.subtree_ids(session, "no-such-unit") == []


def test_subtree_ids_follows_a_deep_tree(database: Database, session, clock):
    chain = [unit(database, clock, "L0")]
    for depth in range(1, 12):
        chain.append(unit(database, clock, f"L{depth}", chain[-1]))

    assert sorted(org.subtree_ids(session, chain[0].id)) == sorted(u.id for u in chain)
    assert sorted(org.subtree_ids(session, chain[6].id)) == sorted(u.id for u in chain[6:])


def test_ancestors_lists_the_unit_then_its_parents_nearest_first(session, tree):
    chain = org.ancestors(session, tree["ward8"])

    assert [u.id for u in chain] == [tree["ward8"].id, tree["medicine"].id, tree["site"].id]
    assert [u.id for u in org.ancestors(session, tree["site"])] == [tree["site"].id]


def test_ancestors_ends_even_if_the_stored_tree_has_a_cycle(session, tree):
    # Written straight to the row, bypassing update_unit's check, as a bad import might.
    tree["site"].parent_id = tree["ward7"].id
    session.flush()

    chain = org.ancestors(session, tree["ward7"])

    assert [u.id for u in chain] == [tree["ward7"].id, tree["medicine"].id, tree["site"].id]
    session.rollback()


def test_list_units_hides_inactive_ones_unless_asked(database: Database, session, keys, tree):
    org.update_unit(database, tree["surgery"].id, active=False)

    public = org.list_units(session, keys=keys, include_inactive=False, limit=50, cursor=None)
    everything = org.list_units(session, keys=keys, include_inactive=True, limit=50,
                                cursor=None)

    assert tree["surgery"].id not in [u.id for u in public.items]
    assert tree["surgery"].id in [u.id for u in everything.items]
    assert len(everything.items) == 5 and public.next_cursor is None


def test_list_units_pages_by_creation_time_then_id(database: Database, session, clock, keys, tree):
    clock.advance(minutes=1)
    later = unit(database, clock, "LATER")

    first = org.list_units(session, keys=keys, include_inactive=False, limit=4, cursor=None)
    second = org.list_units(session, keys=keys, include_inactive=False, limit=4,
                            cursor=first.next_cursor)

    assert first.next_cursor is not None and second.next_cursor is None
    assert [u.id for u in first.items] == sorted(u.id for u in tree.values())[:4]
    assert [u.id for u in second.items] == [sorted(u.id for u in tree.values())[4], later.id]


def test_list_units_with_a_bad_cursor_raises_invalid_naming_cursor(session, keys, tree):
    with pytest.raises(Invalid) as caught:
        org.list_units(session, keys=keys, include_inactive=False, limit=2, cursor="rubbish!")

    assert "cursor" in caught.value.errors


# --- users -----------------------------------------------------------------------------


def test_create_user_hashes_the_password_with_argon2id(
        database: Database, clock, passwords: Passwords):
    user = org.create_user(database, clock=clock, passwords=passwords, data=person())

    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert passwords.verify(user.password_hash, PASSWORD)
    assert user.active is True and user.created_at == clock.now()


def test_create_user_normalises_the_email(database: Database, clock, passwords):
    user = org.create_user(database, clock=clock, passwords=passwords,
                           data=person(email="  New.Starter@Example.ORG "))

    assert user.email == "new.starter@example.org"


def test_create_user_with_existing_email_in_other_case_raises_conflict(
    database: Database, clock, passwords
):
    org.create_user(database, clock=clock, passwords=passwords, data=person())

    with pytest.raises(Conflict):
        org.create_user(database, clock=clock, passwords=passwords,
                        data=person(email="NEW@example.org", name="Someone else"))


@pytest.mark.parametrize("roles", [["wizard"], ["staff", "root"], [], ["Admin"]])
def test_create_user_with_unknown_or_no_roles_raises_invalid_naming_roles(
    database: Database, session, clock, passwords, roles: list[str]
):
    with pytest.raises(Invalid) as caught:
        org.create_user(database, clock=clock, passwords=passwords, data=person(roles=roles))

    assert "roles" in caught.value.errors
    session.rollback()
    assert session.scalar(select(User).where(User.email == "new@example.org")) is None


def test_create_user_with_unknown_unit_raises_invalid_naming_unit_id(
        database: Database, clock, passwords):
    with pytest.raises(Invalid) as caught:
        org.create_user(database, clock=clock, passwords=passwords, data=person(unit_id="nope"))

    assert "unit_id" in caught.value.errors


def test_user_roles_are_unique_and_sorted(database: Database, clock, passwords):
    user = org.create_user(database, clock=clock, passwords=passwords,
                           data=person(roles=["staff", "leader", "staff", "admin"]))

    assert user.roles == ["admin", "leader", "staff"]
    assert user.has_role("leader") and not user.has_role("safety_officer")


def test_update_user_replaces_roles_in_sorted_order(
        database: Database, session, clock, passwords, hospital: Org):
    user = org.update_user(database, hospital.ward_leader, clock=clock, passwords=passwords,
                           roles=["staff", "safety_officer"])

    assert user.roles == ["safety_officer", "staff"]
    session.expire_all()
    assert org.get_user(session, hospital.ward_leader).roles == ["safety_officer", "staff"]


def test_update_user_with_unknown_role_raises_invalid_and_keeps_roles(
    database: Database, session, clock, passwords, hospital: Org
):
    with pytest.raises(Invalid) as caught:
        org.update_user(database, hospital.nurse, clock=clock, passwords=passwords,
                        roles=["staff", "overlord"])

    assert "roles" in caught.value.errors
    session.rollback()
    assert org.get_user(session, hospital.nurse).roles == ["staff"]


def test_update_user_to_a_taken_email_raises_conflict(
        database: Database, clock, passwords, hospital: Org):
    with pytest.raises(Conflict):
        org.update_user(database, hospital.nurse, clock=clock, passwords=passwords,
                        email="ADMIN@example.org")


def test_update_user_to_own_email_in_other_case_is_fine(
        database: Database, clock, passwords, hospital):
    user = org.update_user(database, hospital.nurse, clock=clock, passwords=passwords,
                           email="Nurse@Example.org")

    assert user.email == "nurse@example.org"


def test_update_unknown_user_raises_not_found(database: Database, clock, passwords):
    with pytest.raises(NotFound):
        org.update_user(database, "no-such-user", clock=clock, passwords=passwords, name="X")


def test_deactivating_a_user_ends_all_their_sessions(
        database: Database, session, clock, passwords, hospital: Org):
    nurse, admin = epoch(session, hospital.nurse), epoch(session, hospital.admin)

    org.update_user(database, hospital.nurse, clock=clock, passwords=passwords, active=False)

    assert epoch(session, hospital.nurse) != nurse  # every token of the nurse is refused
    assert epoch(session, hospital.admin) == admin


def test_renaming_a_user_keeps_their_sessions(
        database: Database, session, clock, passwords, hospital: Org):
    before = epoch(session, hospital.nurse)

    org.update_user(database, hospital.nurse, clock=clock, passwords=passwords, name="Nora N.")

    assert epoch(session, hospital.nurse) == before


def test_changing_a_password_ends_sessions_and_rehashes(
        database: Database, session, clock, passwords, hospital):
    before = epoch(session, hospital.nurse)

    user = org.update_user(database, hospital.nurse, clock=clock, passwords=passwords,
                           password="a new passphrase")

    assert epoch(session, hospital.nurse) != before
    assert passwords.verify(user.password_hash, "a new passphrase")
    assert not passwords.verify(user.password_hash, PASSWORD)


def test_deactivating_and_changing_the_password_at_once_ends_sessions_once(
    database: Database, session, clock, passwords, hospital: Org
):
    before = epoch(session, hospital.nurse)

    org.update_user(database, hospital.nurse, clock=clock, passwords=passwords,
                    password="a new passphrase", active=False)

    assert epoch(session, hospital.nurse) == before + 1


def test_list_users_pages_through_everyone_once(session, keys, hospital: Org):
    first = org.list_users(session, keys=keys, limit=3, cursor=None)
    second = org.list_users(session, keys=keys, limit=3, cursor=first.next_cursor)

    ids = [u.id for u in first.items + second.items]
    assert second.next_cursor is None
    assert len(ids) == len(set(ids)) == 5


# --- authentication rules --------------------------------------------------------------


def test_authenticate_refuses_unknown_email_wrong_password_and_inactive_user_alike(
    database: Database, session, clock, passwords, hospital: Org
):
    details = []
    for email, password in [("nobody@example.org", PASSWORD),
                            (hospital.emails["nurse"], "wrong password")]:
        with pytest.raises(Unauthorized) as caught:
            auth.authenticate(session, email=email, password=password, passwords=passwords)
        details.append(caught.value.detail)
    org.update_user(database, hospital.nurse, clock=clock, passwords=passwords, active=False)
    session.rollback()  # see the deactivation
    with pytest.raises(Unauthorized) as caught:
        auth.authenticate(session, email=hospital.emails["nurse"], password=PASSWORD,
                          passwords=passwords)
    details.append(caught.value.detail)

    assert len(set(details)) == 1


def test_authenticate_finds_the_user_whatever_the_email_case(session, passwords, hospital):
    user = auth.authenticate(session, email=" Nurse@EXAMPLE.org", password=PASSWORD,
                             passwords=passwords)

    assert user.id == hospital.nurse


# --- leaders ---------------------------------------------------------------------------


def test_add_leader_makes_the_user_lead_the_unit(database: Database, session, clock, hospital: Org):
    org.add_leader(database, clock=clock, unit_id=hospital.medicine, user_id=hospital.site_leader)

    assert [u.id for u in org.list_leaders(session, hospital.medicine)] == [hospital.site_leader]
    assert sorted(org.units_led_by(session, hospital.site_leader)) == sorted(
        [hospital.site, hospital.medicine])


def test_add_leader_without_leader_role_raises_invalid_naming_user_id(
    database: Database, clock, hospital: Org
):
    with pytest.raises(Invalid) as caught:
        org.add_leader(database, clock=clock, unit_id=hospital.ward, user_id=hospital.nurse)

    assert "user_id" in caught.value.errors


@pytest.mark.parametrize("who", ["unknown", "inactive"])
def test_add_leader_with_unknown_or_inactive_user_raises_invalid(
    database: Database, clock, passwords, hospital: Org, who: str
):
    user_id = "no-such-user"
    if who == "inactive":
        user_id = hospital.site_leader
        org.update_user(database, user_id, clock=clock, passwords=passwords, active=False)

    with pytest.raises(Invalid) as caught:
        org.add_leader(database, clock=clock, unit_id=hospital.ward, user_id=user_id)

    assert "user_id" in caught.value.errors


def test_add_leader_twice_raises_conflict(database: Database, clock, hospital: Org):
    with pytest.raises(Conflict):
        org.add_leader(database, clock=clock, unit_id=hospital.ward, user_id=hospital.ward_leader)


def test_add_leader_to_unknown_unit_raises_not_found(database: Database, clock, hospital: Org):
    with pytest.raises(NotFound):
        org.add_leader(database, clock=clock, unit_id="nope", user_id=hospital.site_leader)


def test_list_leaders_of_unknown_unit_raises_not_found(session):
    with pytest.raises(NotFound):
        org.list_leaders(session, "nope")


def test_remove_leader_ends_the_assignment_and_a_second_time_raises_not_found(
    database: Database, session, hospital: Org
):
    org.remove_leader(database, unit_id=hospital.ward, user_id=hospital.ward_leader)

    assert org.list_leaders(session, hospital.ward) == []
    assert org.units_led_by(session, hospital.ward_leader) == []
    with pytest.raises(NotFound):
        org.remove_leader(database, unit_id=hospital.ward, user_id=hospital.ward_leader)


# --- categories ------------------------------------------------------------------------


def test_default_categories_come_in_display_order(session):
    listed = org.list_categories(session, include_inactive=False)

    assert [c.id for c in listed] == [key for key, _ in org.DEFAULT_CATEGORIES]
    assert [c.id for c in listed] == [
        "patient_safety", "staff_safety_wellbeing", "bullying_harassment",
        "behaviour_attitudes", "staffing_workload", "equipment_environment",
        "process_systems", "quality_improvement", "other"]


def test_new_category_goes_after_the_last_one(database: Database, session):
    created = org.create_category(database, id="medication", label="Medication")

    assert created.position == len(org.DEFAULT_CATEGORIES) + 1
    assert org.list_categories(session, include_inactive=False)[-1].id == "medication"


def test_first_category_in_an_empty_table_gets_position_one(database: Database, session):
    for category in org.list_categories(session, include_inactive=True):
        session.delete(category)
    session.commit()

    assert org.create_category(database, id="first", label="First").position == 1


def test_duplicate_category_raises_conflict(database: Database):
    with pytest.raises(Conflict):
        org.create_category(database, id="other", label="Other again")


def test_inactive_category_is_listed_only_on_request(database: Database, session):
    org.update_category(database, "other", active=False)

    assert "other" not in [c.id for c in org.list_categories(session, include_inactive=False)]
    assert "other" in [c.id for c in org.list_categories(session, include_inactive=True)]
    assert org.get_category(session, "other").active is False


def test_unknown_category_raises_not_found(database: Database, session):
    with pytest.raises(NotFound):
        org.get_category(session, "no_such")
    with pytest.raises(NotFound):
        org.update_category(database, "no_such", label="X")


# --- rules that keep the organisation consistent ------------------------------------------


def test_a_unit_with_active_units_below_cannot_be_deactivated(database: Database, hospital: Org):
    with pytest.raises(Conflict):
        org.update_unit(database, hospital.medicine, active=False)
    org.update_unit(database, hospital.ward, active=False)
    assert org.update_unit(database, hospital.medicine, active=False).active is False


def test_nothing_new_attaches_to_a_deactivated_unit(
        database: Database, clock, passwords, hospital: Org):
    org.update_unit(database, hospital.ward, active=False)
    with pytest.raises(Invalid) as raised:
        org.create_unit(database, clock=clock, name="Bay A", code="W7-A", parent_id=hospital.ward)
    assert "parent_id" in raised.value.errors
    with pytest.raises(Invalid):
        org.create_user(database, clock=clock, passwords=passwords, data=org.NewUser(
            email="new@example.org", name="New", password="long enough",
            roles=["staff"], unit_id=hospital.ward))
    with pytest.raises(Conflict):
        org.add_leader(database, clock=clock, unit_id=hospital.ward, user_id=hospital.site_leader)


def test_losing_the_leader_role_ends_leader_assignments(
        database: Database, session, clock, passwords, hospital: Org):
    org.update_user(database, hospital.ward_leader, clock=clock, passwords=passwords,
                    roles=["staff"])
    assert org.list_leaders(session, hospital.ward) == []
    assert org.units_led_by(session, hospital.ward_leader) == []


def test_the_last_active_admin_cannot_be_removed(
        database: Database, session, clock, passwords, hospital: Org):
    with pytest.raises(Conflict):
        org.update_user(database, hospital.admin, clock=clock, passwords=passwords, active=False)
    session.rollback()
    with pytest.raises(Conflict):
        org.update_user(database, hospital.admin, clock=clock, passwords=passwords,
                        roles=["staff"])
    session.rollback()
    org.update_user(database, hospital.officer, clock=clock, passwords=passwords,
                    roles=["admin", "safety_officer"])
    assert org.update_user(database, hospital.admin, clock=clock, passwords=passwords,
                           active=False).active is False


def test_a_unit_cannot_come_back_under_a_deactivated_parent(
        database: Database, session, hospital: Org):
    org.update_unit(database, hospital.ward, active=False)
    org.update_unit(database, hospital.medicine, active=False)
    with pytest.raises(Conflict):
        org.update_unit(database, hospital.ward, active=True)
    session.rollback()
    org.update_unit(database, hospital.medicine, active=True)
    assert org.update_unit(database, hospital.ward, active=True).active is True


def test_a_unit_can_come_back_at_the_top_even_if_its_old_parent_is_gone(
        database: Database, hospital: Org):
    org.update_unit(database, hospital.ward, active=False)
    org.update_unit(database, hospital.medicine, active=False)
    unit = org.update_unit(database, hospital.ward, active=True, parent_id=None)
    assert unit.active is True and unit.parent_id is None
