"""Report intake and reading through the API: shapes, defaults, routing, visibility, lists."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_jwt_extended import create_access_token

from speakup.db import Database
from speakup.services import org
from tests.support import Login, Org, assert_problem, report_body

REFERENCE = re.compile(r"^SU-\d{4}-\d{6}$")
RECEIPT = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){7}$")


def submit(client: FlaskClient, body: dict[str, object], headers: dict[str, str] | None = None):
    return client.post("/api/v1/reports", json=body, headers=headers or {})


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- intake ----------------------------------------------------------------------------


def test_named_report_is_stored_with_reference_due_times_and_no_receipt(
    client, hospital: Org, login: Login, clock
):
    response = submit(client, report_body(hospital.ward, wants_involvement=True), login("nurse"))
    assert response.status_code == 201
    report = response.json
    assert REFERENCE.match(report["reference"])
    assert report["reference"].startswith(f"SU-{clock.now().year}-")
    assert report["status"] == "new" and report["anonymous"] is False
    assert report["wants_involvement"] is True
    assert at(report["created_at"]) == clock.now()
    assert at(report["ack_due_at"]) == clock.now() + timedelta(hours=48)
    assert at(report["close_due_at"]) == clock.now() + timedelta(days=30)
    assert report["messages"] == []
    for hidden in ("receipt_key", "routing", "timeline", "reporter"):
        assert hidden not in report


@pytest.mark.parametrize(
    ("overrides", "ack", "close"),
    [
        ({"kind": "gap"}, timedelta(hours=48), timedelta(days=30)),
        ({"kind": "opportunity"}, timedelta(hours=120), timedelta(days=60)),
        ({"kind": "opportunity", "immediate_risk": True}, timedelta(hours=1), timedelta(hours=72)),
    ],
)
def test_default_sla_due_times_per_kind(client, hospital: Org, clock, overrides, ack, close):
    report = submit(client, report_body(hospital.ward, **overrides)).json
    assert at(report["ack_due_at"]) - clock.now() == ack
    assert at(report["close_due_at"]) - clock.now() == close


def test_ids_are_opaque_and_references_count_up(client, hospital: Org):
    first = submit(client, report_body(hospital.ward)).json
    second = submit(client, report_body(hospital.ward)).json
    assert re.fullmatch(r"[a-z2-7]{26}", first["id"]) and first["id"] != second["id"]
    assert int(second["reference"][-6:]) == int(first["reference"][-6:]) + 1


def test_references_start_again_each_year(client, hospital: Org, clock):
    clock.set(datetime.fromisoformat("2026-12-31T23:59:00+00:00"))
    assert submit(client, report_body(hospital.ward)).json["reference"] == "SU-2026-000001"
    clock.advance(minutes=2)
    assert submit(client, report_body(hospital.ward)).json["reference"] == "SU-2027-000001"


def test_without_a_token_a_report_is_anonymous_and_gets_a_receipt_key(client, hospital: Org):
    report = submit(client, report_body(hospital.ward, anonymous=False)).json
    assert report["anonymous"] is True
    assert RECEIPT.match(report["receipt_key"])


def test_a_signed_in_reporter_may_choose_anonymous(client, hospital: Org, login: Login):
    report = submit(client, report_body(hospital.ward, anonymous=True), login("nurse")).json
    assert report["anonymous"] is True and RECEIPT.match(report["receipt_key"])


def test_anonymous_intake_never_looks_at_the_authorization_header(client, hospital: Org):
    # A garbage token would be refused anywhere it is read; here it must not be read at all.
    response = submit(client, report_body(hospital.ward, anonymous=True),
                      {"Authorization": "Bearer not-a-token"})
    assert response.status_code == 201


def test_named_report_with_a_bad_token_is_refused(client, hospital: Org):
    response = submit(client, report_body(hospital.ward), {"Authorization": "Bearer nope"})
    assert_problem(response, 401)


def test_named_report_with_an_expired_token_is_refused(app: Flask, client, hospital: Org):
    with app.app_context():
        token = create_access_token(identity=hospital.nurse, expires_delta=timedelta(seconds=-5),
                                    additional_claims={"sid": "x"})
    response = submit(client, report_body(hospital.ward), {"Authorization": f"Bearer {token}"})
    assert_problem(response, 401)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"unit_id": "no-such-unit"}, "unit_id"),
        ({"category": "no_such_category"}, "category"),
        ({"kind": "complaint"}, "kind"),
        ({"description": ""}, "description"),
        ({"description": "x" * 10_001}, "description"),
        ({"title": "t" * 201}, "title"),
        ({"immediate_risk": "maybe"}, "immediate_risk"),
        ({"reporter_id": "someone"}, "reporter_id"),
        ({"status": "closed"}, "status"),
    ],
)
def test_invalid_reports_are_422_with_the_field_named(client, hospital: Org, overrides, field):
    body = assert_problem(submit(client, {**report_body(hospital.ward), **overrides}), 422)
    assert field in body["errors"]


def test_missing_required_fields_are_listed(client, hospital: Org):
    body = assert_problem(submit(client, {}), 422)
    assert {"kind", "category", "unit_id", "description"} <= set(body["errors"])


def test_inactive_unit_and_category_are_refused(client, hospital: Org, database: Database):
    org.update_unit(database, hospital.ward, active=False)
    org.update_category(database, "other", active=False)
    body = assert_problem(submit(client, report_body(hospital.ward)), 422)
    assert "unit_id" in body["errors"]
    body = assert_problem(submit(client, report_body(hospital.site, category="other")), 422)
    assert "category" in body["errors"]


def test_body_that_is_not_json_is_415(client, hospital: Org):
    response = client.post("/api/v1/reports", data="kind=concern",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_problem(response, 415)


def test_malformed_json_is_400(client, hospital: Org):
    response = client.post("/api/v1/reports", data='{"kind": ',
                           headers={"Content-Type": "application/json"})
    assert_problem(response, 400)


def test_body_over_64_kib_is_413(client, hospital: Org):
    response = submit(client, report_body(hospital.ward, description="x" * 70_000))
    assert_problem(response, 413)


def test_body_must_be_an_object(client, hospital: Org):
    response = client.post("/api/v1/reports", json=["not", "an", "object"])
    assert response.status_code in (400, 422)
    assert response.mimetype == "application/problem+json"


# --- idempotency -------------------------------------------------------------------------


def count_reports(client: FlaskClient, headers: dict[str, str]) -> int:
    return len(client.get("/api/v1/reports?limit=200", headers=headers).json["items"])


def test_idempotent_retry_returns_the_first_response_and_creates_nothing(
    client, hospital: Org, login: Login
):
    headers = {**login("nurse"), "Idempotency-Key": "0b1e3f3c-6d0a-4b7e-9a53-5f1c2e7a9d10"}
    first = submit(client, report_body(hospital.ward), headers)
    again = submit(client, report_body(hospital.ward), headers)
    assert first.status_code == again.status_code == 201
    assert again.get_data() == first.get_data()  # what the first response sent, byte for byte
    assert count_reports(client, login("officer")) == 1


def test_same_idempotency_key_with_another_body_is_422(client, hospital: Org, login: Login):
    headers = {**login("nurse"), "Idempotency-Key": "7d9e1c5a-2b4f-4e8a-b1c3-9f0a6d2e4b71"}
    submit(client, report_body(hospital.ward), headers)
    response = submit(client, report_body(hospital.ward, description="Something else"), headers)
    body = assert_problem(response, 422)
    assert "Idempotency-Key" in body["errors"]
    assert count_reports(client, login("officer")) == 1


def test_idempotency_keys_of_different_people_do_not_collide(client, hospital: Org, login: Login):
    key = {"Idempotency-Key": "4f6a2c8e-1b3d-4a5f-8e7c-2d9b0a1c3e5f"}
    submit(client, report_body(hospital.ward), {**login("nurse"), **key})
    submit(client, report_body(hospital.ward), {**login("ward_leader"), **key})
    assert count_reports(client, login("officer")) == 2


def test_anonymous_retry_shows_the_same_receipt_key_which_still_works(client, hospital: Org):
    headers = {"Idempotency-Key": "c3a1e5b7-9d2f-4c6a-8b0e-1f3d5a7c9e2b"}
    first = submit(client, report_body(hospital.ward), headers).json
    again = submit(client, report_body(hospital.ward), headers).json
    assert again == first
    token = client.post("/api/v1/followup", json={"receipt_key": again["receipt_key"]})
    assert token.status_code == 200 and token.json["report_id"] == first["id"]


@pytest.mark.parametrize("key", ["x" * 300, "42", "short-key", "a b c d e f g h i j k l m n"])
def test_idempotency_keys_must_be_long_random_tokens(client, hospital: Org, key):
    # A guessable key would let anyone who can rebuild the body replay an anonymous
    # submission and read its receipt key.
    response = submit(client, report_body(hospital.ward), {"Idempotency-Key": key})
    body = assert_problem(response, 422)
    assert "Idempotency-Key" in body["errors"]


# --- routing -----------------------------------------------------------------------------


def routing_of(client: FlaskClient, report_id: str, headers: dict[str, str]) -> dict:
    return client.get(f"/api/v1/reports/{report_id}", headers=headers).json["routing"]


def test_report_goes_to_the_leaders_of_its_unit(client, hospital: Org, login: Login):
    report = submit(client, report_body(hospital.ward)).json
    routing = routing_of(client, report["id"], login("officer"))
    assert [a["id"] for a in routing["assignees"]] == [hospital.ward_leader]
    assert "Ward 7" in routing["reason"]


def test_unit_without_leaders_goes_to_the_nearest_unit_above_with_leaders(
    client, hospital: Org, login: Login
):
    report = submit(client, report_body(hospital.medicine)).json
    routing = routing_of(client, report["id"], login("officer"))
    assert [a["id"] for a in routing["assignees"]] == [hospital.site_leader]
    assert "St Elsewhere" in routing["reason"] and "nearest" in routing["reason"]


def test_involves_leader_skips_the_units_own_leaders(client, hospital: Org, login: Login):
    report = submit(client, report_body(hospital.ward, involves_leader=True)).json
    routing = routing_of(client, report["id"], login("officer"))
    assert [a["id"] for a in routing["assignees"]] == [hospital.site_leader]
    assert "passed over" in routing["reason"] and "Ward 7" in routing["reason"]


def test_involves_leader_passes_over_the_first_leaders_up_even_above_the_unit(
    client, hospital: Org, login: Login
):
    # Medicine has no leaders of its own: the site's leader is the reporter's own leader.
    report = submit(client, report_body(hospital.medicine, involves_leader=True)).json
    routing = routing_of(client, report["id"], login("officer"))
    assert [a["id"] for a in routing["assignees"]] == [hospital.officer]
    assert "St Elsewhere" in routing["reason"] and "safety officers" in routing["reason"]


def test_with_no_leaders_up_the_tree_safety_officers_get_it(
    client, hospital: Org, login: Login, database: Database
):
    org.remove_leader(database, unit_id=hospital.site, user_id=hospital.site_leader)
    report = submit(client, report_body(hospital.medicine)).json
    routing = routing_of(client, report["id"], login("officer"))
    assert [a["id"] for a in routing["assignees"]] == [hospital.officer]
    assert "safety officers" in routing["reason"]


def test_a_report_is_never_routed_to_its_own_reporter(client, hospital: Org, login: Login):
    report = submit(client, report_body(hospital.ward), login("ward_leader")).json
    routing = routing_of(client, report["id"], login("officer"))
    assert hospital.ward_leader not in [a["id"] for a in routing["assignees"]]
    assert [a["id"] for a in routing["assignees"]] == [hospital.site_leader]


# --- reading one report ------------------------------------------------------------------


def test_assignee_sees_staff_view_with_routing_timeline_and_reporter(
    client, hospital: Org, login: Login
):
    report = submit(client, report_body(hospital.ward), login("nurse")).json
    view = client.get(f"/api/v1/reports/{report['id']}", headers=login("ward_leader")).json
    assert view["reporter"] == {"id": hospital.nurse, "name": "Nora Nurse"}
    assert view["routing"]["assignees"] == [{"id": hospital.ward_leader, "name": "Wendy Ward"}]
    assert [e["type"] for e in view["timeline"]] == ["submitted", "routed"]
    assert view["timeline"][0]["actor"] == {"id": hospital.nurse, "name": "Nora Nurse"}
    assert view["timeline"][1]["reason"] == view["routing"]["reason"]


def test_reporter_sees_the_reporter_view(client, hospital: Org, login: Login):
    headers = login("nurse")
    report = submit(client, report_body(hospital.ward), headers).json
    view = client.get(f"/api/v1/reports/{report['id']}", headers=headers).json
    assert view["id"] == report["id"] and view["status"] == "new"
    for hidden in ("routing", "timeline", "reporter", "receipt_key"):
        assert hidden not in view


@pytest.mark.parametrize("who", ["officer", "admin"])
def test_safety_officers_and_admins_see_every_report(client, hospital: Org, login: Login, who):
    report = submit(client, report_body(hospital.ward)).json
    view = client.get(f"/api/v1/reports/{report['id']}", headers=login(who))
    assert view.status_code == 200 and "routing" in view.json


@pytest.mark.parametrize("who", ["site_leader", "nurse"])
def test_others_get_404_exactly_as_for_an_unknown_report(client, hospital: Org, login: Login, who):
    report = submit(client, report_body(hospital.ward)).json
    hidden = client.get(f"/api/v1/reports/{report['id']}", headers=login(who))
    unknown = client.get("/api/v1/reports/doesnotexist00000000000000", headers=login(who))
    assert assert_problem(hidden, 404) == assert_problem(unknown, 404)


def test_reading_a_report_needs_a_token(client, hospital: Org):
    report = submit(client, report_body(hospital.ward)).json
    assert_problem(client.get(f"/api/v1/reports/{report['id']}"), 401)


# --- lists -------------------------------------------------------------------------------


def ids(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [item["id"] for item in response.json["items"]]


def test_lists_are_scoped_by_role(client, hospital: Org, login: Login):
    mine = submit(client, report_body(hospital.ward), login("nurse")).json["id"]
    upstairs = submit(client, report_body(hospital.medicine)).json["id"]
    anonymous = submit(client, report_body(hospital.ward, anonymous=True),
                       login("nurse")).json["id"]
    # her anonymous report is not "hers" in any way the server can tell
    assert ids(client.get("/api/v1/reports", headers=login("nurse"))) == [mine]
    assert set(ids(client.get("/api/v1/reports", headers=login("ward_leader")))) == {
        mine, anonymous}
    assert ids(client.get("/api/v1/reports", headers=login("site_leader"))) == [upstairs]
    everything = {mine, upstairs, anonymous}
    assert set(ids(client.get("/api/v1/reports", headers=login("officer")))) == everything
    assert set(ids(client.get("/api/v1/reports", headers=login("admin")))) == everything


def test_list_items_show_staff_fields_only_to_the_staff_side(client, hospital: Org, login: Login):
    submit(client, report_body(hospital.ward), login("nurse"))
    own = client.get("/api/v1/reports", headers=login("nurse")).json["items"][0]
    assert "routing" not in own and "reporter" not in own
    staff = client.get("/api/v1/reports", headers=login("ward_leader")).json["items"][0]
    assert staff["reporter"]["id"] == hospital.nurse and staff["routing"]["assignees"]


def test_pages_visit_every_report_once_even_with_inserts_between_pages(
    client, hospital: Org, login: Login, clock
):
    created = []
    for _ in range(7):
        created.append(submit(client, report_body(hospital.ward)).json["id"])
        clock.advance(minutes=1)
    headers = login("officer")
    seen: list[str] = []
    page = client.get("/api/v1/reports?limit=3", headers=headers).json
    seen += [item["id"] for item in page["items"]]
    submit(client, report_body(hospital.ward))  # a newer report arrives meanwhile
    while page["next_cursor"]:
        page = client.get(f"/api/v1/reports?limit=3&cursor={page['next_cursor']}",
                          headers=headers).json
        seen += [item["id"] for item in page["items"]]
    assert seen == list(reversed(created))


def test_same_timestamp_reports_are_not_lost_between_pages(client, hospital: Org, login: Login):
    created = {submit(client, report_body(hospital.ward)).json["id"] for _ in range(5)}
    headers, seen, cursor = login("officer"), [], ""
    while True:
        page = client.get(f"/api/v1/reports?limit=2{cursor}", headers=headers).json
        seen += [item["id"] for item in page["items"]]
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert sorted(seen) == sorted(created)


def test_list_filters(client, hospital: Org, login: Login, clock):
    ward_concern = submit(client, report_body(hospital.ward)).json["id"]
    clock.advance(hours=1)
    med_gap = submit(client, report_body(hospital.medicine, kind="gap",
                                         category="process_systems")).json["id"]
    clock.advance(hours=1)
    site_idea = submit(client, report_body(hospital.site, kind="opportunity")).json["id"]
    h = login("officer")

    def q(query: str) -> set[str]:
        return set(ids(client.get(f"/api/v1/reports?{query}", headers=h)))

    assert q("kind=gap") == {med_gap}
    assert q("category=process_systems") == {med_gap}
    assert q(f"unit_id={hospital.medicine}") == {ward_concern, med_gap}  # subtree
    assert q(f"unit_id={hospital.ward}") == {ward_concern}
    assert q("status=new") == {ward_concern, med_gap, site_idea}
    assert q("status=closed") == set()
    start = clock.now() - timedelta(hours=1)
    assert q(f"created_from={start.isoformat().replace('+00:00', 'Z')}") == {med_gap, site_idea}
    assert q(f"created_to={start.isoformat().replace('+00:00', 'Z')}") == {ward_concern}
    assert q("overdue=true") == set()
    clock.advance(hours=49)  # the concern and the gap are now past ack_due_at (48 h)
    assert q("overdue=true") == {ward_concern, med_gap}
    assert q("overdue=false") == {site_idea}


def test_assigned_to_me_filter(client, hospital: Org, login: Login):
    mine = submit(client, report_body(hospital.ward), login("ward_leader")).json["id"]
    assigned = submit(client, report_body(hospital.ward)).json["id"]
    headers = login("ward_leader")
    assert set(ids(client.get("/api/v1/reports", headers=headers))) == {mine, assigned}
    assert ids(client.get("/api/v1/reports?assigned_to=me", headers=headers)) == [assigned]


@pytest.mark.parametrize("query", ["limit=201", "limit=0", "cursor=%%%", "status=open",
                                   "assigned_to=someone", "created_from=yesterday"])
def test_bad_list_arguments_are_422(client, hospital: Org, login: Login, query):
    assert_problem(client.get(f"/api/v1/reports?{query}", headers=login("officer")), 422)


def test_listing_needs_a_token(client, hospital: Org):
    assert_problem(client.get("/api/v1/reports"), 401)


def test_messages_show_who_wrote_them_and_internal_notes_stay_on_the_staff_side(
    client, hospital: Org, login: Login, session, clock
):
    from speakup.models import Message

    report = submit(client, report_body(hospital.ward), login("nurse")).json
    session.add_all([
        Message(report_id=report["id"], body="Thank you, we are checking the pumps.",
                sender="staff", internal=False, created_at=clock.now(),
                author_id=hospital.ward_leader),
        Message(report_id=report["id"], body="Biomed ticket 4411", sender="staff",
                internal=True, created_at=clock.advance(minutes=1),
                author_id=hospital.ward_leader),
    ])
    session.commit()
    staff = client.get(f"/api/v1/reports/{report['id']}", headers=login("ward_leader")).json
    assert [(m["from"], m["internal"], m["author"]) for m in staff["messages"]] == [
        ("staff", False, {"id": hospital.ward_leader, "name": "Wendy Ward"}),
        ("staff", True, {"id": hospital.ward_leader, "name": "Wendy Ward"}),
    ]
    mine = client.get(f"/api/v1/reports/{report['id']}", headers=login("nurse")).json
    assert [m["body"] for m in mine["messages"]] == ["Thank you, we are checking the pumps."]
    assert mine["messages"][0]["from"] == "staff"


def test_a_leader_who_loses_the_role_loses_the_reports_routed_to_them(
    client, hospital: Org, login: Login
):
    report = submit(client, report_body(hospital.ward)).json
    headers = login("ward_leader")
    assert client.get(f"/api/v1/reports/{report['id']}", headers=headers).status_code == 200
    changed = client.patch(f"/api/v1/users/{hospital.ward_leader}", json={"roles": ["staff"]},
                           headers=login("admin"))
    assert changed.status_code == 200
    assert_problem(client.get(f"/api/v1/reports/{report['id']}", headers=headers), 404)
    assert ids(client.get("/api/v1/reports", headers=headers)) == []
