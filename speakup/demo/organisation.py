"""The demo organisation: a hospital group's units and people, created through the services.

Riverside General Hospital, its people and the featured logins are written out one by one
(the README's walkthrough, the tests and the benchmarks name them); the group's other units,
three more sites and further departments and wards at Riverside, come from the outline
:data:`GROUP`, with a generated leader for each unit marked ``L`` and a member of staff for
each unit with nothing below it.  The tree is five levels deep at its deepest.
"""

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
RIVERSIDE: tuple[UnitSpec, ...] = (
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

# The rest of the group, by the unit it hangs below (None: a site of its own).  A line is
# ``code | name | areas | leaders | weight``, indented two spaces per level below the
# previous line's unit; leaders ``L`` gives the unit a generated leader, ``-`` none.
GROUP: dict[str | None, str] = {
    SITE_CODE: """
        DEMO-CSS | Clinical Support Services | | L | 1
          DEMO-CSS-PATH | Pathology | lab | - | 0.5
            DEMO-CSS-PATH-BS | Blood Sciences Laboratory | lab | L | 2
            DEMO-CSS-PATH-MIC | Microbiology Laboratory | lab | - | 1.5
            DEMO-CSS-PATH-CP | Cellular Pathology | lab | - | 1
          DEMO-CSS-RAD | Radiology | imaging | L | 0.5
            DEMO-CSS-RAD-CT | CT Scanning | imaging | - | 2
            DEMO-CSS-RAD-MRI | MRI Unit | imaging | - | 1.5
            DEMO-CSS-RAD-IR | Interventional Radiology | imaging clinical | L | 1.5
          DEMO-CSS-PHA | Pharmacy | pharmacy | L | 0.5
            DEMO-CSS-PHA-DIS | Dispensary | pharmacy | - | 2
            DEMO-CSS-PHA-ASU | Aseptic Services Unit | pharmacy | - | 1
        DEMO-CC | Critical Care | clinical critical | L | 1
          DEMO-CC-ICU | Intensive Care Unit | clinical critical | L | 4
          DEMO-CC-HDU | High Dependency Unit | clinical critical | - | 2.5
          DEMO-CC-OUT | Critical Care Outreach Team | clinical critical | - | 1
    """,
    "DEMO-MED": """
        DEMO-MED-W8 | Ward 8 - Gastroenterology | clinical | L | 3
        DEMO-MED-W10 | Ward 10 - Stroke Unit | clinical | L | 3
          DEMO-MED-W10-HASU | Hyperacute Stroke Bay | clinical critical | - | 1.5
        DEMO-MED-END | Endoscopy Unit | clinical | - | 2
    """,
    "DEMO-SUR": """
        DEMO-SUR-W14 | Ward 14 - General Surgery | clinical | L | 3
        DEMO-SUR-DSU | Day Surgery Unit | clinical theatre | L | 2.5
          DEMO-SUR-DSU-REC | Day Surgery Recovery | clinical theatre | - | 1
    """,
    "DEMO-ED": """
        DEMO-ED-PAED | Paediatric Emergency Department | clinical ed children | - | 2.5
    """,
    "DEMO-FAC": """
        DEMO-FAC-SEC | Security | facilities | - | 1
    """,
    None: """
        DEMO-NF | Northfield Community Hospital | site | L | 1
          DEMO-NF-OPM | Medicine for Older People | clinical | L | 1
            DEMO-NF-OPM-W1 | Ward 1 - Elderly Care | clinical | L | 3
            DEMO-NF-OPM-W2 | Ward 2 - Frailty Unit | clinical | L | 3
            DEMO-NF-OPM-W3 | Ward 3 - Rehabilitation | clinical | - | 2.5
            DEMO-NF-OPM-DH | Falls and Frailty Day Hospital | clinical | - | 1
          DEMO-NF-COM | Community Services | community | L | 1
            DEMO-NF-COM-DN | District Nursing | community clinical | L | 1
              DEMO-NF-COM-DN-N | District Nursing - North Team | community clinical | - | 2
              DEMO-NF-COM-DN-S | District Nursing - South Team | community clinical | - | 2
              DEMO-NF-COM-DN-E | District Nursing - East Team | community clinical | L | 2
            DEMO-NF-COM-ICT | Intermediate Care Team | community clinical | - | 1.5
            DEMO-NF-COM-PAL | Palliative Care Team | community clinical | L | 1.5
          DEMO-NF-MH | Mental Health Services | mental_health | L | 1
            DEMO-NF-MH-ASH | Ash Ward - Adult Acute Mental Health | mental_health clinical | L | 3
            DEMO-NF-MH-ELM | Elm Ward - Older Adult Mental Health | mental_health clinical | - | 2
            DEMO-NF-MH-CRI | Crisis Resolution Team | mental_health community | L | 1.5
          DEMO-NF-UTC | Urgent Treatment Centre | clinical ed | L | 3
          DEMO-NF-OPD | Outpatients | outpatients | - | 0.5
            DEMO-NF-OPD-MAIN | Main Outpatients | outpatients | - | 1.5
            DEMO-NF-OPD-PHL | Phlebotomy | outpatients lab | - | 1
          DEMO-NF-FAC | Estates and Facilities | facilities | L | 0.5
            DEMO-NF-FAC-EST | Estates | facilities | - | 1
            DEMO-NF-FAC-CAT | Catering | facilities | - | 1
        DEMO-EB | Eastbrook Hospital | site | L | 1
          DEMO-EB-MED | Medicine | clinical | L | 1
            DEMO-EB-MED-AMU | Acute Medical Unit | clinical | L | 4
            DEMO-EB-MED-W4 | Ward 4 - Cardiology | clinical | L | 3
            DEMO-EB-MED-W5 | Ward 5 - Respiratory | clinical | - | 3
            DEMO-EB-MED-W6 | Ward 6 - Diabetes and Endocrinology | clinical | - | 2.5
            DEMO-EB-MED-REN | Renal Unit | clinical | L | 1
              DEMO-EB-MED-REN-HD | Haemodialysis Unit | clinical | - | 2
          DEMO-EB-SUR | Surgery | clinical | - | 1
            DEMO-EB-SUR-TH | Theatres | clinical theatre | L | 4
              DEMO-EB-SUR-TH-REC | Theatre Recovery | clinical theatre | - | 1.5
            DEMO-EB-SUR-W20 | Ward 20 - Trauma and Orthopaedics | clinical | L | 3
            DEMO-EB-SUR-W21 | Ward 21 - Urology | clinical | - | 2
          DEMO-EB-ED | Emergency Department | clinical ed | L | 5
            DEMO-EB-ED-SDEC | Same Day Emergency Care | clinical ed | - | 2
          DEMO-EB-WC | Women and Children | clinical | L | 1
            DEMO-EB-WC-MAT | Maternity Services | clinical maternity | L | 1
              DEMO-EB-WC-MAT-LW | Labour Ward | clinical maternity | L | 4
              DEMO-EB-WC-MAT-AN | Antenatal and Postnatal Ward | clinical maternity | - | 2.5
              DEMO-EB-WC-MAT-CM | Community Midwifery | maternity community | L | 0.5
                DEMO-EB-WC-MAT-CM-N | Community Midwives - North | maternity community | - | 1.5
                DEMO-EB-WC-MAT-CM-S | Community Midwives - South | maternity community | - | 1.5
            DEMO-EB-WC-PAED | Children's Ward | clinical children | L | 3
            DEMO-EB-WC-SCBU | Special Care Baby Unit | clinical children | - | 2
          DEMO-EB-CSS | Diagnostics and Pharmacy | | L | 0.5
            DEMO-EB-CSS-RAD | Imaging | imaging | - | 2
            DEMO-EB-CSS-LAB | Laboratories | lab | - | 2
            DEMO-EB-CSS-PHA | Pharmacy | pharmacy | L | 1.5
          DEMO-EB-FAC | Facilities | facilities | - | 0.5
            DEMO-EB-FAC-POR | Portering | facilities | - | 1.5
            DEMO-EB-FAC-HK | Housekeeping | facilities | - | 1.5
        DEMO-HS | Hillside Rehabilitation Centre | site | - | 0.5
          DEMO-HS-NEU | Neurorehabilitation | clinical | L | 1
            DEMO-HS-NEU-OAK | Oak Ward - Brain Injury | clinical | L | 2.5
            DEMO-HS-NEU-BIR | Birch Ward - Spinal Injuries | clinical | - | 2
          DEMO-HS-THR | Therapies | clinical | L | 1
            DEMO-HS-THR-PT | Physiotherapy | clinical | - | 1.5
            DEMO-HS-THR-OT | Occupational Therapy | clinical | - | 1.5
            DEMO-HS-THR-SLT | Speech and Language Therapy | clinical | - | 1
          DEMO-HS-OPD | Outpatient Clinics | outpatients | - | 1
    """,
}


def _outline(parent: str | None, text: str) -> list[tuple[UnitSpec, bool]]:
    """The units of one outline of :data:`GROUP`, parents first, each with whether it gets a
    leader."""
    found: list[tuple[UnitSpec, bool]] = []
    above: list[tuple[int, str | None]] = [(-1, parent)]  # (indent, code) of the open levels
    for line in text.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        code, name, areas, leaders, weight = (part.strip() for part in line.split("|"))
        while above[-1][0] >= indent:
            above.pop()
        found.append((_u(code, name, above[-1][1], float(weight), *areas.split()),
                      leaders == "L"))
        above.append((indent, code))
    return found


_GROUP = [unit for parent, text in GROUP.items() for unit in _outline(parent, text)]
UNITS: tuple[UnitSpec, ...] = RIVERSIDE + tuple(spec for spec, _led in _GROUP)


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

_FIRST = ("Amara", "Ben", "Chidi", "Daisy", "Emre", "Fiona", "Gareth", "Hina", "Isaac",
          "Jasmine", "Kofi", "Laura", "Mohammed", "Niamh", "Oliver", "Priya", "Rhys", "Sofia",
          "Tariq", "Una", "Victor", "Wen", "Zara", "Aled", "Bethan", "Callum", "Deepa",
          "Ewan", "Farah", "Georgia", "Hamza", "Imogen", "Jonah", "Keisha", "Leon", "Maya",
          "Nathan")
_LAST = ("Abbott", "Begum", "Clarke", "Dlamini", "Edwards", "Fernandes", "Griffiths", "Hart",
         "Iqbal", "Jones", "Khan", "Lloyd", "Murphy", "Nwosu", "Osei", "Price", "Qureshi",
         "Roberts", "Singh", "Turner", "Upton", "Vaughan", "Walsh", "Yates", "Zielinski",
         "Bennett", "Chowdhury", "Doyle", "Evans", "Fox", "Gill", "Hughes", "Ibrahim",
         "Kaur", "Morgan", "Novak", "Okonkwo", "Parry", "Rahman", "Stewart", "Taylor")


def _generated_people() -> tuple[PersonSpec, ...]:
    """A leader for each ``L`` unit of :data:`GROUP` (a ward's leader works there as staff
    too) and a member of staff for each of its units with nothing below them; names made up
    in a fixed order, e-mail addresses from the unit's code."""
    parents = {spec.parent for spec, _led in _GROUP}
    people = []
    for spec, led in _GROUP:
        slug = spec.code.removeprefix("DEMO-").lower()
        leaf = spec.code not in parents
        if led:
            roles = "leader staff" if leaf else "leader"
            people.append((f"{slug}.lead", roles, spec.code, spec.code))
        if leaf:
            people.append((f"{slug}.staff", "staff", spec.code, ""))
    return tuple(
        _p(email, f"{_FIRST[i % len(_FIRST)]} {_LAST[(7 * i + 3) % len(_LAST)]}", roles, unit,
           leads)
        for i, (email, roles, unit, leads) in enumerate(people))


PEOPLE += _generated_people()  # after the named ones, whose order the tests rely on

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
