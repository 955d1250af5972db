"""The demo organisation: a small hospital's units and people, created through the services."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from speakup.db import Database
from speakup.demo.progress import Progress
from speakup.models import Unit
from speakup.services import org
from speakup.services.auth.passwords import Passwords
from speakup.services.core.clock import Clock
from speakup.settings import Settings

DEMO_PASSWORD = "speak-up-safely"  # noqa: S105 - published: every demo login uses it
SITE_CODE = "DEMO-SITE"



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


class SharedHash(Passwords):
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


def create_organisation(
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
    passwords = SharedHash(settings)
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
