"""The routing decision as a pure function: facts, rules and an organisation held in memory,
no database.  Every branch: rules (each condition, priority and ties, role or named users,
falling through), the default chain (own unit, nearest above, safety officers, nobody),
``involves_leader``, self-reports and deactivated people."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from speakup.services.routing import Decision, Facts, Rule, decide, leaders_above
from tests.unit.routing.memory import MemoryTree

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture()
def tree() -> MemoryTree:
    """St Elsewhere > Medicine > Ward 7, Ward 8; and Annex, a top unit nobody leads."""
    t = MemoryTree()
    t.add_unit("site", "St Elsewhere")
    t.add_unit("med", "Medicine", "site")
    t.add_unit("w7", "Ward 7", "med")
    t.add_unit("w8", "Ward 8", "med")
    t.add_unit("annex", "Annex")
    t.add_person("dee", "Dee Director", "leader", leads=["site"])
    t.add_person("wendy", "Wendy Ward", "leader", "staff", leads=["w7"])
    t.add_person("walt", "Walt Ward", "leader", leads=["w8"])
    t.add_person("quinn", "Quinn Quality", "leader")
    t.add_person("sam", "Sam Safety", "safety_officer")
    t.add_person("sue", "Sue Safety", "safety_officer")
    t.add_person("nora", "Nora Nurse", "staff")
    t.add_person("ada", "Ada Admin", "admin")
    return t


def facts(unit_id: str = "w7", **overrides: object) -> Facts:
    values: dict[str, object] = {"unit_id": unit_id, "kind": "concern",
                                 "category": "patient_safety", "immediate_risk": False,
                                 "involves_leader": False, "reporter_id": "nora"}
    values.update(overrides)
    return Facts(**values)  # type: ignore[arg-type]


_made = 0


def rule(name: str = "rule", *, priority: int = 100, created_at: datetime = T0,
         rule_id: str | None = None, **fields: object) -> Rule:
    global _made
    _made += 1
    return Rule(id=rule_id or f"r{_made:04d}", name=name, priority=priority,
                created_at=created_at, **fields)  # type: ignore[arg-type]


def ids(decision: Decision) -> list[str]:
    return [a.id for a in decision.assignees]


# --- the default chain ---------------------------------------------------------------------


def test_the_units_own_leaders(tree: MemoryTree) -> None:
    decision = decide(facts("w7"), [], tree)
    assert ids(decision) == ["wendy"]
    assert decision.unit_id == "w7"
    assert decision.reason == "Routed to the leaders of Ward 7, the unit of the report."


def test_a_unit_without_leaders_goes_to_the_nearest_unit_above_with_leaders(
        tree: MemoryTree) -> None:
    decision = decide(facts("med"), [], tree)
    assert ids(decision) == ["dee"] and decision.unit_id == "site"
    assert "Routed to the leaders of St Elsewhere, the nearest unit above Medicine" in (
        decision.reason)


def test_several_leaders_all_get_it_in_name_order(tree: MemoryTree) -> None:
    tree.add_person("abe", "Abe Assistant", "leader", leads=["w7"])
    assert ids(decide(facts("w7"), [], tree)) == ["abe", "wendy"]


def test_no_leaders_up_the_tree_means_the_safety_officers(tree: MemoryTree) -> None:
    decision = decide(facts("annex"), [], tree)
    assert ids(decision) == ["sam", "sue"]
    assert decision.unit_id is None
    assert "routed to the safety officers" in decision.reason


def test_nobody_at_all_says_the_report_waits(tree: MemoryTree) -> None:
    tree.deactivate("sam")
    tree.deactivate("sue")
    decision = decide(facts("annex"), [], tree)
    assert decision.assignees == [] and decision.unit_id is None
    assert "waits for an administrator" in decision.reason


def test_an_empty_organisation_routes_to_nobody() -> None:
    empty = MemoryTree()
    empty.add_unit("only", "The only unit")
    decision = decide(facts("only"), [rule(role="leader")], empty)
    assert decision.assignees == [] and decision.unit_id is None
    assert "waits for an administrator" in decision.reason


def test_a_unit_the_tree_does_not_have_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="no unit"):
        decide(facts("nowhere"), [], MemoryTree())


def test_a_cycle_in_the_tree_ends_the_walk(tree: MemoryTree) -> None:
    tree.add_unit("a", "Loop A", "b")
    tree.add_unit("b", "Loop B", "a")
    assert ids(decide(facts("a"), [], tree)) == ["sam", "sue"]


def test_a_report_that_stops_at_its_unit_reads_nothing_above(tree: MemoryTree) -> None:
    decide(facts("w7"), [rule(kind="gap", role="leader")], tree)
    assert tree.asked == [("unit", "w7"), ("leaders", "w7")]


# --- deactivated people --------------------------------------------------------------------


def test_deactivated_leaders_are_never_assignees(tree: MemoryTree) -> None:
    tree.deactivate("wendy")
    decision = decide(facts("w7"), [], tree)
    assert ids(decision) == ["dee"] and decision.unit_id == "site"


def test_deactivated_leaders_everywhere_leave_the_safety_officers(tree: MemoryTree) -> None:
    tree.deactivate("wendy")
    tree.deactivate("dee")
    tree.deactivate("sue")
    assert ids(decide(facts("w7"), [], tree)) == ["sam"]


def test_a_leader_who_lost_the_role_is_not_a_leader(tree: MemoryTree) -> None:
    tree.people["wendy"].roles = {"staff"}
    assert ids(decide(facts("w7"), [], tree)) == ["dee"]


# --- never to the reporter -----------------------------------------------------------------


def test_a_named_report_from_the_units_leader_goes_one_level_up(tree: MemoryTree) -> None:
    decision = decide(facts("w7", reporter_id="wendy"), [], tree)
    assert ids(decision) == ["dee"] and decision.unit_id == "site"


def test_a_co_leader_reporting_leaves_the_other_leaders(tree: MemoryTree) -> None:
    tree.add_person("abe", "Abe Assistant", "leader", leads=["w7"])
    decision = decide(facts("w7", reporter_id="wendy"), [], tree)
    assert ids(decision) == ["abe"] and decision.unit_id == "w7"


def test_a_safety_officer_reporting_goes_to_the_other_officers(tree: MemoryTree) -> None:
    assert ids(decide(facts("annex", reporter_id="sam"), [], tree)) == ["sue"]


def test_the_top_leader_reporting_goes_to_the_safety_officers(tree: MemoryTree) -> None:
    decision = decide(facts("site", reporter_id="dee"), [], tree)
    assert ids(decision) == ["sam", "sue"] and decision.unit_id is None


def test_an_anonymous_report_excludes_nobody(tree: MemoryTree) -> None:
    assert ids(decide(facts("w7", reporter_id=None), [], tree)) == ["wendy"]


# --- involves_leader -----------------------------------------------------------------------


def test_involves_leader_passes_over_the_units_own_leaders(tree: MemoryTree) -> None:
    decision = decide(facts("w7", involves_leader=True), [], tree)
    assert ids(decision) == ["dee"] and decision.unit_id == "site"
    assert decision.reason.startswith(
        "The report concerns a leader, so the leaders of Ward 7 were passed over. ")


def test_involves_leader_without_own_leaders_passes_over_the_nearest_above(
        tree: MemoryTree) -> None:
    decision = decide(facts("med", involves_leader=True), [], tree)
    assert ids(decision) == ["sam", "sue"] and decision.unit_id is None
    assert "leaders of St Elsewhere were passed over" in decision.reason


def test_involves_leader_at_the_top_goes_to_the_safety_officers(tree: MemoryTree) -> None:
    decision = decide(facts("site", involves_leader=True), [], tree)
    assert ids(decision) == ["sam", "sue"]
    assert "leaders of St Elsewhere were passed over" in decision.reason


def test_involves_leader_with_no_leaders_at_all_passes_over_nobody(tree: MemoryTree) -> None:
    decision = decide(facts("annex", involves_leader=True), [], tree)
    assert ids(decision) == ["sam", "sue"]
    assert "passed over" not in decision.reason


def test_involves_leader_from_the_units_leader_passes_over_the_next_ones(
        tree: MemoryTree) -> None:
    # Wendy is left out as the reporter; the first leaders found are then Dee's.
    decision = decide(facts("w7", reporter_id="wendy", involves_leader=True), [], tree)
    assert ids(decision) == ["sam", "sue"]
    assert "leaders of St Elsewhere were passed over" in decision.reason


def test_involves_leader_skips_deactivated_leaders_when_finding_the_first(
        tree: MemoryTree) -> None:
    tree.deactivate("wendy")
    decision = decide(facts("w7", involves_leader=True), [], tree)
    assert ids(decision) == ["sam", "sue"]
    assert "leaders of St Elsewhere were passed over" in decision.reason


# --- rules: matching -----------------------------------------------------------------------


QUALITY = {"user_ids": ("quinn",)}


@pytest.mark.parametrize(("condition", "matching", "other"), [
    ({"kind": "gap"}, {"kind": "gap"}, {"kind": "concern"}),
    ({"category": "bullying_harassment"}, {"category": "bullying_harassment"},
     {"category": "patient_safety"}),
    ({"immediate_risk": True}, {"immediate_risk": True}, {"immediate_risk": False}),
    ({"immediate_risk": False}, {"immediate_risk": False}, {"immediate_risk": True}),
])
def test_each_condition_matches_only_its_value(tree: MemoryTree, condition, matching,
                                               other) -> None:
    rules = [rule("quality", **condition, **QUALITY)]
    hit = decide(facts("w7", **matching), rules, tree)
    assert ids(hit) == ["quinn"] and hit.unit_id == "w7"
    assert hit.reason == 'Routed by the routing rule "quality" to the people it names.'
    assert ids(decide(facts("w7", **other), rules, tree)) == ["wendy"]


@pytest.mark.parametrize(("unit_id", "matches"), [
    ("med", True), ("w7", True), ("w8", True), ("site", False), ("annex", False)])
def test_a_unit_condition_matches_the_unit_and_everything_below(
        tree: MemoryTree, unit_id: str, matches: bool) -> None:
    decision = decide(facts(unit_id), [rule(unit_id="med", **QUALITY)], tree)
    assert (ids(decision) == ["quinn"]) is matches


def test_every_condition_a_rule_sets_must_match(tree: MemoryTree) -> None:
    rules = [rule(kind="gap", category="staffing_workload", unit_id="med",
                  immediate_risk=False, **QUALITY)]
    assert ids(decide(facts("w7", kind="gap", category="staffing_workload"), rules,
                      tree)) == ["quinn"]
    for miss in ({"kind": "concern"}, {"category": "other"}, {"immediate_risk": True}):
        base = {"kind": "gap", "category": "staffing_workload", **miss}
        assert ids(decide(facts("w7", **base), rules, tree)) == ["wendy"], miss
    assert ids(decide(facts("annex", kind="gap", category="staffing_workload"), rules,
                      tree)) == ["sam", "sue"]


def test_a_rule_without_conditions_matches_every_report(tree: MemoryTree) -> None:
    assert ids(decide(facts("annex", kind="opportunity"), [rule(**QUALITY)], tree)) == ["quinn"]


def test_inactive_rules_are_ignored(tree: MemoryTree) -> None:
    assert ids(decide(facts(), [rule(active=False, **QUALITY)], tree)) == ["wendy"]


# --- rules: whom they route to -------------------------------------------------------------


def test_a_rule_routes_to_every_active_holder_of_its_role(tree: MemoryTree) -> None:
    tree.deactivate("sue")
    decision = decide(facts(), [rule("officers", role="safety_officer")], tree)
    assert ids(decision) == ["sam"] and decision.unit_id == "w7"
    assert decision.reason == 'Routed by the routing rule "officers" to every active safety ' \
        "officer."


def test_a_rule_routes_to_its_named_users_in_name_order(tree: MemoryTree) -> None:
    decision = decide(facts(), [rule(user_ids=("sam", "quinn", "dee"))], tree)
    assert ids(decision) == ["dee", "quinn", "sam"]


def test_named_users_who_cannot_act_are_left_out(tree: MemoryTree) -> None:
    tree.deactivate("quinn")
    decision = decide(facts(), [rule(user_ids=("quinn", "ada", "nora", "ghost", "sam"))], tree)
    assert ids(decision) == ["sam"]


def test_a_rule_never_routes_to_the_reporter(tree: MemoryTree) -> None:
    decision = decide(facts(reporter_id="sam"), [rule(role="safety_officer")], tree)
    assert ids(decision) == ["sue"]


def test_a_rule_left_with_nobody_falls_through_to_the_default_chain(tree: MemoryTree) -> None:
    tree.deactivate("quinn")
    decision = decide(facts(), [rule("quality", **QUALITY)], tree)
    assert ids(decision) == ["wendy"] and decision.unit_id == "w7"
    assert decision.reason == (
        'The routing rule "quality" matched, but none of the people it routes to can take '
        "this report. Routed to the leaders of Ward 7, the unit of the report.")


def test_a_rule_naming_only_the_reporter_falls_through(tree: MemoryTree) -> None:
    decision = decide(facts(reporter_id="quinn"), [rule("me", **QUALITY)], tree)
    assert ids(decision) == ["wendy"]
    assert decision.reason.startswith('The routing rule "me" matched, but none')


def test_a_rule_left_with_nobody_falls_through_to_the_next_matching_rule(
        tree: MemoryTree) -> None:
    tree.deactivate("quinn")
    rules = [rule("quality", priority=1, **QUALITY),
             rule("not this", priority=2, kind="gap", role="safety_officer"),
             rule("officers", priority=3, role="safety_officer")]
    decision = decide(facts(), rules, tree)
    assert ids(decision) == ["sam", "sue"] and decision.unit_id == "w7"
    assert decision.reason == (
        'The routing rule "quality" matched, but none of the people it routes to can take '
        'this report. Routed by the routing rule "officers" to every active safety officer.')


def test_a_role_nobody_holds_falls_through(tree: MemoryTree) -> None:
    tree.deactivate("sam")
    tree.deactivate("sue")
    decision = decide(facts("annex"), [rule("officers", role="safety_officer")], tree)
    assert decision.assignees == []
    assert decision.reason.startswith('The routing rule "officers" matched')
    assert decision.reason.endswith("waits for an administrator to assign it.")


# --- rules: order --------------------------------------------------------------------------


def test_the_lowest_priority_number_wins_whatever_the_order_given(tree: MemoryTree) -> None:
    rules = [rule("later", priority=20, role="safety_officer"),
             rule("first", priority=10, **QUALITY)]
    assert ids(decide(facts(), rules, tree)) == ["quinn"]
    assert ids(decide(facts(), list(reversed(rules)), tree)) == ["quinn"]


def test_a_priority_tie_goes_to_the_older_rule(tree: MemoryTree) -> None:
    rules = [rule("newer", rule_id="a", created_at=T0 + timedelta(seconds=1),
                  role="safety_officer"),
             rule("older", rule_id="b", created_at=T0, **QUALITY)]
    assert ids(decide(facts(), rules, tree)) == ["quinn"]
    assert ids(decide(facts(), list(reversed(rules)), tree)) == ["quinn"]


def test_a_tie_in_priority_and_age_goes_to_the_lower_id(tree: MemoryTree) -> None:
    rules = [rule("z", rule_id="z", role="safety_officer"), rule("a", rule_id="a", **QUALITY)]
    assert ids(decide(facts(), rules, tree)) == ["quinn"]
    assert ids(decide(facts(), list(reversed(rules)), tree)) == ["quinn"]


def test_a_more_specific_rule_needs_a_lower_number_to_win(tree: MemoryTree) -> None:
    rules = [rule("catch-all", priority=5, role="safety_officer"),
             rule("gaps", priority=6, kind="gap", **QUALITY)]
    assert ids(decide(facts(kind="gap"), rules, tree)) == ["sam", "sue"]


# --- rules and involves_leader -------------------------------------------------------------


def test_involves_leader_leaves_the_passed_over_leaders_out_of_a_rules_people(
        tree: MemoryTree) -> None:
    tree.add_person("abe", "Abe Assistant", "leader", leads=["w7"])
    decision = decide(facts(involves_leader=True),
                      [rule("leaders", user_ids=("wendy", "abe", "quinn"))], tree)
    assert ids(decision) == ["quinn"] and decision.unit_id == "w7"
    assert decision.reason == (
        "The report concerns a leader, so the leaders of Ward 7 were passed over. "
        'Routed by the routing rule "leaders" to the people it names.')


def test_involves_leader_passes_over_the_nearest_leaders_above_for_a_rule_too(
        tree: MemoryTree) -> None:
    decision = decide(facts("med", involves_leader=True),
                      [rule("leaders", role="leader")], tree)
    assert ids(decision) == ["quinn", "walt", "wendy"]


def test_involves_leader_does_not_mention_leaders_a_rule_never_had(tree: MemoryTree) -> None:
    decision = decide(facts(involves_leader=True), [rule("quality", **QUALITY)], tree)
    assert ids(decision) == ["quinn"]
    assert "passed over" not in decision.reason


def test_a_rule_left_only_with_passed_over_leaders_falls_through_to_the_next_leaders_up(
        tree: MemoryTree) -> None:
    decision = decide(facts(involves_leader=True), [rule("ward", user_ids=("wendy",))], tree)
    assert ids(decision) == ["dee"] and decision.unit_id == "site"
    assert decision.reason.startswith('The routing rule "ward" matched, but none')
    assert "leaders of Ward 7 were passed over" in decision.reason


# --- leaders above (escalation) ------------------------------------------------------------


def test_leaders_above_are_strictly_above(tree: MemoryTree) -> None:
    found = leaders_above(tree, "w7")
    assert found is not None
    unit, leaders = found
    assert unit.id == "site" and [p.id for p in leaders] == ["dee"]


def test_leaders_above_leave_out_whom_they_are_told(tree: MemoryTree) -> None:
    tree.add_person("deb", "Deb Deputy", "leader", leads=["site"])
    found = leaders_above(tree, "med", exclude={"dee"})
    assert found is not None and [p.id for p in found[1]] == ["deb"]
    assert leaders_above(tree, "med", exclude={"dee", "deb"}) is None


def test_nothing_is_above_the_top(tree: MemoryTree) -> None:
    assert leaders_above(tree, "site") is None
    assert leaders_above(tree, "nowhere") is None
