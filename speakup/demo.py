"""The demo organisation and a realistic report history, for ``speakup demo``.

:func:`seed` creates a small hospital once (units, leaders, a safety officer, an admin and
staff, all with :data:`DEMO_PASSWORD`) and adds report history spread over the past year:
routed like real submissions, acknowledged and closed with realistic delays, some late, some
still open past their due times.  Anonymous reports store nothing that points at a person.

History is written in batches, one transaction and one bulk insert per table each (see
:class:`_Wire`), so a hundred thousand reports take seconds rather than minutes.  The data is
made up: the random numbers here pick demo content and are no security measure (receipt keys
still come from :mod:`secrets`).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any, Protocol

from sqlalchemy import Dialect, column, insert, select
from sqlalchemy import table as _table
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from speakup.db import Base, Database
from speakup.models import Category, Unit, User
from speakup.services import org, routing
from speakup.services.auth import receipts
from speakup.services.auth.passwords import Passwords
from speakup.services.core.clock import Clock, SettableClock, SystemClock
from speakup.services.core.ids import new_id
from speakup.services.core.keys import Keys
from speakup.services.reports import references, sla
from speakup.settings import Settings

DEMO_PASSWORD = "speak-up-safely"  # noqa: S105 - published: every demo login uses it
SITE_CODE = "DEMO-SITE"
DEFAULT_REPORTS = 300
HISTORY_DAYS = 365
BATCH = 20_000
SQLITE_CACHE_KIB = 256 * 1024


# --- progress --------------------------------------------------------------------------


class ProgressBar(Protocol):
    def update(self, n_steps: int, /) -> None: ...


Progress = Callable[[int, str], AbstractContextManager[ProgressBar]]


class _SilentBar:
    def update(self, n_steps: int, /) -> None:
        """Ignore progress."""


def quiet(total: int, label: str) -> AbstractContextManager[ProgressBar]:
    """A progress callable that shows nothing (the default of :func:`seed`)."""
    return nullcontext(_SilentBar())


# --- the organisation ------------------------------------------------------------------


@dataclass(frozen=True)
class UnitSpec:
    code: str
    name: str
    parent: str | None
    weight: float  # relative share of the reports
    areas: frozenset[str]  # which report templates fit the unit


@dataclass(frozen=True)
class PersonSpec:
    email: str
    name: str
    roles: tuple[str, ...]
    unit: str | None = None
    leads: tuple[str, ...] = ()
    featured: bool = False  # listed among the demo logins


def _u(code: str, name: str, parent: str | None, weight: float, *areas: str) -> UnitSpec:
    return UnitSpec(code, name, parent, weight, frozenset(areas))


# Departments with and without leaders, wards with their own leaders and wards without, so
# routing climbs the tree: ED Minors -> Emergency (no leaders) -> the site's director.
UNITS: tuple[UnitSpec, ...] = (
    _u(SITE_CODE, "Riverside General Hospital", None, 2, "site"),
    _u("DEMO-MED", "Medicine", SITE_CODE, 2, "clinical"),
    _u("DEMO-MED-W7", "Ward 7 - Acute Medical Unit", "DEMO-MED", 10, "clinical"),
    _u("DEMO-MED-W9", "Ward 9 - Respiratory", "DEMO-MED", 7, "clinical"),
    _u("DEMO-MED-CDU", "Cardiology Day Unit", "DEMO-MED", 4, "clinical"),
    _u("DEMO-SUR", "Surgery", SITE_CODE, 2, "clinical"),
    _u("DEMO-SUR-TH", "Main Theatres", "DEMO-SUR", 8, "clinical", "theatre"),
    _u("DEMO-SUR-W12", "Ward 12 - Orthopaedics", "DEMO-SUR", 6, "clinical"),
    _u("DEMO-SUR-SAU", "Surgical Assessment Unit", "DEMO-SUR", 4, "clinical"),
    _u("DEMO-ED", "Emergency", SITE_CODE, 2, "clinical", "ed"),
    _u("DEMO-ED-MAJ", "ED Majors", "DEMO-ED", 10, "clinical", "ed"),
    _u("DEMO-ED-MIN", "ED Minors and Urgent Treatment", "DEMO-ED", 5, "clinical", "ed"),
    _u("DEMO-ED-RES", "Resus", "DEMO-ED", 4, "clinical", "ed"),
    _u("DEMO-WC", "Women and Children", SITE_CODE, 2, "clinical"),
    _u("DEMO-WC-MAT", "Maternity - Delivery Suite", "DEMO-WC", 7, "clinical", "maternity"),
    _u("DEMO-WC-NNU", "Neonatal Unit", "DEMO-WC", 4, "clinical", "children"),
    _u("DEMO-WC-PAED", "Paediatric Ward", "DEMO-WC", 5, "clinical", "children"),
    _u("DEMO-FAC", "Facilities", SITE_CODE, 1, "facilities"),
    _u("DEMO-FAC-EST", "Estates and Maintenance", "DEMO-FAC", 3, "facilities"),
    _u("DEMO-FAC-POR", "Portering and Logistics", "DEMO-FAC", 3, "facilities"),
    _u("DEMO-FAC-DOM", "Domestic and Catering Services", "DEMO-FAC", 2, "facilities"),
)


def _p(email: str, name: str, roles: str, unit: str | None = None, leads: str = "",
       featured: bool = False) -> PersonSpec:
    return PersonSpec(f"{email}@demo.speakup.test", name, tuple(sorted(roles.split())), unit,
                      tuple(leads.split()), featured)


PEOPLE: tuple[PersonSpec, ...] = (
    _p("admin", "Alex Morgan", "admin", featured=True),
    _p("safety", "Samira Patel", "safety_officer", featured=True),
    _p("guardian", "Owen Davies", "safety_officer", featured=True),
    _p("director", "Catherine Hughes", "leader", SITE_CODE, SITE_CODE, featured=True),
    _p("medicine.lead", "Dr Priya Raman", "leader", "DEMO-MED", "DEMO-MED", featured=True),
    _p("medicine.matron", "Joseph Mensah", "leader", "DEMO-MED", "DEMO-MED"),
    _p("ward7.manager", "Grace Okafor", "leader staff", "DEMO-MED-W7", "DEMO-MED-W7",
       featured=True),
    _p("cardiology.manager", "Tom Fitzgerald", "leader staff", "DEMO-MED-CDU", "DEMO-MED-CDU"),
    _p("surgery.lead", "James Whitaker", "leader", "DEMO-SUR", "DEMO-SUR"),
    _p("theatres.manager", "Aisha Bello", "leader staff", "DEMO-SUR-TH", "DEMO-SUR-TH"),
    _p("ed.lead", "Marcus Reid", "leader staff", "DEMO-ED-MAJ", "DEMO-ED-MAJ DEMO-ED-RES"),
    _p("wc.lead", "Dr Nkechi Adeyemi", "leader", "DEMO-WC", "DEMO-WC"),
    _p("maternity.manager", "Rachel Lewis", "leader staff", "DEMO-WC-MAT", "DEMO-WC-MAT"),
    _p("paediatrics.manager", "Ben Carter", "leader staff", "DEMO-WC-PAED", "DEMO-WC-PAED"),
    _p("facilities.manager", "Gary Holt", "leader", "DEMO-FAC", "DEMO-FAC"),
    _p("nurse", "Nora Quinn", "staff", "DEMO-MED-W7", featured=True),
    _p("doctor", "Dr Sami Haddad", "staff", "DEMO-ED-MAJ", featured=True),
    _p("hca", "Kerry-Ann Campbell", "staff", "DEMO-MED-W9"),
    _p("pharmacist", "Mei Lin", "staff", "DEMO-MED"),
    _p("physio", "Mateusz Nowak", "staff", "DEMO-SUR-W12"),
    _p("odp", "Liam O'Brien", "staff", "DEMO-SUR-TH"),
    _p("sau.nurse", "Kwame Asante", "staff", "DEMO-SUR-SAU"),
    _p("ed.nurse", "Yusuf Ali", "staff", "DEMO-ED-MIN"),
    _p("resus.nurse", "Ruth Adams", "staff", "DEMO-ED-RES"),
    _p("midwife", "Hannah Kowalski", "staff", "DEMO-WC-MAT"),
    _p("neonatal.nurse", "Chloe Evans", "staff", "DEMO-WC-NNU"),
    _p("paeds.nurse", "Ella Thompson", "staff", "DEMO-WC-PAED"),
    _p("porter", "Dev Sharma", "staff", "DEMO-FAC-POR", featured=True),
    _p("estates", "Paul Jenkins", "staff", "DEMO-FAC-EST"),
    _p("domestic", "Fatima Hussain", "staff", "DEMO-FAC-DOM"),
)

# Reporters are plain staff: never a leader or safety officer, so never an assignee.
REPORTER_ROLES = frozenset({"staff"})


@dataclass(frozen=True)
class Login:
    """A demo account to show: its e-mail address, name and roles (sorted)."""

    email: str
    name: str
    roles: list[str]


@dataclass(frozen=True)
class SeedResult:
    """What :func:`seed` did, and the logins to show."""

    created_organisation: bool
    reports_added: int
    logins: list[Login]


def logins() -> list[Login]:
    """The demo accounts worth trying, the same on every run (all use DEMO_PASSWORD)."""
    return [Login(p.email, p.name, list(p.roles)) for p in PEOPLE if p.featured]


def seed(
    database: Database,
    *,
    settings: Settings,
    reports: int | None = None,
    progress: Progress = quiet,
    clock: Clock | None = None,
    rng: random.Random | None = None,
) -> SeedResult:
    """Create the demo organisation unless unit ``DEMO-SITE`` exists, then add history.

    ``reports=None`` adds :data:`DEFAULT_REPORTS` when the organisation is created now and
    none otherwise; a number adds that many on every run.  Reports are created over the
    ``HISTORY_DAYS`` before ``clock.now()`` and committed in batches of :data:`BATCH`; the
    organisation is dated a day before that, so everyone in it predates the history.
    ``rng`` makes the content repeatable (ids and receipt keys stay random).
    """
    clock = clock or SystemClock()
    rng = rng or random.Random()  # noqa: S311 - picks demo content, protects nothing
    founded = SettableClock(clock.now() - timedelta(days=HISTORY_DAYS + 1))
    created = _create_organisation(database, settings, founded, progress)
    with database.session() as session:
        count = (DEFAULT_REPORTS if created else 0) if reports is None else reports
        if count:
            wire = _Wire(session.get_bind().dialect)
            now = clock.now().astimezone(UTC).replace(tzinfo=None)
            history = _History(_load_world(session, wire, rng), wire,
                               Keys.from_secret(settings.secret_key), now, rng)
            history.write(session, count, progress)
    return SeedResult(created, count, logins())


class _SharedHash(Passwords):
    """argon2id at the configured cost, computed once for the one demo password.

    Every demo account has the same, published password, so one salt for all of them hides
    nothing; hashing it thirty times at production cost would take several seconds.
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__(time_cost=settings.argon2_time_cost,
                         memory_kib=settings.argon2_memory_kib,
                         parallelism=settings.argon2_parallelism)
        self._done: dict[str, str] = {}

    def hash(self, password: str) -> str:
        if password not in self._done:
            self._done[password] = super().hash(password)
        return self._done[password]


def _create_organisation(
    database: Database, settings: Settings, clock: Clock, progress: Progress
) -> bool:
    """Create every unit, user and leader assignment of the blueprint through the services;
    False (and nothing written) when the site unit exists already."""
    with database.read() as session:
        if session.scalar(select(Unit.id).where(Unit.code == SITE_CODE)) is not None:
            return False
    unit_ids: dict[str, str] = {}
    for spec in UNITS:
        parent = unit_ids[spec.parent] if spec.parent else None
        unit = org.create_unit(database, clock=clock, name=spec.name, code=spec.code,
                               parent_id=parent)
        unit_ids[spec.code] = unit.id
    passwords = _SharedHash(settings)
    with progress(len(PEOPLE), "Creating demo users") as bar:
        for person in PEOPLE:
            user = org.create_user(database, clock=clock, passwords=passwords, data=org.NewUser(
                email=person.email, name=person.name, password=DEMO_PASSWORD,
                roles=list(person.roles),
                unit_id=unit_ids[person.unit] if person.unit else None,
            ))
            for code in person.leads:
                org.add_leader(database, clock=clock, unit_id=unit_ids[code], user_id=user.id)
            bar.update(1)
    return True


# --- report content --------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    kind: str
    category: str
    title: str
    text: str  # may use {unit}, {shift}, {day} and {n}
    areas: frozenset[str] | None = None  # None: fits every unit
    risk: float = 0.0  # chance of immediate_risk
    anonymous: float = 0.25
    leader: float = 0.03  # chance of involves_leader


def _t(kind: str, category: str, title: str, text: str, areas: str | None = None,
       **chances: float) -> Template:
    return Template(kind, category, title, text,
                    None if areas is None else frozenset(areas.split()), **chances)


TEMPLATES: tuple[Template, ...] = (
    # concerns
    _t("concern", "patient_safety", "Infusion pump alarms silenced on nights",
       "On {shift} shifts on {unit} infusion-pump alarms are silenced without anyone checking "
       "the line or the pump. Twice this week a patient's IV antibiotics had stopped for over "
       "an hour before anyone noticed.", "clinical", risk=0.15),
    _t("concern", "patient_safety", "Falls risk missed at handover",
       "At the {shift} handover on {unit} a patient's high falls risk was not mentioned; they "
       "were found on the floor {n} hours later. Handover is verbal only and rushed when the "
       "ward is busy.", "clinical", risk=0.1),
    _t("concern", "patient_safety", "Controlled drug check done by one person",
       "The controlled drug count on {unit} was signed as double-checked on {day} but only one "
       "nurse did it. People feel they cannot refuse to co-sign when it is busy.", "clinical",
       risk=0.05),
    _t("concern", "patient_safety", "Blood sample labelled for the wrong patient",
       "A blood sample on {unit} was labelled from another patient's printout because the "
       "label printer was down on the {shift} shift. The lab caught it, but it could easily "
       "have been missed.", "clinical", risk=0.1),
    _t("concern", "patient_safety", "Patients on trolleys in the corridor",
       "On {day} there were {n} patients on trolleys in the corridor of {unit} with no call "
       "bell and no named nurse. One deteriorated and was noticed by a relative.", "ed",
       risk=0.25),
    _t("concern", "patient_safety", "WHO checklist sign-out skipped",
       "The sign-out of the WHO surgical safety checklist was skipped on the last case of the "
       "list on {day}. The list overran and we were told to just get on with it.", "theatre",
       risk=0.1, leader=0.15),
    _t("concern", "patient_safety", "Fresh-eyes CTG reviews running late",
       "Fresh-eyes CTG reviews on {unit} are often late when there are only {n} midwives on "
       "the {shift} shift, and the coordinator is caring for women as well.", "maternity",
       risk=0.2),
    _t("concern", "patient_safety", "Paediatric doses without a second check",
       "Weight-based doses on {unit} were calculated and drawn up without an independent "
       "second check on the {shift} shift on {day}.", "children", risk=0.15),
    _t("concern", "equipment_environment", "Resus trolley checks missed",
       "The resus trolley on {unit} missed its daily check {n} times this month and the "
       "suction was found not working on {day}.", "clinical", risk=0.2),
    _t("concern", "equipment_environment", "Hand-hygiene gel dispensers empty",
       "The hand-hygiene gel dispensers at the bay entrances on {unit} have been empty for "
       "{n} days. Refills are requested but do not arrive.", "clinical"),
    _t("concern", "equipment_environment", "Wet floor left without signage",
       "A leaking pipe left the corridor floor near {unit} wet for most of the {shift} shift "
       "with no signage. A porter nearly slipped while moving a patient.", "facilities site",
       risk=0.1),
    _t("concern", "equipment_environment", "Bed lift out of order again",
       "The bed lift between the wards and theatres broke down again on {day}, {n} times this "
       "month; patients had to be moved the long way round.", "facilities site"),
    _t("concern", "staffing_workload", "Weekend staffing below safe levels",
       "{unit} ran {n} registered nurses short on the {day} {shift} shift. Breaks were missed "
       "and observations were late for several patients.", "clinical", risk=0.05),
    _t("concern", "staffing_workload", "Asked to stay late nearly every shift",
       "Staff on {unit} are asked to stay past the end of the shift most days this month. The "
       "rota has {n} unfilled lines every week and people are exhausted.", leader=0.08),
    _t("concern", "bullying_harassment", "Shouted at in front of patients",
       "A senior colleague on {unit} shouted at a junior member of staff in front of patients "
       "and relatives on {day}. It keeps happening and people are afraid to say anything.",
       anonymous=0.65, leader=0.35),
    _t("concern", "bullying_harassment", "Left off training after raising a concern",
       "Since I raised a concern about fairness of the rota I have been left off the training "
       "list on {unit} twice. I do not feel safe raising things with my manager.",
       anonymous=0.7, leader=0.5),
    _t("concern", "behaviour_attitudes", "Concerns brushed aside at handover",
       "Concerns raised by healthcare assistants at handover on {unit} are brushed aside as "
       "not their job. It stops people speaking up about patients.", anonymous=0.55,
       leader=0.2),
    _t("concern", "behaviour_attitudes", "Racist abuse from a visitor not challenged",
       "A visitor racially abused a member of staff on {unit} on {day}. Nobody challenged it "
       "and there was no support for the colleague afterwards.", anonymous=0.4),
    _t("concern", "staff_safety_wellbeing", "Assault by a patient not followed up",
       "A colleague was hit by a confused patient on {unit} during the {shift} shift. There "
       "was no debrief and the incident report was never acknowledged.", "clinical",
       risk=0.1),
    _t("concern", "staff_safety_wellbeing", "Nowhere to take a break on nights",
       "There is nowhere to take a break on {shift} shifts on {unit}: the staff room is used "
       "for storage. People eat at the desk or not at all."),
    # gaps
    _t("gap", "process_systems", "No orientation for agency staff",
       "Agency staff on {unit} get no written handover or orientation. On {day} an agency "
       "nurse did not know where the emergency equipment was.", "clinical", risk=0.05),
    _t("gap", "process_systems", "Sepsis screening prompt missing on night charts",
       "The sepsis screening prompt is missing from the observation charts used on {shift} "
       "shifts on {unit}, so screening depends on memory.", "clinical", risk=0.05),
    _t("gap", "process_systems", "Incident reports never get feedback",
       "Staff on {unit} have stopped filing incident reports because nobody hears back. "
       "There is no loop to tell people what happened."),
    _t("gap", "staffing_workload", "No phlebotomy cover at weekends",
       "There is no phlebotomy service at weekends, so nurses on {unit} take all the bloods on "
       "top of a full workload and morning results come back late.", "clinical"),
    _t("gap", "equipment_environment", "Too few working observation machines",
       "{unit} has {n} observation machines for 28 beds and two are broken. Nurses queue for "
       "them and observations are done late.", "clinical"),
    _t("gap", "process_systems", "No overnight pathway for mental-health crises",
       "There is no agreed pathway for patients in mental-health crisis in {unit} overnight; "
       "they wait {n} hours or more with no suitable space.", "ed", risk=0.05),
    _t("gap", "process_systems", "Repair requests disappear",
       "Repair requests from {unit} get a job number and then nothing happens; nobody can see "
       "the status. Some have been open for {n} weeks.", "facilities site"),
    _t("gap", "staff_safety_wellbeing", "No debrief after an unexpected death",
       "After an unexpected death on {unit} on {day} there was no debrief and no support "
       "offered to the team.", anonymous=0.3),
    _t("gap", "patient_safety", "Baby ID tags not checked at shift change",
       "Baby identification tags are not checked at every shift change on {unit}, contrary "
       "to policy.", "maternity children", risk=0.05),
    _t("gap", "process_systems", "Instrument trays arrive incomplete",
       "Instrument trays arrive in theatre with missing or wrong instruments {n} times a week; "
       "lists are delayed while replacements are found.", "theatre"),
    # opportunities
    _t("opportunity", "quality_improvement", "Idea: weekly pharmacy top-ups",
       "Pharmacy staff spend hours chasing single medicine orders for {unit}. A weekly top-up "
       "list for common medicines would save pharmacy and nursing time.", "clinical",
       anonymous=0.1),
    _t("opportunity", "quality_improvement", "Idea: structured SBAR handover sheet",
       "A short SBAR handover sheet on {unit} could stop things being missed; a pilot on "
       "another ward cut handover time by {n} minutes.", "clinical", anonymous=0.1),
    _t("opportunity", "process_systems", "Idea: shared electronic bed board",
       "A shared electronic bed-status board between {unit} and the bed managers would cut the "
       "phone calls at every shift change.", "clinical", anonymous=0.1),
    _t("opportunity", "quality_improvement", "Idea: rapid-assessment nurse at triage",
       "A senior nurse at triage at peak hours could start bloods and pain relief earlier and "
       "shorten waits in {unit}.", "ed", anonymous=0.1),
    _t("opportunity", "process_systems", "Idea: huddle before every list",
       "A five-minute team huddle before each theatre list would catch equipment and staffing "
       "problems before the first patient arrives.", "theatre", anonymous=0.1),
    _t("opportunity", "quality_improvement", "Idea: feedback cards for families",
       "Simple feedback cards for parents on {unit} would tell us quickly what is working and "
       "what is not.", "maternity children", anonymous=0.1),
    _t("opportunity", "quality_improvement", "Idea: switch off unused equipment at night",
       "Lighting and equipment in empty clinic areas stay on overnight. A switch-off round on "
       "the {shift} shift would save energy.", "facilities site", anonymous=0.1),
    _t("opportunity", "staff_safety_wellbeing", "Idea: a quiet rest room for night staff",
       "Turning the unused seminar room near {unit} into a quiet rest space for {shift} staff "
       "would help people actually take their breaks.", anonymous=0.15),
    _t("opportunity", "quality_improvement", "Idea: buddies for new starters",
       "New starters on {unit} feel lost in their first weeks. A buddy for the first month "
       "would help them settle in and speak up.", anonymous=0.1),
    _t("opportunity", "staffing_workload", "Idea: self-rostering pilot",
       "A self-rostering pilot on {unit} could make {shift} cover fairer and cut last-minute "
       "sickness.", anonymous=0.15),
)

KIND_WEIGHTS = {"concern": 55, "gap": 25, "opportunity": 20}
VARIANTS = 4  # wordings of each template per unit
SHIFTS = ("night", "late", "early", "weekend", "long day")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Reports by hour of day (UTC): quiet at night, peaks around the handovers.
HOUR_WEIGHTS = (2, 1.5, 1, 1, 1, 1.5, 3, 6, 9, 9, 8, 7, 7, 8, 8, 7, 6, 5, 5, 6, 6, 4, 3, 2.5)

OUTCOME_WEIGHTS = {
    "concern": {"actioned": 50, "planned": 15, "not_actioned": 10, "referred": 17,
                "duplicate": 8},
    "gap": {"actioned": 40, "planned": 30, "not_actioned": 12, "referred": 10, "duplicate": 8},
    "opportunity": {"actioned": 30, "planned": 40, "not_actioned": 20, "referred": 5,
                    "duplicate": 5},
}
RESPONSES = {
    "actioned": (
        "Thank you for speaking up. We looked into this with the team on {unit} and made a "
        "change: it is now checked at every safety huddle. Please tell us if it happens again.",
        "Thanks for raising this. The immediate problem is fixed and the team on {unit} agreed "
        "a new routine, which we will review at the next governance meeting.",
    ),
    "planned": (
        "Thank you. We agree this needs to change. It is on the improvement plan for {unit} "
        "for next quarter and we will post updates here as it progresses.",
    ),
    "not_actioned": (
        "Thank you for raising this. We looked at it carefully but cannot make this change "
        "this year because of budget limits; we explained why at the team meeting on {unit} "
        "and will look at it again in six months.",
    ),
    "referred": (
        "Thanks for speaking up. This needs a decision above {unit}, so we referred it to the "
        "divisional governance team, who will reply here.",
    ),
    "duplicate": (
        "Thank you. Colleagues raised this too and it is being handled under an earlier "
        "report; the actions there cover what you described.",
    ),
}
UPDATES = (
    "Thank you for raising this. We are looking into it with the team on {unit} and will "
    "update you here.",
    "We have spoken with the staff involved and are checking the rota and records; more to "
    "follow within two weeks.",
    "Quick update: the practice educator for {unit} is looking at this and we will come back "
    "to you with what we find.",
)


# --- what the history is written against -----------------------------------------------


@dataclass(frozen=True)
class _Route:
    """A routing decision, made once per unit and ``involves_leader`` and reused."""

    assignee_ids: tuple[str, ...]
    reason: str
    details: Any  # of the "routed" timeline event, in wire form


@dataclass(frozen=True)
class _Text:
    template: Template
    description: str


@dataclass(frozen=True)
class _Place:
    """A unit that reports are written about, with what fits it, worded in advance."""

    id: str
    name: str
    texts: dict[str, tuple[_Text, ...]]  # by kind; never empty
    updates: tuple[str, ...]  # staff updates to the reporter
    responses: dict[str, tuple[str, ...]]  # closing responses by outcome
    routes: tuple[_Route, _Route]  # indexed by involves_leader
    reporters: tuple[str, ...]  # staff of the same department


@dataclass(frozen=True)
class _World:
    places: list[_Place]
    place_weights: list[float]  # cumulative
    reporters: tuple[str, ...]  # every plain staff member
    categories: dict[str, str]  # template category -> an active category


def _load_world(session: Session, wire: _Wire, rng: random.Random) -> _World:
    """The active demo units with their routing, the demo staff who can report, and the
    active categories; raises RuntimeError when no demo unit or no category is active."""
    specs = {spec.code: spec for spec in UNITS}
    units = list(session.scalars(
        select(Unit).where(Unit.code.in_(specs), Unit.active.is_(True)).order_by(Unit.code)
    ))
    if not units:
        raise RuntimeError("the demo organisation has no active units left")
    parents = {uid: parent for uid, parent in session.execute(select(Unit.id, Unit.parent_id))}
    staff = _reporters(session)
    places = []
    for unit in units:
        department = _department(unit.id, parents)
        local = tuple(uid for uid, home in staff.items()
                      if home is not None and _department(home, parents) == department)
        places.append(_Place(
            id=unit.id, name=unit.name, texts=_texts_for(specs[unit.code], unit.name, rng),
            updates=tuple(text.format(unit=unit.name) for text in UPDATES),
            responses={outcome: tuple(text.format(unit=unit.name) for text in texts)
                       for outcome, texts in RESPONSES.items()},
            routes=(_route(session, wire, unit, False), _route(session, wire, unit, True)),
            reporters=local,
        ))
    weights = list(itertools.accumulate(specs[u.code].weight for u in units))
    return _World(places, weights, tuple(staff), _category_map(session))


def _reporters(session: Session) -> dict[str, str | None]:
    """Active demo users whose only role is staff, with their unit."""
    emails = [person.email for person in PEOPLE]
    users = session.scalars(select(User).where(User.email.in_(emails), User.active.is_(True)))
    return {u.id: u.unit_id for u in users if u.roles and set(u.roles) <= REPORTER_ROLES}


def _department(unit_id: str, parents: dict[str, str | None]) -> str:
    """The unit just below the top of the tree that ``unit_id`` lies in (itself at the top)."""
    chain = [unit_id]
    while (parent := parents.get(chain[-1])) is not None and parent not in chain:
        chain.append(parent)
    return chain[-2] if len(chain) > 1 else chain[0]


def _texts_for(spec: UnitSpec, name: str, rng: random.Random) -> dict[str, tuple[_Text, ...]]:
    """The templates that fit the unit, by kind, each worded VARIANTS ways."""
    fits = [t for t in TEMPLATES if t.areas is None or t.areas & spec.areas]
    return {kind: tuple(
        _Text(t, t.text.format(unit=name, shift=rng.choice(SHIFTS), day=rng.choice(DAYS),
                               n=rng.randint(2, 5)))
        for t in fits if t.kind == kind for _ in range(VARIANTS)
    ) for kind in KIND_WEIGHTS}


def _route(session: Session, wire: _Wire, unit: Unit, involves_leader: bool) -> _Route:
    decision = routing.route(session, unit=unit, involves_leader=involves_leader,
                             reporter_id=None)
    people = [{"id": u.id, "name": u.name} for u in decision.assignees]
    return _Route(tuple(u.id for u in decision.assignees), decision.reason,
                  wire.json({"assignees": people, "reason": decision.reason}))


def _category_map(session: Session) -> dict[str, str]:
    """Each template category mapped to itself when active, else to ``other`` or the first
    active category."""
    active = list(session.scalars(
        select(Category.id).where(Category.active.is_(True))
        .order_by(Category.position, Category.id)
    ))
    if not active:
        raise RuntimeError("there are no active categories to file demo reports under")
    fallback = "other" if "other" in active else active[0]
    return {t.category: t.category if t.category in active else fallback for t in TEMPLATES}


# --- when reports were made ------------------------------------------------------------

DAY_SECONDS = 86_400.0
HOURS = range(24)
HOUR_CUMULATIVE = list(itertools.accumulate(HOUR_WEIGHTS))


def _day_plan(count: int, now: datetime, rng: random.Random) -> list[tuple[datetime, float, int]]:
    """``(day start, seconds of the day that have passed, reports)`` for each of the last
    HISTORY_DAYS days, oldest first; the counts add up to ``count``.  More reports in recent
    months (the service caught on), fewer at weekends, some day-to-day noise."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    today = (now - midnight).total_seconds()
    plan = []
    for age in range(HISTORY_DAYS - 1, -1, -1):
        start = midnight - timedelta(days=age)
        span = today if age == 0 else DAY_SECONDS
        trend = 0.55 + 0.45 * (HISTORY_DAYS - 1 - age) / (HISTORY_DAYS - 1)
        weekend = 0.65 if start.weekday() >= 5 else 1.0
        plan.append((start, span, trend * weekend * rng.uniform(0.8, 1.2) * span / DAY_SECONDS))
    counts = _apportion(count, [weight for _, _, weight in plan], rng)
    return [(start, span, n) for (start, span, _), n in zip(plan, counts, strict=True)]


def _apportion(count: int, weights: Sequence[float], rng: random.Random) -> list[int]:
    """``count`` split in proportion to ``weights`` (the rounding remainder drawn at random)."""
    total = sum(weights)
    counts = [int(count * w / total) for w in weights]
    for index in rng.choices(range(len(weights)), weights=weights, k=count - sum(counts)):
        counts[index] += 1
    return counts


def _timestamps(plan: list[tuple[datetime, float, int]], rng: random.Random) -> Iterator[datetime]:
    """Creation times in ascending order, following the hour-of-day pattern; every time lies
    within the part of its day that has passed."""
    for start, span, n in plan:
        hours = rng.choices(HOURS, cum_weights=HOUR_CUMULATIVE, k=n)
        seconds = [3600.0 * (h + rng.random()) for h in hours]
        if span < DAY_SECONDS:
            seconds = [s if s < span else rng.random() * span for s in seconds]
        seconds.sort()
        for s in seconds:
            yield start + timedelta(seconds=s)


def _references(session: Session, times: list[datetime]) -> list[str]:
    """References for ascending ``times``: one allocation per year, numbers rising with time."""
    result: list[str] = []
    for year, group in itertools.groupby(times, key=lambda t: t.year):
        result += references.allocate(session, year=year, count=sum(1 for _ in group))
    return result


# --- how rows reach the database -------------------------------------------------------

class _Wire:
    """Bulk inserts at driver speed: SQLAlchemy's per-row and per-value parameter handling
    would cost more than making the rows.

    Rows carry values already in the form the real column types would send: times through
    :attr:`time` (naive UTC in, checked once against the real column type), JSON through
    :meth:`json` once per distinct value, strings, numbers and booleans as they are.  Each
    batch of a table is one ``executemany`` of an INSERT compiled by SQLAlchemy for the
    database, with positional parameters; on PostgreSQL with psycopg 3 it is a ``COPY``,
    which halves the time there.
    """

    def __init__(self, dialect: Dialect) -> None:
        tables = Base.metadata.tables
        self.time = _time_form(tables["reports"].c.created_at.type, dialect)
        self._json = tables["report_events"].c.details.type.dialect_impl(
            dialect).bind_processor(dialect)
        # Positional parameters, so rows go to the driver as tuples: PostgreSQL's drivers
        # take "format" (%s) as well as their default "pyformat".
        self._dialect = dialect
        if not dialect.positional and isinstance(dialect, DefaultDialect):
            self._dialect = type(dialect)(paramstyle="format")
        self.sqlite = dialect.name == "sqlite"
        self._copy = dialect.name == "postgresql" and dialect.driver == "psycopg"
        self._quote = dialect.identifier_preparer.quote
        self._statements: dict[tuple[str, tuple[str, ...]], tuple[str, itemgetter[Any]]] = {}

    def json(self, value: dict[str, Any]) -> Any:
        return value if self._json is None else self._json(value)

    @contextmanager
    def roomy_cache(self, session: Session) -> Iterator[None]:
        """On SQLite, a page cache of SQLITE_CACHE_KIB on the session's connection for the
        duration, then the previous size: random ids scatter the index writes over many
        pages, and the default 2 MiB cache would write and read them again and again."""
        if not self.sqlite:
            yield
            return
        connection = session.connection()
        previous = connection.exec_driver_sql("PRAGMA cache_size").scalar_one()
        connection.exec_driver_sql(f"PRAGMA cache_size = {-SQLITE_CACHE_KIB}")
        try:
            yield
        finally:
            connection.exec_driver_sql(f"PRAGMA cache_size = {int(previous)}")

    def insert(self, session: Session, table: str, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows`` (dicts with the same keys) into ``table``, in the session's
        transaction."""
        if not rows:
            return
        keys = tuple(rows[0])
        if self._copy:
            self._copy_rows(session, table, keys, rows)
        else:
            sql, values = self._statement(table, keys)
            session.connection().exec_driver_sql(sql, list(map(values, rows)))

    def _copy_rows(self, session: Session, table: str, keys: tuple[str, ...],
                   rows: list[dict[str, Any]]) -> None:
        columns = ", ".join(map(self._quote, keys))
        sql = f"COPY {self._quote(table)} ({columns}) FROM STDIN"
        driver: Any = session.connection().connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            for row in map(itemgetter(*keys), rows):
                copy.write_row(row)

    def _statement(self, table: str, keys: tuple[str, ...]) -> tuple[str, itemgetter[Any]]:
        """The INSERT for these columns and the function that lines a row up with it."""
        if (table, keys) not in self._statements:
            statement = insert(_table(table, *(column(key) for key in keys)))
            compiled = statement.compile(dialect=self._dialect)
            if compiled.positiontup is None:
                raise RuntimeError(f"{self._dialect.name} takes no positional parameters")
            self._statements[table, keys] = (compiled.string, itemgetter(*compiled.positiontup))
        return self._statements[table, keys]


def _time_form(column_type: TypeEngine[Any], dialect: Dialect) -> Callable[[datetime], Any]:
    """A function from naive UTC to exactly what ``column_type`` sends to ``dialect``: a cheap
    one when it matches the type's own processor on samples, else that processor."""
    processor = column_type.dialect_impl(dialect).bind_processor(dialect)

    def exact(moment: datetime) -> Any:
        aware = moment.replace(tzinfo=UTC)
        return aware if processor is None else processor(aware)

    samples = (datetime(2026, 1, 2, 3, 4, 5, 678901), datetime(2026, 1, 2))
    for cheap in (_sqlite_text, _aware):
        if all(type(cheap(s)) is type(exact(s)) and cheap(s) == exact(s) for s in samples):
            return cheap
    return exact


def _sqlite_text(moment: datetime) -> str:
    return moment.isoformat(" ", "microseconds")


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)


# --- what happened to each report ------------------------------------------------------

KINDS = tuple(KIND_WEIGHTS)
KIND_CUMULATIVE = list(itertools.accumulate(KIND_WEIGHTS.values()))
OUTCOMES = {kind: (tuple(w), list(itertools.accumulate(w.values())))
            for kind, w in OUTCOME_WEIGHTS.items()}
LOCAL_REPORTER = 0.75  # chance that a named reporter works in the report's department
UNTITLED = 0.08
IGNORED = 0.01  # never acknowledged
STALLED = 0.025  # acknowledged but never closed
UPDATE_SHARE = 0.5  # a reporter-visible staff update before the closing response
# Delays as multiples of the SLA period, lognormal: about 9% of acknowledgements and 10% of
# closings are late.
ACK_MU, ACK_SIGMA = math.log(0.3), 0.9
CLOSE_MU, CLOSE_SIGMA = math.log(0.35), 0.8


@dataclass
class _Rows:
    """One batch of rows in their wire form, by table."""

    reports: list[dict[str, Any]] = field(default_factory=list)
    assignees: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)

    def insert(self, session: Session, wire: _Wire) -> None:
        """Insert everything, parents first (one executemany per table)."""
        with wire.roomy_cache(session):
            wire.insert(session, "reports", self.reports)
            wire.insert(session, "report_assignees", self.assignees)
            wire.insert(session, "report_events", self.events)
            wire.insert(session, "messages", self.messages)


def _event(report_id: str, type: str, at: Any, actor: str | None, details: Any
           ) -> dict[str, Any]:
    return {"report_id": report_id, "type": type, "at": at, "actor_id": actor,
            "details": details}


def _message(report_id: str, body: str, at: Any, author: str) -> dict[str, Any]:
    """A reporter-visible message from the staff side."""
    return {"id": new_id(), "report_id": report_id, "body": body, "sender": "staff",
            "internal": False, "created_at": at, "author_id": author}


class _History:
    """Writes made-up reports into a loaded world.  Times are naive UTC here (cheaper to
    compute with); ``wire.time`` turns them into what the database expects."""

    def __init__(self, world: _World, wire: _Wire, keys: Keys, now: datetime,
                 rng: random.Random) -> None:
        self.world = world
        self.wire = wire
        self.keys = keys
        self.now = now
        self.rng = rng
        self.no_details = wire.json({})
        self.outcome_details = {name: wire.json({"outcome": name})
                                for weights in OUTCOME_WEIGHTS.values() for name in weights}

    def write(self, session: Session, count: int, progress: Progress) -> None:
        """Add ``count`` reports created over the past HISTORY_DAYS, one commit per BATCH."""
        times = _timestamps(_day_plan(count, self.now, self.rng), self.rng)
        with progress(count, "Adding demo reports") as bar:
            while chunk := list(itertools.islice(times, BATCH)):
                self._batch(session, chunk).insert(session, self.wire)
                session.commit()
                bar.update(len(chunk))

    def _batch(self, session: Session, times: list[datetime]) -> _Rows:
        rows = _Rows()
        n = len(times)
        places = self.rng.choices(self.world.places, cum_weights=self.world.place_weights, k=n)
        kinds = self.rng.choices(KINDS, cum_weights=KIND_CUMULATIVE, k=n)
        refs = _references(session, times)
        for created, reference, place, kind in zip(times, refs, places, kinds, strict=True):
            self._add(rows, created, reference, place, kind)
        return rows

    def _add(self, rows: _Rows, created: datetime, reference: str, place: _Place,
             kind: str) -> None:
        """A report as submitted and routed at ``created``, then what its leaders did."""
        rng = self.rng
        text = rng.choice(place.texts[kind])
        template = text.template
        risk = rng.random() < template.risk
        involves_leader = rng.random() < template.leader
        route = place.routes[involves_leader]
        reporter = receipt_hash = None
        if rng.random() >= template.anonymous and self.world.reporters:
            reporter = self._reporter(place)
        else:
            receipt_hash = receipts.digest(self.keys.receipt, receipts.generate())
        ack_due, close_due = sla.due_times(created, kind=kind, immediate_risk=risk)
        report_id = new_id()
        at = self.wire.time(created)
        report = {
            "id": report_id, "reference": reference, "kind": kind,
            "category": self.world.categories[template.category], "unit_id": place.id,
            "title": None if rng.random() < UNTITLED else template.title,
            "description": text.description, "immediate_risk": risk,
            "anonymous": reporter is None, "involves_leader": involves_leader,
            "wants_involvement": rng.random() < (0.45 if kind == "opportunity" else 0.2),
            "status": "new", "created_at": at, "ack_due_at": self.wire.time(ack_due),
            "close_due_at": self.wire.time(close_due), "acknowledged_at": None,
            "first_response_at": None, "closed_at": None, "outcome": None,
            "reopen_count": 0, "reporter_id": reporter, "receipt_hash": receipt_hash,
            "routing_reason": route.reason,
        }
        rows.reports.append(report)
        rows.assignees += [{"report_id": report_id, "user_id": user, "assigned_at": at,
                            "active": True} for user in route.assignee_ids]
        rows.events.append(_event(report_id, "submitted", at, reporter, self.no_details))
        rows.events.append(_event(report_id, "routed", at, None, route.details))
        if route.assignee_ids:
            self._handle(rows, report, place, route,
                         self._lifecycle(created, ack_due, close_due))

    def _reporter(self, place: _Place) -> str:
        if place.reporters and self.rng.random() < LOCAL_REPORTER:
            return self.rng.choice(place.reporters)
        return self.rng.choice(self.world.reporters)

    def _handle(self, rows: _Rows, report: dict[str, Any], place: _Place, route: _Route,
                life: tuple[datetime | None, datetime | None, datetime | None]) -> None:
        """Record the acknowledgement, staff update and closing that happened (``life``) on
        ``report``; one assignee does it all."""
        ack_at, update_at, closed_at = life
        if ack_at is None:
            return
        rng, time = self.rng, self.wire.time
        report_id = report["id"]
        actor = rng.choice(route.assignee_ids)
        ack = time(ack_at)
        report.update(status="acknowledged", acknowledged_at=ack)
        rows.events.append(_event(report_id, "acknowledged", ack, actor, self.no_details))
        update = None
        if update_at is not None:
            update = time(update_at)
            report.update(status="in_progress", first_response_at=update)
            rows.messages.append(_message(report_id, rng.choice(place.updates), update, actor))
        if closed_at is not None:
            names, weights = OUTCOMES[report["kind"]]
            outcome = rng.choices(names, cum_weights=weights)[0]
            closed = time(closed_at)
            report.update(status="closed", closed_at=closed, outcome=outcome,
                          first_response_at=update or closed)
            rows.events.append(_event(report_id, "closed", closed, actor,
                                      self.outcome_details[outcome]))
            body = rng.choice(place.responses[outcome])
            rows.messages.append(_message(report_id, body, closed, actor))

    def _lifecycle(self, created: datetime, ack_due: datetime, close_due: datetime
                   ) -> tuple[datetime | None, datetime | None, datetime | None]:
        """``(acknowledged_at, staff update at, closed_at)``, None for what has not happened
        by now; ``created <= acknowledged <= update <= closed <= now``.  Closing before the
        acknowledgement would have come acknowledges at the same moment."""
        rng = self.rng
        fate = rng.random()
        if fate < IGNORED:
            return None, None, None
        ack_at = created + (ack_due - created) * rng.lognormvariate(ACK_MU, ACK_SIGMA)
        closed_at = None
        if fate >= IGNORED + STALLED:
            closed_at = created + (close_due - created) * rng.lognormvariate(CLOSE_MU,
                                                                             CLOSE_SIGMA)
            ack_at = min(ack_at, closed_at)
        if ack_at > self.now:
            return None, None, None
        update_at = None
        if rng.random() < UPDATE_SHARE:
            end = closed_at or ack_at + (close_due - created)
            update_at = ack_at + (end - ack_at) * rng.uniform(0.1, 0.8)
            if update_at <= ack_at or update_at > self.now:
                update_at = None
        if closed_at is not None and closed_at > self.now:
            closed_at = None
        return ack_at, update_at, closed_at
