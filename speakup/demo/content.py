"""What demo reports say, what is said about them, and how their stories end."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    kind: str
    category: str
    title: str
    text: str  # may use {unit}, {shift}, {day} and {n}
    areas: frozenset[str] | None = None  # None: fits every unit
    risk: float = 0.0  # chance of immediate_risk
    anonymous: float = 0.42
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
       anonymous=0.2),
    _t("opportunity", "quality_improvement", "Idea: structured SBAR handover sheet",
       "A short SBAR handover sheet on {unit} could stop things being missed; a pilot on "
       "another ward cut handover time by {n} minutes.", "clinical", anonymous=0.2),
    _t("opportunity", "process_systems", "Idea: shared electronic bed board",
       "A shared electronic bed-status board between {unit} and the bed managers would cut the "
       "phone calls at every shift change.", "clinical", anonymous=0.2),
    _t("opportunity", "quality_improvement", "Idea: rapid-assessment nurse at triage",
       "A senior nurse at triage at peak hours could start bloods and pain relief earlier and "
       "shorten waits in {unit}.", "ed", anonymous=0.2),
    _t("opportunity", "process_systems", "Idea: huddle before every list",
       "A five-minute team huddle before each theatre list would catch equipment and staffing "
       "problems before the first patient arrives.", "theatre", anonymous=0.2),
    _t("opportunity", "quality_improvement", "Idea: feedback cards for families",
       "Simple feedback cards for parents on {unit} would tell us quickly what is working and "
       "what is not.", "maternity children", anonymous=0.2),
    _t("opportunity", "quality_improvement", "Idea: switch off unused equipment at night",
       "Lighting and equipment in empty clinic areas stay on overnight. A switch-off round on "
       "the {shift} shift would save energy.", "facilities site", anonymous=0.2),
    _t("opportunity", "staff_safety_wellbeing", "Idea: a quiet rest room for night staff",
       "Turning the unused seminar room near {unit} into a quiet rest space for {shift} staff "
       "would help people actually take their breaks.", anonymous=0.25),
    _t("opportunity", "quality_improvement", "Idea: buddies for new starters",
       "New starters on {unit} feel lost in their first weeks. A buddy for the first month "
       "would help them settle in and speak up.", anonymous=0.2),
    _t("opportunity", "staffing_workload", "Idea: self-rostering pilot",
       "A self-rostering pilot on {unit} could make {shift} cover fairer and cut last-minute "
       "sickness.", anonymous=0.25),
    # units with areas of their own
    _t("concern", "patient_safety", "Urgent samples left in the tube station",
       "Urgent samples for {unit} sat in the tube station for {n} hours on the {shift} shift "
       "because nobody was assigned to empty it; two results came back too late to act on.",
       "lab", risk=0.1),
    _t("gap", "process_systems", "Manual results entered without a second check",
       "When the analyser link is down, results in {unit} are typed in by hand with no second "
       "check. On {day} a potassium result was entered against the wrong sample.", "lab",
       risk=0.05),
    _t("concern", "patient_safety", "Pregnancy status not checked before scans",
       "Pregnancy status was not checked before {n} scans in {unit} on {day}; the request "
       "form has the question but it is skipped when the list runs late.", "imaging",
       risk=0.05),
    _t("gap", "process_systems", "Scan requests without clinical details",
       "Scan requests reach {unit} without the clinical question, so radiographers chase the "
       "wards by phone and urgent scans wait.", "imaging"),
    _t("concern", "patient_safety", "Look-alike medicines stored side by side",
       "Two look-alike strengths of the same injection are stored side by side in {unit}; on "
       "{day} the wrong one was picked and caught at the final check.", "pharmacy",
       risk=0.05),
    _t("opportunity", "quality_improvement", "Idea: a pharmacist on the post-take round",
       "A pharmacist on the morning post-take ward round would catch prescribing problems "
       "before the first doses; {unit} could run a pilot for {n} weeks.", "pharmacy",
       anonymous=0.2),
    _t("concern", "patient_safety", "Sedation holds missed on nights",
       "Daily sedation holds on {unit} are missed on {shift} shifts when the unit is full; "
       "patients stay ventilated longer than they need to.", "critical", risk=0.1),
    _t("concern", "staff_safety_wellbeing", "Lone visits without a check-in call",
       "Staff in {unit} do late visits alone with no check-in call at the end. On {day} a "
       "colleague was threatened at a house and nobody knew where she was.", "community",
       risk=0.1),
    _t("gap", "process_systems", "No access to records on home visits",
       "Staff in {unit} cannot open the patient record on home visits: the laptops do not "
       "connect and notes are written up {n} hours later from memory.", "community"),
    _t("concern", "patient_safety", "Ligature point reported months ago still there",
       "A ligature point in a bathroom on {unit} was reported {n} months ago and is still "
       "there; staff are told to keep the door locked instead.", "mental_health", risk=0.25),
    _t("gap", "patient_safety", "Observations signed but not done",
       "Hourly observations on {unit} are signed for in batches at the end of the {shift} "
       "shift; nobody can say whether they were done.", "mental_health", risk=0.1,
       anonymous=0.6),
    _t("gap", "process_systems", "Clinic letters take weeks to reach GPs",
       "Letters from {unit} take {n} weeks to reach GPs, so medication changes agreed in "
       "clinic are not made.", "outpatients"),
    _t("concern", "equipment_environment", "Clinics overbooked, patients standing",
       "{unit} booked {n} clinics into the same waiting area on {day}; frail patients stood "
       "for over an hour.", "outpatients"),
    # other
    _t("concern", "other", "Staff car park unlit at shift change",
       "Half the lights in the staff car park are out. Staff leaving {unit} after the "
       "{shift} shift walk to their cars in the dark and feel unsafe."),
    _t("gap", "other", "Shared computers log out in the middle of a task",
       "The shared computers on {unit} log out after {n} minutes, in the middle of "
       "prescribing or writing notes, and unsaved work is lost."),
    _t("opportunity", "other", "Idea: a uniform swap shop",
       "Uniforms that no longer fit pile up in lockers on {unit}. A swap shop would save "
       "money and help new starters.", anonymous=0.2),
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
ACKNOWLEDGEMENTS = (
    "Thank you for speaking up. We have received your report and are looking into it.",
    "Thanks for raising this with us. The team on {unit} will look at it this week and come "
    "back to you here.",
)
UPDATES = (
    "Thank you for raising this. We are looking into it with the team on {unit} and will "
    "update you here.",
    "We have spoken with the staff involved and are checking the rota and records; more to "
    "follow within two weeks.",
    "Quick update: the practice educator for {unit} is looking at this and we will come back "
    "to you with what we find.",
)
NOTES = (  # internal: the reporter never reads these
    "Raised at the {unit} safety huddle; checking the rota and the incident log before we "
    "reply.",
    "Spoke to the nurse in charge. Waiting for estates to confirm a date.",
    "Same issue as last month. Asked the practice educator to look at training records.",
    "Needs a decision above {unit}; taking it to the divisional meeting.",
)
REPLIES = (  # the reporter's answers to a staff update
    "Thank you. It happened again on the {shift} shift.",
    "Thanks for the update. I am happy to help if you want someone from {unit} involved.",
    "It is still happening most days.",
    "Thank you for looking into it so quickly.",
)
REOPEN_REASONS = (
    "It has started happening again on {unit}.",
    "The change described in the response has not happened.",
    "The response does not address what I raised.",
)
OFFICER_REOPEN_REASONS = (
    "Reopened after the quarterly review: the response does not say what changed.",
    "A related incident on {unit} suggests this is not resolved.",
)
FEEDBACK_COMMENTS = (
    "Thank you for listening.",
    "It took a while, but it was sorted.",
    "Nothing has changed on the ward.",
    "Good to hear what was done and why.",
    "I wish someone had spoken to me in person.",
)
# Feedback answers by outcome: loop_closed, then would_speak_up_again by loop_closed.
LOOP_CLOSED_WEIGHTS = {
    "actioned": {"yes": 70, "partly": 22, "no": 8},
    "planned": {"yes": 45, "partly": 40, "no": 15},
    "not_actioned": {"yes": 25, "partly": 35, "no": 40},
    "referred": {"yes": 30, "partly": 45, "no": 25},
    "duplicate": {"yes": 50, "partly": 30, "no": 20},
}
AGAIN_WEIGHTS = {
    "yes": {"yes": 85, "unsure": 12, "no": 3},
    "partly": {"yes": 60, "unsure": 30, "no": 10},
    "no": {"yes": 30, "unsure": 40, "no": 30},
}
# Improvement actions by the category of the reports they answer: (title, description).
ACTIONS = {
    "patient_safety": ("Safer handovers on {unit}",
                       "A structured handover with a safety check at every shift change."),
    "staff_safety_wellbeing": ("Looking after staff on {unit}",
                               "Debriefs after incidents, a rest space and check-in calls."),
    "bullying_harassment": ("Civility and respect on {unit}",
                            "Facilitated team sessions and a clear route to raise behaviour."),
    "behaviour_attitudes": ("Every voice heard at {unit} handovers",
                            "Huddles where everyone, whatever their role, is asked first."),
    "staffing_workload": ("Safe staffing on {unit}",
                          "A review of the rota and of cover for breaks and weekends."),
    "equipment_environment": ("Equipment that works on {unit}",
                              "Daily checks, a repair log and replacements ordered."),
    "process_systems": ("Fixing the process on {unit}",
                        "The steps that fail are mapped with the team and redesigned."),
    "quality_improvement": ("Trying staff ideas on {unit}",
                            "Small tests of change suggested by staff, measured monthly."),
    "other": ("Small fixes on {unit}", "Practical fixes suggested by the team."),
}
ACTION_UPDATES = {
    "in_progress": (
        "Work has started: the team on {unit} agreed the first changes this week.",
        "We are testing the change on {unit} for four weeks and will report back here.",
    ),
    "done": (
        "Done: the change is now part of everyday practice on {unit}. Thank you to everyone "
        "who spoke up.",
        "Completed and reviewed at the governance meeting; the new routine is in place.",
    ),
}
