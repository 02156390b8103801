"""Prior authorizations: a payer's permission, asked before a service, for a number of units inside a
window of dates (CMS-0057-F: the request, the decision, its expiry and the units approved).

A **request** names the coverage it is asked of (the payer comes from it; the coverage must be in force
on the service date), the service (a CPT or HCPCS Level II procedure, or an RxNorm drug), the units
asked (1-999), the ordering provider, 1-12 ICD-10-CM diagnoses, the urgency, the service date and,
optionally, what it is for (an appointment, a referral, a care-plan activity).

Its moves (:data:`MOVES`; any other is :class:`IllegalMove`, a 409):

- ``submit``: draft → submitted; the payer's clock starts;
- ``request-info``: submitted | appealed → pending-info, with a date the information is due by
  (default 14 calendar days); the payer's clock stops;
- ``provide-info``: pending-info → where it came from (submitted or appealed); the clock starts again,
  whole: a payer decides on a complete request;
- ``approve``: submitted | appealed → approved, with a number, a validity window (first and last day,
  both inclusive, at most 366 days apart) and the units asked (none given means all of them);
- ``partially-approve``: submitted | appealed → partially-approved, the same with the units the payer
  allowed (1 up to those asked: a payer may also cut the window or change the service);
- ``deny``: submitted | appealed → denied, with a reason (:class:`DenialReason`);
- ``appeal``: denied → appealed; the appeal's clock starts;
- ``expire``: approved | partially-approved → expired: the window's end (the timer's move);
- ``cancel``: any status but expired and cancelled → cancelled (a denial not appealed, a service no
  longer needed, an approval given up before its window ends).

Every move is recorded (who, when, the action, the payer's reference number) in the history, which
keeps the last 50; each change makes the next version.

**Clocks** run on the wall clock, in real time (holidays and weekends count; across a DST change a
7-day clock is 168 hours): a decision is due 72 hours after an expedited request and 7 calendar days
after a standard one; an appeal's decision 72 hours (expedited) or 30 days (standard) after it; a
follow-up opens 12 hours (expedited) or 24 hours (standard) before the decision is due (never before
the clock started). Each payer may set its own (:class:`PayerRules`). Renewal is due 14 days before
the window's last day, or when at most one unit is left. An authorization **covers** a service date
when it is approved or partially approved, its window holds the date and it has the units left; a
visit held uses a unit once, however often it is counted.

Everything here is pure: callers pass the time, the organization's calendar and the payer's rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AwareDatetime, Field, computed_field, model_validator

from shared.domain.base import MULTILINE, Model, Strict
from shared.domain.calendar import Calendar, Day, Instant
from shared.domain.codes import ClinicalCode, CodeSystem, ServiceCode
from shared.domain.tasks import Id, minute_of
from shared.domain.transitions import end_of_day

if TYPE_CHECKING:  # the intake model is read only where a request is made
    from shared.domain.records import CoverageOut

MAX_UNITS = 999
MAX_DIAGNOSES = 12
MAX_HISTORY = 50
MAX_WINDOW_DAYS = 366
MAX_DOCUMENTS = 20
LATE_ENTRY = timedelta(days=30)  # how long before its entry a move may be dated
RENEW_AT_UNITS_LEFT = 1

Reference = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,49}$", examples=["PA-2026-000123"])]
Units = Annotated[int, Field(ge=1, le=MAX_UNITS)]


class AuthStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    PENDING_INFO = "pending-info"
    APPROVED = "approved"
    PARTIALLY_APPROVED = "partially-approved"
    DENIED = "denied"
    APPEALED = "appealed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


# waiting on the payer (its clock runs), approved (in force), and the two ends
AWAITING = frozenset({AuthStatus.SUBMITTED, AuthStatus.APPEALED})
IN_FORCE = frozenset({AuthStatus.APPROVED, AuthStatus.PARTIALLY_APPROVED})
FINAL = frozenset({AuthStatus.EXPIRED, AuthStatus.CANCELLED})


class AuthAction(StrEnum):
    SUBMIT = "submit"
    REQUEST_INFO = "request-info"
    PROVIDE_INFO = "provide-info"
    APPROVE = "approve"
    PARTIALLY_APPROVE = "partially-approve"
    DENY = "deny"
    APPEAL = "appeal"
    EXPIRE = "expire"
    CANCEL = "cancel"


# action → (the statuses it may leave, where it goes; provide-info goes back where the request came from)
MOVES: dict[AuthAction, tuple[frozenset[AuthStatus], AuthStatus | None]] = {
    AuthAction.SUBMIT: (frozenset({AuthStatus.DRAFT}), AuthStatus.SUBMITTED),
    AuthAction.REQUEST_INFO: (AWAITING, AuthStatus.PENDING_INFO),
    AuthAction.PROVIDE_INFO: (frozenset({AuthStatus.PENDING_INFO}), None),
    AuthAction.APPROVE: (AWAITING, AuthStatus.APPROVED),
    AuthAction.PARTIALLY_APPROVE: (AWAITING, AuthStatus.PARTIALLY_APPROVED),
    AuthAction.DENY: (AWAITING, AuthStatus.DENIED),
    AuthAction.APPEAL: (frozenset({AuthStatus.DENIED}), AuthStatus.APPEALED),
    AuthAction.EXPIRE: (IN_FORCE, AuthStatus.EXPIRED),
    AuthAction.CANCEL: (frozenset(AuthStatus) - FINAL, AuthStatus.CANCELLED),
}


class IllegalMove(Exception):
    """Not a move the authorization can make from where it is: a 409."""

    def __init__(self, status: AuthStatus, action: AuthAction) -> None:
        super().__init__(f"An authorization that is {status.value} cannot {action.value}.")
        self.status = status


class BadDetail(ValueError):
    """A move whose details do not fit the authorization (more units than asked, a time to come): a
    422."""


class NotCovered(ValueError):
    """The coverage named is not the patient's, or not in force on the service date: a 422."""


def next_status(status: AuthStatus, action: AuthAction, info_from: AuthStatus | None) -> AuthStatus:
    """Where ``action`` takes an authorization that is ``status`` (:class:`IllegalMove` if it may not);
    ``info_from``: what a pending-info one was before the payer asked."""
    allowed, to = MOVES[action]
    if status not in allowed:
        raise IllegalMove(status, action)
    return to or info_from or AuthStatus.SUBMITTED


class AuthUrgency(StrEnum):
    STANDARD = "standard"
    EXPEDITED = "expedited"


class DenialReason(StrEnum):
    NOT_MEDICALLY_NECESSARY = "not-medically-necessary"
    NOT_COVERED = "not-covered"  # not a benefit of the plan
    MISSING_INFORMATION = "missing-information"
    OUT_OF_NETWORK = "out-of-network"
    MEMBER_NOT_ELIGIBLE = "member-not-eligible"
    DUPLICATE = "duplicate"
    OTHER = "other"


class PurposeType(StrEnum):
    APPOINTMENT = "appointment"
    REFERRAL = "referral"
    CARE_PLAN_ACTIVITY = "care-plan-activity"


class Purpose(Strict):
    """What the authorization is for: an appointment, a referral, or a care plan's activity (``id`` the
    plan's, ``activity_id`` the activity's)."""

    type: PurposeType
    id: Id
    activity_id: Id | None = None

    @model_validator(mode="after")
    def _activity(self) -> Purpose:
        if (self.activity_id is None) == (self.type is PurposeType.CARE_PLAN_ACTIVITY):
            raise ValueError("activity_id names a care plan's activity, and only that")
        return self


# ---------------------------------------------------------------- the payer's rules and the clocks


class PayerRules(Strict):
    """A payer's clocks, where they differ from CMS-0057-F's (72 hours / 7 calendar days)."""

    expedited_hours: int = Field(72, ge=1, le=24 * 14, description="an expedited decision is due in")
    standard_days: int = Field(7, ge=1, le=60, description="a standard decision is due in (calendar days)")
    appeal_days: int = Field(30, ge=1, le=60, description="a standard appeal's decision is due in")
    follow_up_before_expedited_hours: int = Field(
        12, ge=0, le=24 * 14, description="a follow-up opens this long before an expedited decision is due"
    )
    follow_up_before_standard_hours: int = Field(
        24, ge=0, le=24 * 60, description="a follow-up opens this long before a standard decision is due"
    )
    info_days: int = Field(14, ge=1, le=90, description="requested information is due in (calendar days)")
    renewal_days: int = Field(14, ge=0, le=180, description="renew this many days before the window ends")


DEFAULT_RULES = PayerRules()


def due_at(urgency: AuthUrgency, submitted_at: datetime, rules: PayerRules = DEFAULT_RULES) -> datetime:
    """When the payer's decision is due: expedited 72 hours, standard 7 days (to the minute, in real
    time)."""
    start = minute_of(submitted_at)
    if urgency is AuthUrgency.EXPEDITED:
        return start + timedelta(hours=rules.expedited_hours)
    return start + timedelta(days=rules.standard_days)


def appeal_due_at(urgency: AuthUrgency, appealed_at: datetime, rules: PayerRules = DEFAULT_RULES) -> datetime:
    """When the decision on an appeal is due: expedited as a request, standard 30 days."""
    start = minute_of(appealed_at)
    if urgency is AuthUrgency.EXPEDITED:
        return start + timedelta(hours=rules.expedited_hours)
    return start + timedelta(days=rules.appeal_days)


def follow_up_at(
    urgency: AuthUrgency, started_at: datetime, due: datetime, rules: PayerRules = DEFAULT_RULES
) -> datetime:
    """When a follow-up with the payer opens on a clock started at ``started_at`` and due at ``due``:
    12 hours (expedited) or 24 hours (standard) before it is due, never before it started."""
    hours = (
        rules.follow_up_before_expedited_hours
        if urgency is AuthUrgency.EXPEDITED
        else rules.follow_up_before_standard_hours
    )
    return max(minute_of(started_at), due - timedelta(hours=hours))


def info_due_on(at: datetime, calendar: Calendar, rules: PayerRules = DEFAULT_RULES) -> date:
    """The day requested information is due by, when the payer named none: 14 calendar days after the
    request's local date."""
    return calendar.local_date(at) + timedelta(days=rules.info_days)


def renewal_on(valid_from: date, valid_to: date, rules: PayerRules = DEFAULT_RULES) -> date:
    """The day to ask for a renewal: 14 days before the window's last day (its first day, for a
    window shorter than that)."""
    return max(valid_from, valid_to - timedelta(days=rules.renewal_days))


def needs_renewal(units_used: int, approved_units: int) -> bool:
    """At the last unit: the next visit uses the last one (or none is left)."""
    return approved_units - units_used <= RENEW_AT_UNITS_LEFT


def expires_at(valid_to: date, calendar: Calendar) -> datetime:
    """The instant a window ends: the local midnight after its last day."""
    return end_of_day(valid_to, calendar)


def in_force(start: date, end: date | None, on: date) -> bool:
    """Is a coverage whose period is ``start``-``end`` (inclusive; no end: open) in force ``on``?"""
    return start <= on and (end is None or on <= end)


# ---------------------------------------------------------------- input


class AuthorizationIn(Strict):
    """``POST /patients/{id}/authorizations``: a request, made as a draft."""

    coverage_id: Id
    service: ServiceCode = Field(description="CPT or HCPCS Level II (a procedure), RxNorm (a drug)")
    units_requested: Units = 1
    ordering_provider_id: Id
    diagnoses: list[ClinicalCode] = Field(min_length=1, max_length=MAX_DIAGNOSES, description="ICD-10-CM")
    urgency: AuthUrgency = AuthUrgency.STANDARD
    service_date: Day
    purpose: Purpose | None = None
    note: str | None = Field(
        None, min_length=1, max_length=2000, json_schema_extra=MULTILINE, description="staff only"
    )

    @model_validator(mode="after")
    def _diagnoses(self) -> AuthorizationIn:
        if any(d.system is not CodeSystem.ICD10CM for d in self.diagnoses):
            raise ValueError("diagnoses are ICD-10-CM codes")
        if len({d.code for d in self.diagnoses}) != len(self.diagnoses):
            raise ValueError("each diagnosis may appear once")
        return self


# the details each action takes (``required``: must have); any other detail is refused
DETAILS = ("info_due", "number", "approved_units", "valid_from", "valid_to", "reason")
DECISION = frozenset({"number", "approved_units", "valid_from", "valid_to"})
TAKES: dict[AuthAction, frozenset[str]] = {
    AuthAction.REQUEST_INFO: frozenset({"info_due"}),
    AuthAction.APPROVE: DECISION,
    AuthAction.PARTIALLY_APPROVE: DECISION,
    AuthAction.DENY: frozenset({"reason"}),
}
NEEDS: dict[AuthAction, frozenset[str]] = {
    AuthAction.APPROVE: DECISION - {"approved_units"},
    AuthAction.PARTIALLY_APPROVE: DECISION,
    AuthAction.DENY: frozenset({"reason"}),
}


class MoveIn(Strict):
    """``POST /authorizations/{id}/actions`` (If-Match): a move, with what it needs. ``at``: when it
    happened (a decision learned later), default now; ``reference``: the payer's reference number."""

    action: AuthAction
    at: Instant | None = Field(None, description="default now; not in the future")
    reference: Reference | None = None
    info_due: Day | None = Field(None, description=f"request-info: default {DEFAULT_RULES.info_days} days")
    number: Reference | None = Field(None, description="approve, partially-approve: the authorization number")
    approved_units: Units | None = Field(
        None, description="partially-approve: the units allowed; approve: all those asked (the default)"
    )
    valid_from: Day | None = Field(None, description="approve, partially-approve: the window's first day")
    valid_to: Day | None = Field(None, description="approve, partially-approve: its last day (inclusive)")
    reason: DenialReason | None = Field(None, description="deny")
    note: str | None = Field(
        None, min_length=1, max_length=2000, json_schema_extra=MULTILINE, description="staff only"
    )

    @model_validator(mode="after")
    def _fits_action(self) -> MoveIn:
        takes, needs = TAKES.get(self.action, frozenset()), NEEDS.get(self.action, frozenset())
        for name in DETAILS:
            given = getattr(self, name) is not None
            if given and name not in takes:
                raise ValueError(f"{name} is not for {self.action.value}")
            if not given and name in needs:
                raise ValueError(f"{self.action.value} needs {name}")
        if self.valid_from is not None and self.valid_to is not None:
            if self.valid_to < self.valid_from:
                raise ValueError("valid_to cannot be before valid_from")
            if (self.valid_to - self.valid_from).days > MAX_WINDOW_DAYS:
                raise ValueError(f"a window is at most {MAX_WINDOW_DAYS} days long")
        return self


# ---------------------------------------------------------------- the authorization


class Decision(Model):
    """The payer's latest decision (an appeal's replaces the denial)."""

    outcome: Literal[AuthStatus.APPROVED, AuthStatus.PARTIALLY_APPROVED, AuthStatus.DENIED]
    decided_at: AwareDatetime
    number: str | None = None
    approved_units: int | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    reason: DenialReason | None = None


class Document(Model):
    """A clinical document sent to the payer: an attachment uploaded the records area's way."""

    attachment_id: str
    content_type: str
    size: int
    attached_at: AwareDatetime
    version_id: str | None = Field(None, description="the S3 version checked, the one served")
    download_url: str | None = Field(None, description="when read: a GET, minutes only")


class AuthChange(Model):
    version: int
    at: AwareDatetime
    by: str
    action: str = Field(description="created, or an action")
    from_status: AuthStatus | None = None
    to_status: AuthStatus
    reference: str | None = Field(None, description="the payer's reference number given with it")
    reason: DenialReason | None = Field(None, description="a denial's reason")
    on_time: bool | None = Field(None, description="a decision: made by the time it was due")
    note: str | None = None


class AuthorizationOut(Model):
    id: str
    version: int
    patient_id: str
    coverage_id: str
    payer: str = Field(description="the coverage's payer")
    service: ServiceCode
    units_requested: int
    ordering_provider_id: str
    diagnoses: list[ClinicalCode]
    urgency: AuthUrgency
    service_date: date
    purpose: Purpose | None = None
    note: str | None = None
    status: AuthStatus
    payer_reference: str | None = Field(None, description="the payer's latest reference number")
    submitted_at: AwareDatetime | None = None
    appealed_at: AwareDatetime | None = None
    due_at: AwareDatetime | None = Field(None, description="the payer's decision is due (its clock runs)")
    follow_up_at: AwareDatetime | None = Field(None, description="a follow-up with the payer opens")
    info_from: AuthStatus | None = Field(None, description="pending-info: submitted or appealed before")
    info_due_on: date | None = Field(None, description="pending-info: the information is due by this day")
    decision: Decision | None = None
    units_used: int = 0
    counted: list[str] = Field(default_factory=list, description="the appointments whose units were used")
    documents: list[Document] = Field(default_factory=list, max_length=MAX_DOCUMENTS)
    alerts: list[str] = Field(
        default_factory=list, description="the clocks' alerts raised already (follow-up, overdue, ...)"
    )
    created_at: AwareDatetime
    updated_at: AwareDatetime
    history: list[AuthChange] = Field(default_factory=list, description=f"the last {MAX_HISTORY} changes")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def approved_units(self) -> int:
        """The units approved while it is (or was, expired) in force; 0 otherwise."""
        if self.decision is None or self.decision.approved_units is None:
            return 0
        return self.decision.approved_units

    @computed_field  # type: ignore[prop-decorator]
    @property
    def units_left(self) -> int:
        return max(0, self.approved_units - self.units_used)


def new_authorization(
    body: AuthorizationIn,
    *,
    auth_id: str,
    patient_id: str,
    coverage: CoverageOut,
    by: str,
    now: datetime,
) -> AuthorizationOut:
    """A draft request (:class:`NotCovered` if ``coverage`` is another's, or not in force on the
    service date)."""
    if coverage.id != body.coverage_id or coverage.patient_id != patient_id:
        raise NotCovered("coverage_id: not a coverage of this patient")
    if not in_force(coverage.effective_start, coverage.effective_end, body.service_date):
        raise NotCovered("coverage_id: the coverage is not in force on the service date")
    draft = AuthorizationOut(
        id=auth_id,
        version=0,
        patient_id=patient_id,
        payer=coverage.payer,
        status=AuthStatus.DRAFT,
        created_at=now,
        updated_at=now,
        **body.model_dump(),
    )
    return _changed(draft, None, by, "created", now)


def _changed(
    auth: AuthorizationOut,
    before: AuthStatus | None,
    by: str,
    action: str,
    at: datetime,
    reference: str | None = None,
    note: str | None = None,
    **decided: object,
) -> AuthorizationOut:
    """``auth`` as its next version, the change in its history (the last ``MAX_HISTORY``); ``decided``:
    a decision's reason and whether it was on time."""
    version = auth.version + 1
    entry = AuthChange.model_validate(
        {
            "version": version,
            "at": at,
            "by": by,
            "action": action,
            "from_status": before,
            "to_status": auth.status,
            "reference": reference,
            "note": note,
            **decided,
        }
    )
    history = [*auth.history, entry][-MAX_HISTORY:]
    return auth.model_copy(update={"version": version, "updated_at": at, "history": history})


def _clock(urgency: AuthUrgency, start: datetime, due: datetime, rules: PayerRules) -> dict[str, object]:
    return {"due_at": due, "follow_up_at": follow_up_at(urgency, start, due, rules)}


STOPPED: dict[str, object] = {"due_at": None, "follow_up_at": None}


def _decision(auth: AuthorizationOut, move: MoveIn, to: AuthStatus, at: datetime) -> Decision:
    if to is AuthStatus.DENIED:
        return Decision(outcome=to, decided_at=at, reason=move.reason)
    units = move.approved_units
    if to is AuthStatus.APPROVED and units not in (None, auth.units_requested):
        raise BadDetail("approved_units: a full approval is for the units asked; else partially-approve")
    if units is not None and units > auth.units_requested:
        raise BadDetail("approved_units: more than the units asked")
    return Decision(
        outcome=to,
        decided_at=at,
        number=move.number,
        approved_units=units or auth.units_requested,
        valid_from=move.valid_from,
        valid_to=move.valid_to,
    )


def act(
    auth: AuthorizationOut,
    move: MoveIn,
    by: str,
    now: datetime,
    calendar: Calendar,
    rules: PayerRules = DEFAULT_RULES,
) -> AuthorizationOut:
    """``auth`` after ``move`` by ``by`` (:class:`IllegalMove`, :class:`BadDetail`)."""
    to = next_status(auth.status, move.action, auth.info_from)
    at = move.at or now
    if at > now:
        raise BadDetail("at: cannot be in the future")
    moves = [h.at for h in auth.history if h.action != "created"]
    if moves and at < moves[-1]:
        raise BadDetail("at: cannot be before the authorization's last move")
    if at < auth.created_at - LATE_ENTRY:  # a request entered after it was made, within a month
        raise BadDetail(f"at: at most {LATE_ENTRY.days} days before the request was entered")
    action = move.action
    update: dict[str, object] = {"status": to}
    decided: dict[str, object] = {}
    if move.reference is not None:
        update["payer_reference"] = move.reference
    if action is AuthAction.SUBMIT:
        update.update(submitted_at=at, **_clock(auth.urgency, at, due_at(auth.urgency, at, rules), rules))
    elif action is AuthAction.REQUEST_INFO:
        due_on = move.info_due or info_due_on(at, calendar, rules)
        if due_on < calendar.local_date(at):
            raise BadDetail("info_due: cannot be before the request")
        update.update(STOPPED, info_from=auth.status, info_due_on=due_on)
    elif action is AuthAction.PROVIDE_INFO:
        due = (due_at if to is AuthStatus.SUBMITTED else appeal_due_at)(auth.urgency, at, rules)
        update.update(_clock(auth.urgency, at, due, rules), info_from=None, info_due_on=None)
    elif action is AuthAction.APPEAL:
        due = appeal_due_at(auth.urgency, at, rules)
        update.update(_clock(auth.urgency, at, due, rules), appealed_at=at)
    elif action in (AuthAction.APPROVE, AuthAction.PARTIALLY_APPROVE, AuthAction.DENY):
        update.update(STOPPED, decision=_decision(auth, move, to, at))
        decided = {"reason": move.reason, "on_time": auth.due_at is None or at <= auth.due_at}
    else:  # expire, cancel
        update.update(STOPPED, info_from=None, info_due_on=None)
    moved = auth.model_copy(update=update)
    return _changed(moved, auth.status, by, action.value, at, move.reference, move.note, **decided)


# ---------------------------------------------------------------- using it


def window(auth: AuthorizationOut) -> tuple[date, date] | None:
    """The first and last day of an approval's window (none without an approval)."""
    decision = auth.decision
    if decision is None or decision.valid_from is None or decision.valid_to is None:
        return None
    return decision.valid_from, decision.valid_to


def _holds(auth: AuthorizationOut, service_date: date, units: int) -> bool:
    days = window(auth)
    return days is not None and days[0] <= service_date <= days[1] and auth.units_left >= units


def covers(auth: AuthorizationOut, service_date: date, units: int = 1) -> bool:
    """Is ``auth`` approved (fully or in part), its window holding ``service_date`` (first and last day
    included), with ``units`` left?"""
    return auth.status in IN_FORCE and _holds(auth, service_date, units)


def covering(
    auths: Iterable[AuthorizationOut],
    service_date: date,
    units: int = 1,
    service: ServiceCode | None = None,
) -> AuthorizationOut | None:
    """The authorization that covers ``service_date`` (for ``service``, when named), the one whose
    window ends first when several do (the first listed of those ending the same day); ``None`` when
    none does."""
    fits = [
        (days[1], n, auth)
        for n, auth in enumerate(auths)
        if covers(auth, service_date, units)
        and (days := window(auth)) is not None
        and (service is None or (auth.service.system, auth.service.code) == (service.system, service.code))
    ]
    return min(fits)[2] if fits else None


class UnitUse(StrEnum):
    COUNTED = "counted"
    ALREADY_COUNTED = "already-counted"
    NOT_COVERED = "not-covered"  # not in force, outside the window, or no unit left


def use_unit(
    auth: AuthorizationOut, appointment_id: str, visit_date: date, now: datetime
) -> tuple[AuthorizationOut, UnitUse]:
    """A visit held on ``visit_date`` uses a unit, once per appointment. A visit inside the window is
    counted after the window expired too (its fulfilment recorded late)."""
    if appointment_id in auth.counted:
        return auth, UnitUse.ALREADY_COUNTED
    if auth.status not in IN_FORCE | {AuthStatus.EXPIRED} or not _holds(auth, visit_date, 1):
        return auth, UnitUse.NOT_COVERED
    used = auth.model_copy(
        update={
            "units_used": auth.units_used + 1,
            "counted": [*auth.counted, appointment_id],
            "version": auth.version + 1,
            "updated_at": now,
        }
    )
    return used, UnitUse.COUNTED


def due_for_renewal(auth: AuthorizationOut, today: date, rules: PayerRules = DEFAULT_RULES) -> bool:
    """In force, and its window ends within the renewal time or its last unit is next."""
    days = window(auth)
    if auth.status not in IN_FORCE or days is None:
        return False
    return today >= renewal_on(*days, rules) or needs_renewal(auth.units_used, auth.approved_units)


# ---------------------------------------------------------------- the clocks' alerts


class AlertKind(StrEnum):
    FOLLOW_UP = "follow-up"  # the payer's decision is nearly due: call it
    OVERDUE = "overdue"  # the decision is late: an escalation
    INFO_DUE = "info-due"  # the information the payer asked for was due by the end of the day
    RENEWAL = "renewal"  # the approval's window nears its end (or its units run out: :func:`use_unit`)
    EXPIRY = "expiry"  # the window ended: the authorization expires


class Alert(Model):
    kind: AlertKind
    at: AwareDatetime
    key: str = Field(
        description="raised once per key: a new clock (an appeal, information given) is a new key"
    )


def _alert(kind: AlertKind, at: datetime, tag: str | None = None) -> Alert:
    return Alert(kind=kind, at=at, key=f"{kind.value}@{tag or at.astimezone(UTC).isoformat()}")


def renewal_key(auth: AuthorizationOut) -> str:
    """One renewal alert per approval window, whether its days or its units ran short first."""
    days = window(auth)
    return f"{AlertKind.RENEWAL.value}@{days[1].isoformat() if days else ''}"


def alerts_of(auth: AuthorizationOut, calendar: Calendar, rules: PayerRules = DEFAULT_RULES) -> list[Alert]:
    """What the authorization's clocks raise as it stands, raised or not, soonest first."""
    out = []
    if auth.status in AWAITING and auth.due_at is not None:
        if auth.follow_up_at is not None and auth.follow_up_at < auth.due_at:
            out.append(
                _alert(AlertKind.FOLLOW_UP, auth.follow_up_at, auth.due_at.astimezone(UTC).isoformat())
            )
        out.append(_alert(AlertKind.OVERDUE, auth.due_at))
    elif auth.status is AuthStatus.PENDING_INFO and auth.info_due_on is not None:
        out.append(_alert(AlertKind.INFO_DUE, end_of_day(auth.info_due_on, calendar)))
    elif auth.status in IN_FORCE and (days := window(auth)) is not None:
        renew = renewal_on(*days, rules)
        out.append(
            Alert(
                kind=AlertKind.RENEWAL,
                at=end_of_day(renew - timedelta(days=1), calendar),
                key=renewal_key(auth),
            )
        )
        out.append(_alert(AlertKind.EXPIRY, expires_at(days[1], calendar)))
    return sorted(out, key=lambda a: a.at)


def due_alerts(
    auth: AuthorizationOut, now: datetime, calendar: Calendar, rules: PayerRules = DEFAULT_RULES
) -> list[Alert]:
    """The alerts due by ``now`` and not raised yet, soonest first."""
    return [a for a in alerts_of(auth, calendar, rules) if a.at <= now and a.key not in auth.alerts]


def next_alert_at(
    auth: AuthorizationOut, calendar: Calendar, rules: PayerRules = DEFAULT_RULES
) -> datetime | None:
    """When the authorization's timer next has something to raise (``None``: nothing)."""
    return next((a.at for a in alerts_of(auth, calendar, rules) if a.key not in auth.alerts), None)


def raised(auth: AuthorizationOut, alert_keys: Iterable[str], now: datetime) -> AuthorizationOut:
    """``auth`` with ``alert_keys`` recorded as raised, as its next version (the last 50 kept)."""
    fresh = [k for k in dict.fromkeys(alert_keys) if k not in auth.alerts]
    if not fresh:
        return auth
    return auth.model_copy(
        update={
            "alerts": [*auth.alerts, *fresh][-MAX_HISTORY:],
            "version": auth.version + 1,
            "updated_at": now,
        }
    )


# ---------------------------------------------------------------- the organization's policy


class UnapprovedBooking(StrEnum):
    WARN = "warn"  # book it, mark it awaiting insurance approval, open a task to obtain it
    REFUSE = "refuse"  # a 409 until an approval covers it


class AuthorizationPolicyIn(Strict):
    """``PUT /authorization-policy`` (admin): what a booking that needs an approval it lacks does, and
    the payers whose clocks differ from CMS-0057-F's (keyed by the payer as coverage names it; case
    and spacing do not matter)."""

    unapproved_booking: UnapprovedBooking = UnapprovedBooking.WARN
    payers: dict[Annotated[str, Field(min_length=1, max_length=120)], PayerRules] = Field(
        default_factory=dict, max_length=100
    )

    @model_validator(mode="after")
    def _one_entry_per_payer(self) -> AuthorizationPolicyIn:
        if len({payer_key(name) for name in self.payers}) != len(self.payers):
            raise ValueError("payers: one entry per payer (names differing only in case or spacing are one)")
        return self


class AuthorizationPolicyOut(AuthorizationPolicyIn):
    version: int = Field(0, description="0: the defaults, nobody wrote one yet")

    def rules_for(self, payer: str) -> PayerRules:
        wanted = payer_key(payer)
        return next((r for name, r in self.payers.items() if payer_key(name) == wanted), DEFAULT_RULES)


def payer_key(payer: str) -> str:
    """A payer's name compared as people type it: case and runs of spaces ignored."""
    return " ".join(payer.split()).casefold()


# ---------------------------------------------------------------- lists


class AuthList(StrEnum):
    """The lists staff work from: each status in one, each list in the order it is worked."""

    DRAFT = "draft"  # oldest first: not sent yet
    PENDING = "pending"  # submitted, appealed, pending-info: soonest due first (the chase list)
    APPROVED = "approved"  # in force, the window ending first
    DENIED = "denied"  # not appealed yet, oldest decision first
    CLOSED = "closed"  # expired or cancelled


LISTS: dict[AuthStatus, AuthList] = {
    AuthStatus.DRAFT: AuthList.DRAFT,
    AuthStatus.SUBMITTED: AuthList.PENDING,
    AuthStatus.APPEALED: AuthList.PENDING,
    AuthStatus.PENDING_INFO: AuthList.PENDING,
    AuthStatus.APPROVED: AuthList.APPROVED,
    AuthStatus.PARTIALLY_APPROVED: AuthList.APPROVED,
    AuthStatus.DENIED: AuthList.DENIED,
    AuthStatus.EXPIRED: AuthList.CLOSED,
    AuthStatus.CANCELLED: AuthList.CLOSED,
}


def sort_at(auth: AuthorizationOut, calendar: Calendar) -> datetime:
    """Where the authorization sorts in its list: when the payer's decision is due (or the information
    it asked for), when the window ends, when it was decided, or when it last changed."""
    if auth.status in AWAITING and auth.due_at is not None:
        return auth.due_at
    if auth.status is AuthStatus.PENDING_INFO and auth.info_due_on is not None:
        return end_of_day(auth.info_due_on, calendar)
    days = window(auth)
    if auth.status in IN_FORCE and days is not None:
        return expires_at(days[1], calendar)
    if auth.status is AuthStatus.DENIED and auth.decision is not None:
        return auth.decision.decided_at
    return auth.created_at if auth.status is AuthStatus.DRAFT else auth.updated_at


# ---------------------------------------------------------------- the report


class Turnaround(Model):
    """A payer's decisions at one urgency, on requests submitted in the period."""

    payer: str
    urgency: AuthUrgency
    submitted: int
    decided: int = Field(description="a first decision (an appeal's is counted under appeals)")
    on_time: int = Field(description="decided by the due time")
    overdue: int = Field(description="undecided past the due time, now")
    median_hours: float | None = Field(None, description="submission to first decision")
    longest_hours: float | None = None


class WithoutApproval(Model):
    """A visit that needed an approval, held without one covering it."""

    appointment_id: str
    patient_id: str
    appointment_type: str
    on: date


class AuthorizationReport(Model):
    """``GET /reports/authorizations``: the requests submitted in ``[from, to]``."""

    first_day: date
    last_day: date
    turnaround: list[Turnaround]
    approved: int
    partially_approved: int
    denied: int
    denials: dict[DenialReason, int] = Field(description="first decisions and appeals, by reason")
    appealed: int
    overturned: int = Field(description="appeals approved, fully or in part")
    without_approval: list[WithoutApproval]


def _hours(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds() / 3600, 1)


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered, middle = sorted(values), len(values) // 2
    return ordered[middle] if len(ordered) % 2 else round((ordered[middle - 1] + ordered[middle]) / 2, 1)


DECIDING = frozenset({AuthAction.APPROVE.value, AuthAction.PARTIALLY_APPROVE.value, AuthAction.DENY.value})


def report(
    auths: Iterable[AuthorizationOut],
    gaps: Iterable[WithoutApproval],
    first: date,
    last: date,
    now: datetime,
) -> AuthorizationReport:
    """Requests submitted in ``[first, last]`` (the caller's Query): turnaround by payer and urgency
    (submission to the first decision, from the history), every decision (first ones and appeals'),
    denials by reason, appeals and those overturned; and the visits held without an approval."""
    rows: dict[tuple[str, AuthUrgency], Turnaround] = {}
    hours: dict[tuple[str, AuthUrgency], list[float]] = {}
    outcomes = {s: 0 for s in (AuthStatus.APPROVED, AuthStatus.PARTIALLY_APPROVED, AuthStatus.DENIED)}
    denials: dict[DenialReason, int] = {}
    appealed = overturned = 0
    for auth in auths:
        if auth.submitted_at is None:
            continue
        group = (auth.payer, auth.urgency)
        row = rows.setdefault(
            group,
            Turnaround(payer=auth.payer, urgency=auth.urgency, submitted=0, decided=0, on_time=0, overdue=0),
        )
        row.submitted += 1
        decisions = [h for h in auth.history if h.action in DECIDING]
        if decisions:
            row.decided += 1
            row.on_time += bool(decisions[0].on_time)
            hours.setdefault(group, []).append(_hours(auth.submitted_at, decisions[0].at))
        elif auth.status in AWAITING and auth.due_at is not None and now > auth.due_at:
            row.overdue += 1
        appealed += sum(h.action == AuthAction.APPEAL.value for h in auth.history)
        for entry in decisions:
            outcomes[entry.to_status] += 1
            if entry.reason is not None:
                denials[entry.reason] = denials.get(entry.reason, 0) + 1
            overturned += entry.from_status is AuthStatus.APPEALED and entry.to_status in IN_FORCE
    for group, row in rows.items():
        row.median_hours = _median(hours.get(group, []))
        row.longest_hours = max(hours[group]) if hours.get(group) else None
    return AuthorizationReport.model_validate(
        {
            "first_day": first,
            "last_day": last,
            "turnaround": sorted(rows.values(), key=lambda r: (r.payer, r.urgency.value)),
            "approved": outcomes[AuthStatus.APPROVED],
            "partially_approved": outcomes[AuthStatus.PARTIALLY_APPROVED],
            "denied": outcomes[AuthStatus.DENIED],
            "denials": denials,
            "appealed": appealed,
            "overturned": overturned,
            "without_approval": sorted(gaps, key=lambda g: (g.on, g.appointment_id)),
        }
    )
