"""Every key in the single table is built here, and nowhere else.

Rules (ARCHITECTURE.md section 3):
- every partition key starts with ``ORG#<organization>``: nothing is readable across tenants by
  accident, because no builder can make a key without an organization;
- sort-key prefixes separate entity types inside a partition; the ``entity`` attribute records the
  type but is never the only thing a query relies on;
- ids that go into keys are validated (:func:`part`): a ``#`` in a token claim or path parameter
  can't shift a key into another entity's space.

Access patterns (each endpoint's pattern and the call that serves it; areas add theirs here):

- organization profile (``GET /me``): GetItem ``ORG#<org>`` / ``PROFILE``
- outbox event: put in the TransactWriteItems of the change it reports, read only by the stream relay:
  ``ORG#<org>#OUTBOX#<event id>`` / ``EVENT``
- idempotency record (Powertools): ``ORG#<org>#IDEMPOTENCY`` / ``<function>#<hash>``
- a patient (``GET /patients/{id}``): GetItem ``ORG#<org>#PATIENT#<id>`` / ``PROFILE``
- register a patient: one TransactWriteItems: the patient, its phone entry, its duplicate signatures,
  its audit entry and its outbox event
- probable duplicate (same birth date and name, or same phone and birth date): a condition in that
  transaction on ``ORG#<org>#DUP#<kind>#<hash>`` / ``SIG``
- search by name prefix: Query GSI1 ``ORG#<org>#PATIENTS`` / begins_with ``NAME#<family given>``
- search by birth date: Query GSI2 ``ORG#<org>#DOB#<date>`` / ``PATIENT#<id>``
- search by phone: Query ``ORG#<org>#PHONE#<digits>`` / ``PATIENT#<id>`` (+ BatchGetItem)
- assessments, coverage (history, newest first): Query ``ORG#<org>#PATIENT#<id>`` / begins_with
  ``ASSESSMENT#`` or ``COVERAGE#``
- my panel: Query ``ORG#<org>#PANEL#<staff>`` / ``PATIENT#<id>`` (+ BatchGetItem)
- a patient's audit trail: Query ``ORG#<org>#AUDIT#PATIENT#<id>`` / ``<at>#<entry id>``

Scheduling (``functions/scheduling``; ``<start>`` is a UTC instant, ``<day>`` a local date):

- organization calendar (hours, holidays, waitlist policy): GetItem ``ORG#<org>`` / ``CALENDAR``
- appointment types: GetItem / Query ``ORG#<org>#APPTTYPES`` / ``<code>``
- a provider: GetItem ``ORG#<org>#PROVIDER#<id>`` / ``PROFILE``; providers of a specialty: Query
  GSI1 ``ORG#<org>#PROVIDERS#SPECIALTY#<code>``; all providers: Query GSI2 ``ORG#<org>#PROVIDERS``
- a provider's held time, one item per booking-grid unit: ``ORG#<org>#PROVIDER#<id>#BUSY`` /
  ``<unit start>``. Booking puts each unit with ``attribute_not_exists`` in one TransactWriteItems
  with the appointment: that condition is what makes a double booking impossible. Availability over
  a date range: BatchGetItem (calendar, type, provider) + one Query per provider, ``SK BETWEEN``
  the range: its cost follows that provider's bookings in that range, nothing else
- an appointment: GetItem ``ORG#<org>#APPT#<id>`` / ``APPT``; a patient's: Query GSI1
  ``ORG#<org>#PATIENT#<id>#APPTS`` / ``<start>#<id>`` (upcoming ``>=`` now, past ``<`` now); a
  provider's day: Query GSI2 ``ORG#<org>#PROVIDER#<id>#DAY#<day>``; the organization's day: Query
  GSI3 ``ORG#<org>#APPTS#DAY#<day>`` (the organization's zone)
- a referral: GetItem ``ORG#<org>#REFERRAL#<id>`` / ``REFERRAL``; the chase list (open, by due date;
  overdue: ``< today``): Query GSI1 ``ORG#<org>#REFERRALS#OPEN`` / ``<due>#<id>`` (sparse: open
  referrals only); by status: Query GSI2 ``ORG#<org>#REFERRALS#STATUS#<status>``; a patient's: Query
  GSI3 ``ORG#<org>#PATIENT#<id>#REFERRALS``
- a waitlist entry: ``ORG#<org>#WAITLIST#<id>`` / ``ENTRY``; who waits for a provider or a specialty,
  first come first served: Query GSI1 ``ORG#<org>#WAITLIST#PROVIDER#<id>`` or
  ``...#WAITLIST#SPECIALTY#<code>`` / ``<created>#<id>`` (sparse: live entries only); a patient's:
  Query GSI3 ``ORG#<org>#PATIENT#<id>#WAITLIST``
- a slot offer: GetItem ``ORG#<org>#OFFER#<id>`` / ``OFFER``
- a message sent to a patient (de-duplication): ``ORG#<org>#COMM#<dedupe key>`` / ``COMM``

Reminders (``functions/reminders``; ``<kind>`` is what a plan reminds about: ``appointment``,
``referral``):

- the organization's reminder policy: GetItem ``ORG#<org>`` / ``REMINDERPOLICY``
- a plan's head (its current generation): ``ORG#<org>#REMIND#<kind>#<id>`` / ``PLAN``; its touches,
  every generation (``GET /appointments/{id}/reminders``): Query GSI3 ``ORG#<org>#REMIND#<kind>#<id>``
  / ``<generation>#<index>``
- a touch (the dispatcher and sender, by the id its timer or queue message carries): GetItem
  ``ORG#<org>#TOUCH#<id>`` / ``TOUCH``; failed touches to work (``GET /reminders?status=failed``):
  Query GSI1 ``ORG#<org>#REMINDERS#FAILED`` / ``<send at>#<id>`` (sparse); every touch by send time
  (``GET /reports/reminders``): Query GSI2 ``ORG#<org>#REMINDERS`` / ``<send at>#<id>``
- an address that bounced or complained: GetItem ``ORG#<org>#PATIENT#<id>`` / ``SUPPRESS#<channel>``
- replies kept for staff (``GET /replies``): Query ``ORG#<org>#REPLIES`` / ``<at>#<id>``

Tasks and escalations (``functions/escalations``; ``<queue>`` is ``ROLE#<role>`` for a role's queue or
``STAFF#<sub>`` for a person's own tasks; ``<rank>`` 0-3 is the priority, stat first):

- the organization's escalation policy (ladder, limits, rules): GetItem ``ORG#<org>`` / ``ESCALATIONPOLICY``
- a task and its history (``GET /tasks/{id}``: one Query of the partition): ``ORG#<org>#TASK#<id>`` /
  ``TASK``, and ``HIST#<at>#<n>`` per entry
- the worklist: Query GSI1 ``ORG#<org>#WORK#<queue>`` / ``<rank>#<earliest clock>#<id>`` (sparse: open
  tasks only, so the order is priority, then the earlier of due time and escalation deadline), one
  Query per queue the caller reads (their own, and one per role they hold), merged; its cost follows
  the page, never the organization's number of tasks
- a patient's tasks, newest first: Query GSI2 ``ORG#<org>#PATIENT#<id>#TASKS`` / ``<created>#<id>``

Partner webhooks (``functions/webhooks``; ``<h(x)>`` is the SHA-256 of a partner's own string, which
may hold any character):

- a partner (``GET /partners/{id}``): GetItem ``ORG#<org>#PARTNERS`` / ``PARTNER#<id>``; all of an
  organization's: Query that partition
- a partner by the id on its webhook URL (no organization in the request): GetItem
  ``ROUTE#PARTNER#<h(id)>`` / ``ROUTE``: its organization, whether it is active, its live inbound
  secret ids and the Secrets Manager version that holds them: the acknowledgement reads only this
- a webhook-id already acknowledged (7+ days, TTL): ``ORG#<org>#HOOK#<partner>#<h(webhook-id)>`` /
  ``HOOK``, put with ``attribute_not_exists`` in the same transaction as the delivery
- a delivery, either direction (``GET /partners/{id}/deliveries``, newest first): Query
  ``ORG#<org>#PARTNER#<id>#DELIVERIES`` / ``<delivery id>`` (a ULID: time order); one by id: GetItem
- a partner's resource we hold (versions, repeats): ``ORG#<org>#SOURCE#<partner>#<type>#<h(id)>`` /
  ``SOURCE``: our record's id and the version and ``lastUpdated`` last applied
- an appointment booked in a partner's EHR and mirrored in our calendar (:mod:`shared.data.mirror`):
  GetItem ``ORG#<org>#MIRROR#<partner>#<h(source id)>`` / ``MIRROR``: our appointment's id and the
  version and ``lastUpdated`` last seen, written (on its version) in the transaction that books, moves
  or cancels the appointment, so a repeat changes nothing and an older update is recognised
- a patient's identifiers (``GET/PUT /patients/{id}/identifiers``): ``ORG#<org>#PATIENT#<id>`` /
  ``IDENTIFIERS``; who holds ``system|value`` (unique per organization, matching):
  ``ORG#<org>#IDENT#<h(system|value)>`` / ``IDENT``
- a result: GetItem ``ORG#<org>#RESULT#<id>`` / ``RESULT``; a patient's, newest first (``GET
  /patients/{id}/results``): Query GSI1 ``ORG#<org>#PATIENT#<id>#RESULTS`` / ``<issued>#<id>``
- an encounter: ``ORG#<org>#ENCOUNTER#<id>`` / ``ENCOUNTER``; a patient's: Query GSI1
  ``ORG#<org>#PATIENT#<id>#ENCOUNTERS`` / ``<start>#<id>``
- the partner inbox: GetItem ``ORG#<org>#INBOX#<id>`` / ``INBOX``; open ones, oldest first (``GET
  /partner-inbox``): Query GSI1 ``ORG#<org>#INBOX#OPEN`` / ``<id>`` (sparse)
- an outbound subscription: ``ORG#<org>#PARTNERS`` / ``SUB#<partner>#<id>`` (Query the prefix for a
  partner's; the outbound sender reads the organization's with one Query of ``SUB#``)

Transitions of care (``functions/transitions``):

- an episode (``GET /transitions/{id}``): GetItem ``ORG#<org>#TRANSITION#<id>`` / ``EPISODE``
- the episodes of a status (``GET /transitions?status=``): Query GSI1 ``ORG#<org>#TRANSITIONS#<STATUS>``
  / ``<nearest deadline>#<id>`` for open and paused ones (so the list is ordered by what is due first),
  ``<closed at>#<id>`` for closed ones: one Query per page, whatever the number of episodes
- a patient's episodes, newest first: Query GSI2 ``ORG#<org>#PATIENT#<id>#TRANSITIONS`` /
  ``<discharged>#<id>``; the one open or paused now: GetItem ``ORG#<org>#PATIENT#<id>#TRANSITION`` /
  ``CURRENT`` (what an appointment or admission event reads first)
- the report (``GET /reports/transitions``): Query GSI3 ``ORG#<org>#TRANSITIONS#DISCHARGED`` /
  ``<discharge date>#<id>`` between the dates
- one episode per encounter and per patient and discharge date: ``ORG#<org>#TRANSITIONCLAIM#<h(claim)>``
  / ``CLAIM``, put with ``attribute_not_exists`` in the transaction that opens it

- one active task per cause (rule + focus): ``ORG#<org>#CAUSE#<digest>`` / ``CAUSE`` holds the task id,
  put with ``attribute_not_exists`` in the task's transaction and deleted in the one that closes it;
  an event already turned into a task: ``ORG#<org>#SEEN#<digest>`` / ``SEEN`` (TTL), so a redelivery
  after the task was closed opens nothing

Feedback (``functions/feedback``; ``<code>`` a survey's code; ``<month>`` ``YYYY-MM`` in UTC):

- a survey (``GET /surveys/{code}``): GetItem ``ORG#<org>#SURVEY#<code>`` / ``SURVEY`` (versioned); each
  version as sent, never changed: ``V#<nnnn>`` in the same partition (a request names the version it
  asks, so an edit never changes what a patient is answering); an organization's surveys (``GET
  /surveys``): Query GSI1 ``ORG#<org>#SURVEYS`` / ``<code>``; the active ones a trigger sends (the
  events consumer): Query GSI2 ``ORG#<org>#SURVEYS#<trigger>`` / ``<code>`` (sparse: active only)
- one request per survey and triggering event (a visit, an episode, a plan review):
  ``ORG#<org>#SURVEYCLAIM#<code>#<subject id>`` / ``CLAIM``, put with ``attribute_not_exists`` in the
  transaction that makes the request: a redelivery or a second consumer makes none
- a request (its timer, its link, its answer): GetItem ``ORG#<org>#SURVEYREQUEST#<id>`` / ``REQUEST``
  (versioned: scheduled → sent → answered | expired | skipped); the answers, free text included, only
  in ``RESPONSE`` beside it, put with ``attribute_not_exists`` (a second answer is refused by it);
  a patient's requests, newest first (``GET /patients/{p}/surveys``): Query GSI1
  ``ORG#<org>#PATIENT#<p>#SURVEYS`` / ``<created>#<id>``; the report (``GET /reports/feedback``): one
  Query per month of the period, GSI2 ``ORG#<org>#FEEDBACK#SENT#<month>`` / ``<sent>#<id>`` BETWEEN
  (set when sent; the request holds its scores as numbers, never text)
- service-recovery tasks opened and closed, for the report: ``ORG#<org>#FEEDBACK#RECOVERY#<month>`` /
  ``<at>#<opened|closed>#<task id>`` (put from the task's event: a redelivery writes the same item)
- a survey link (``/r/{token}``) leads to its request by ``ROUTE#SURVEY#<request id>`` / ``ROUTE``
  (see Routes below)

Records (``functions/records``; ``<code>`` a LOINC code; every item below is about one patient):

- an interaction: GetItem ``ORG#<org>#INTERACTION#<id>`` / ``INTERACTION``; a patient's, newest first
  (``GET /patients/{p}/interactions``): Query GSI1 ``ORG#<org>#PATIENT#<p>#INTERACTIONS`` /
  ``<occurred>#<id>``
- a note and every version of it (``GET /patients/{p}/notes/{id}``: one Query of the partition):
  ``ORG#<org>#NOTE#<id>`` / ``NOTE`` (its status and current version, versioned) and ``V#<nnnn>`` per
  signed version, put with ``attribute_not_exists``: a version once written is never changed; a
  patient's notes, newest first (``GET /patients/{p}/notes``): Query GSI1 ``ORG#<org>#PATIENT#<p>#NOTES``
  / ``<created>#<id>`` (the head holds its current version, so the list reads nothing else)
- secure messages (``GET /patients/{p}/messages``, newest first: one Query, ``MSG#`` descending):
  ``ORG#<org>#PATIENT#<p>#MESSAGES`` / ``MSG#<id>`` (a ULID: time order), and ``CONVERSATION``
  (the patient's messages not yet answered, versioned: every message's transaction writes it)
- an attachment (its S3 object is ``<org>/<patient>/<attachment id>``: ids only):
  ``ORG#<org>#ATTACHMENT#<id>`` / ``ATTACHMENT``
- an observation: GetItem ``ORG#<org>#OBSERVATION#<id>`` / ``OBSERVATION``; a patient's series of one
  code between two instants (``GET /patients/{p}/observations?code=``): Query GSI1
  ``ORG#<org>#PATIENT#<p>#OBS#<code>`` / ``<effective>#<id>`` BETWEEN; of every code: Query GSI2
  ``ORG#<org>#PATIENT#<p>#OBS`` / ``<effective>#<id>``
- a patient's measures now (latest reading, alerts raised, versioned; the summary and the trend
  checks read it): Query ``ORG#<org>#PATIENT#<p>#MONITOR`` / ``<code>``; a measurement missed since
  a reading, raised once: ``ORG#<org>#PATIENT#<p>#MISSED`` / ``<code>#<last reading>``, put with
  ``attribute_not_exists`` (TTL)
- a patient's own thresholds: GetItem ``ORG#<org>#PATIENT#<p>`` / ``THRESHOLDS``; the organization's
  message and monitoring policies: GetItem ``ORG#<org>`` / ``MESSAGEPOLICY`` | ``MONITORINGPOLICY``
- **the timeline** (``GET /patients/{p}/timeline``): one entry per event about the patient, ids and
  codes only, ``ORG#<org>#PATIENT#<p>#TIMELINE`` / ``<occurred>#<event id>``, so every view is one
  Query, newest first, whatever the number of entries:
  staff, every kind: Query the partition; staff, one kind: Query GSI1 ``...#TIMELINE#<kind>``; the
  patient: Query GSI2 ``...#TIMELINE#PATIENT`` (sparse: entries the patient may see); the patient,
  one kind: Query GSI3 ``...#TIMELINE#PATIENT#<kind>`` (sparse). An entry marked hidden (a note
  entered in error) loses its patient keys and is filtered out of the staff views unless asked for:
  it is rare, so a page is short by at most those. The records area writes its own entries in the
  transaction of the record; every other area's are projected from the bus by its consumer, put on
  their key (a redelivery writes the same item again).

Prior authorizations (``functions/authorizations``):

- an authorization (versioned; its history inside, the last 50 changes): GetItem
  ``ORG#<org>#AUTHORIZATION#<id>`` / ``AUTHORIZATION``
- the lists staff work from, each one Query of GSI1 ``ORG#<org>#AUTHORIZATIONS#<list>`` /
  ``<sort instant>#<id>`` (``draft``, ``pending`` (the chase list: submitted, appealed and pending-info,
  by when the payer's decision or the information it asked for is due; ``due_before`` is the key
  condition ``<``), ``approved`` (by the window's end), ``denied``, ``closed``)
- a patient's (``GET /patients/{p}/authorizations``, a booking's gate, a visit's unit): Query GSI2
  ``ORG#<org>#PATIENT#<p>#AUTHORIZATIONS`` / ``<created>#<id>``
- the report (``GET /reports/authorizations``): Query GSI3 ``ORG#<org>#AUTHORIZATIONS#SUBMITTED`` /
  ``<submitted date>#<id>`` between the dates (sparse: drafts are not in it), and the visits held
  without an approval: Query ``ORG#<org>#AUTHORIZATIONS#UNAPPROVED`` / ``<visit date>#<appointment id>``
- the organization's policy: GetItem ``ORG#<org>`` / ``AUTHORIZATIONPOLICY``

Routes: the one exception to "every partition key starts with the organization". What arrives
from a provider names no organization: a delivery receipt carries the provider's message id, an SMS
reply the id of the last message sent to that number, a one-tap link a touch id or a survey
request's id. ``ROUTE#MSG#<provider message id>``, ``ROUTE#TOUCH#<touch id>`` and
``ROUTE#SURVEY#<request id>`` (SK ``ROUTE``) hold the organization and the ids it
leads to, nothing else; they are written when a message is sent and read only by the consumers of
those messages, which then read everything else under the organization's keys. A reply nobody can
be matched to (unknown number) is kept under ``ROUTE#UNMATCHED`` / ``<at>#<id>`` for operators.
The sending identities' pace is the deployment's too: ``PACE#<identity>`` / ``PACE``.

Indexes: ``GSI1``, ``GSI2`` and ``GSI3`` (``GSInPK``/``GSInSK``) are overloaded:
each entity documents above what it puts there. TTL attribute: ``ttl`` (epoch seconds; advisory,
reads must filter expired items themselves).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")


def part(value: str) -> str:
    """A key component: refuses anything that could break out of its slot."""
    if not _PART.fullmatch(value):
        raise ValueError("invalid key component")
    return value


def is_part(value: str) -> bool:
    """Whether ``value`` can be a key component (for ids that arrive from outside)."""
    return bool(_PART.fullmatch(value))


def org_pk(org: str) -> str:
    return f"ORG#{part(org)}"


ORG_PROFILE_SK = "PROFILE"


def outbox_pk(org: str, event_id: str) -> str:
    return f"{org_pk(org)}#OUTBOX#{part(event_id)}"


OUTBOX_SK = "EVENT"


def idempotency_pk(org: str) -> str:
    return f"{org_pk(org)}#IDEMPOTENCY"


PROFILE_SK = "PROFILE"


def patient_pk(org: str, patient_id: str) -> str:
    return f"{org_pk(org)}#PATIENT#{part(patient_id)}"


def patients_by_name_pk(org: str) -> str:
    return f"{org_pk(org)}#PATIENTS"


def patient_name_sk(search_name: str, patient_id: str) -> str:
    return f"NAME#{search_name}#{part(patient_id)}"


def patients_by_birth_date_pk(org: str, birth_date: str) -> str:
    return f"{org_pk(org)}#DOB#{part(birth_date)}"


def patients_by_phone_pk(org: str, phone: str) -> str:
    return f"{org_pk(org)}#PHONE#{part(phone.lstrip('+'))}"


def patient_sk(patient_id: str) -> str:
    return f"PATIENT#{part(patient_id)}"


def duplicate_pk(org: str, kind: str, digest: str) -> str:
    return f"{org_pk(org)}#DUP#{part(kind)}#{part(digest)}"


DUPLICATE_SK = "SIG"


def assessment_sk(assessment_id: str) -> str:
    return f"ASSESSMENT#{part(assessment_id)}"


ASSESSMENT_PREFIX = "ASSESSMENT#"


def coverage_sk(coverage_id: str) -> str:
    return f"COVERAGE#{part(coverage_id)}"


COVERAGE_PREFIX = "COVERAGE#"


def panel_pk(org: str, staff_id: str) -> str:
    return f"{org_pk(org)}#PANEL#{part(staff_id)}"


def audit_pk(org: str, patient_id: str) -> str:
    return f"{org_pk(org)}#AUDIT#PATIENT#{part(patient_id)}"


def audit_sk(at: str, entry_id: str) -> str:
    return f"{part(at)}#{part(entry_id)}"


# ---------------------------------------------------------------- scheduling

CALENDAR_SK = "CALENDAR"


def appointment_types_pk(org: str) -> str:
    return f"{org_pk(org)}#APPTTYPES"


def provider_pk(org: str, provider_id: str) -> str:
    return f"{org_pk(org)}#PROVIDER#{part(provider_id)}"


def providers_pk(org: str) -> str:
    return f"{org_pk(org)}#PROVIDERS"


def providers_by_specialty_pk(org: str, specialty: str) -> str:
    return f"{org_pk(org)}#PROVIDERS#SPECIALTY#{part(specialty)}"


def provider_sk(provider_id: str) -> str:
    return f"PROVIDER#{part(provider_id)}"


def busy_pk(org: str, provider_id: str) -> str:
    return f"{provider_pk(org, provider_id)}#BUSY"


def appointment_pk(org: str, appointment_id: str) -> str:
    return f"{org_pk(org)}#APPT#{part(appointment_id)}"


APPOINTMENT_SK = "APPT"


def patient_appointments_pk(org: str, patient_id: str) -> str:
    return f"{patient_pk(org, patient_id)}#APPTS"


def provider_day_pk(org: str, provider_id: str, day: str) -> str:
    return f"{provider_pk(org, provider_id)}#DAY#{part(day)}"


def organization_day_pk(org: str, day: str) -> str:
    return f"{org_pk(org)}#APPTS#DAY#{part(day)}"


def timed_sk(at: str, item_id: str) -> str:
    """``<instant or date>#<id>``: sorts by time, unique by id."""
    return f"{part(at)}#{part(item_id)}"


def referral_pk(org: str, referral_id: str) -> str:
    return f"{org_pk(org)}#REFERRAL#{part(referral_id)}"


REFERRAL_SK = "REFERRAL"


def open_referrals_pk(org: str) -> str:
    return f"{org_pk(org)}#REFERRALS#OPEN"


def referrals_by_status_pk(org: str, status: str) -> str:
    return f"{org_pk(org)}#REFERRALS#STATUS#{part(status)}"


def patient_referrals_pk(org: str, patient_id: str) -> str:
    return f"{patient_pk(org, patient_id)}#REFERRALS"


def waitlist_pk(org: str, entry_id: str) -> str:
    return f"{org_pk(org)}#WAITLIST#{part(entry_id)}"


WAITLIST_SK = "ENTRY"


def waitlist_queue_pk(org: str, provider_id: str | None, specialty: str | None) -> str:
    if provider_id:
        return f"{org_pk(org)}#WAITLIST#PROVIDER#{part(provider_id)}"
    return f"{org_pk(org)}#WAITLIST#SPECIALTY#{part(specialty or '')}"


def patient_waitlist_pk(org: str, patient_id: str) -> str:
    return f"{patient_pk(org, patient_id)}#WAITLIST"


def offer_pk(org: str, offer_id: str) -> str:
    return f"{org_pk(org)}#OFFER#{part(offer_id)}"


OFFER_SK = "OFFER"


def communication_pk(org: str, dedupe_key: str) -> str:
    return f"{org_pk(org)}#COMM#{part(dedupe_key)}"


COMMUNICATION_SK = "COMM"


# ---------------------------------------------------------------- reminders

REMINDER_POLICY_SK = "REMINDERPOLICY"


def plan_pk(org: str, kind: str, subject_id: str) -> str:
    return f"{org_pk(org)}#REMIND#{part(kind)}#{part(subject_id)}"


PLAN_SK = "PLAN"


def plan_touch_sk(generation: int, index: int) -> str:
    return f"{generation:04d}#{index:02d}"


def touch_pk(org: str, touch_id: str) -> str:
    return f"{org_pk(org)}#TOUCH#{part(touch_id)}"


TOUCH_SK = "TOUCH"


def failed_touches_pk(org: str) -> str:
    return f"{org_pk(org)}#REMINDERS#FAILED"


def touches_by_time_pk(org: str) -> str:
    return f"{org_pk(org)}#REMINDERS"


def by_time_sk(at: str, item_id: str) -> str:
    return f"{at}#{part(item_id)}"


def suppression_sk(channel: str) -> str:
    return f"SUPPRESS#{part(channel)}"


def replies_pk(org: str) -> str:
    return f"{org_pk(org)}#REPLIES"


def route_pk(kind: str, value: str) -> str:
    """A route: the organization for something a provider sends us without one (see above). The
    value is the provider's (any characters, e.g. a ``/``) or ours: its SHA-256 goes in the key."""
    if kind not in ("MSG", "TOUCH", "PARTNER", "SURVEY"):
        raise ValueError("unknown route kind")
    return f"ROUTE#{kind}#{hashlib.sha256(value.encode()).hexdigest()[:40]}"


ROUTE_SK = "ROUTE"


def pace_pk(identity: str) -> str:
    """A sending identity's pace (:mod:`shared.notify.pace`): the deployment's, like routes."""
    return f"PACE#{part(identity)}"


PACE_SK = "PACE"
UNMATCHED_PK = "ROUTE#UNMATCHED"


# ---------------------------------------------------------------- tasks and escalations

ESCALATION_POLICY_SK = "ESCALATIONPOLICY"


def task_pk(org: str, task_id: str) -> str:
    return f"{org_pk(org)}#TASK#{part(task_id)}"


TASK_SK = "TASK"
HISTORY_PREFIX = "HIST#"


def history_sk(at: str, n: int) -> str:
    return f"{HISTORY_PREFIX}{part(at)}#{n:04d}"


def queue_role(role: str) -> str:
    return f"ROLE#{part(role)}"


def queue_staff(staff_id: str) -> str:
    return f"STAFF#{part(staff_id)}"


def work_queue_pk(org: str, queue: str) -> str:
    return f"{org_pk(org)}#WORK#{queue}"


def work_sk(rank: int, at: str | None, task_id: str) -> str:
    """``<rank>#<instant>#<id>``; no clock sorts last (``~`` after every digit)."""
    return f"{rank}#{part(at) if at else '~'}#{part(task_id)}"


def patient_tasks_pk(org: str, patient_id: str) -> str:
    return f"{patient_pk(org, patient_id)}#TASKS"


def cause_pk(org: str, cause: str) -> str:
    return f"{org_pk(org)}#CAUSE#{hashlib.sha256(cause.encode()).hexdigest()[:40]}"


CAUSE_SK = "CAUSE"


def seen_pk(org: str, seen: str) -> str:
    return f"{org_pk(org)}#SEEN#{hashlib.sha256(seen.encode()).hexdigest()[:40]}"


SEEN_SK = "SEEN"


# ---------------------------------------------------------------- partner webhooks


def _h(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:40]


def partners_pk(org: str) -> str:
    return f"{org_pk(org)}#PARTNERS"


def partner_sk(partner_id: str) -> str:
    return f"PARTNER#{part(partner_id)}"


def subscription_sk(partner_id: str, subscription_id: str | None = None) -> str:
    """``SUB#<partner>#<id>``; without an id, the prefix of a partner's (or, without both, all)."""
    if not partner_id:
        return "SUB#"
    return f"SUB#{part(partner_id)}#{part(subscription_id) if subscription_id else ''}"


def hook_pk(org: str, partner_id: str, webhook_id: str) -> str:
    return f"{org_pk(org)}#HOOK#{part(partner_id)}#{_h(webhook_id)}"


HOOK_SK = "HOOK"


def deliveries_pk(org: str, partner_id: str) -> str:
    return f"{org_pk(org)}#PARTNER#{part(partner_id)}#DELIVERIES"


def delivery_sk(delivery_id: str) -> str:
    return part(delivery_id)


def source_pk(org: str, partner_id: str, resource_type: str, source_id: str) -> str:
    return f"{org_pk(org)}#SOURCE#{part(partner_id)}#{part(resource_type)}#{_h(source_id)}"


SOURCE_SK = "SOURCE"


def mirror_pk(org: str, partner_id: str, source_id: str) -> str:
    return f"{org_pk(org)}#MIRROR#{part(partner_id)}#{_h(source_id)}"


MIRROR_SK = "MIRROR"
IDENTIFIERS_SK = "IDENTIFIERS"


def identifier_pk(org: str, token: str) -> str:
    return f"{org_pk(org)}#IDENT#{_h(token)}"


IDENT_SK = "IDENT"


def result_pk(org: str, result_id: str) -> str:
    return f"{org_pk(org)}#RESULT#{part(result_id)}"


RESULT_SK = "RESULT"


def patient_results_pk(org: str, patient_id: str) -> str:
    return f"{patient_pk(org, patient_id)}#RESULTS"


def encounter_pk(org: str, encounter_id: str) -> str:
    return f"{org_pk(org)}#ENCOUNTER#{part(encounter_id)}"


ENCOUNTER_SK = "ENCOUNTER"


def patient_encounters_pk(org: str, patient_id: str) -> str:
    return f"{patient_pk(org, patient_id)}#ENCOUNTERS"


def inbox_pk(org: str, item_id: str) -> str:
    return f"{org_pk(org)}#INBOX#{part(item_id)}"


INBOX_SK = "INBOX"


def open_inbox_pk(org: str) -> str:
    return f"{org_pk(org)}#INBOX#OPEN"


# ---------------------------------------------------------------- transitions of care


def transition_pk(org: str, transition_id: str) -> str:
    return f"{org_pk(org)}#TRANSITION#{part(transition_id)}"


TRANSITION_SK = "EPISODE"


def transitions_pk(org: str, status: str) -> str:
    """GSI1: the episodes of one status: open and paused by their nearest deadline, closed by when."""
    return f"{org_pk(org)}#TRANSITIONS#{part(status).upper()}"


def patient_transitions_pk(org: str, patient_id: str) -> str:
    return f"{patient_pk(org, patient_id)}#TRANSITIONS"


def transitions_by_discharge_pk(org: str) -> str:
    """GSI3: every episode by discharge date (the report's range)."""
    return f"{org_pk(org)}#TRANSITIONS#DISCHARGED"


def current_transition_pk(org: str, patient_id: str) -> str:
    """The patient's open or paused episode (one at a time)."""
    return f"{patient_pk(org, patient_id)}#TRANSITION"


CURRENT_TRANSITION_SK = "CURRENT"


def transition_claim_pk(org: str, claim: str) -> str:
    """One episode per encounter, and per patient and discharge date: ``encounter:<id>`` or
    ``discharge:<patient>:<date>``."""
    return f"{org_pk(org)}#TRANSITIONCLAIM#{_h(claim)}"


TRANSITION_CLAIM_SK = "CLAIM"


# ---------------------------------------------------------------- care plans and education


def careplan_pk(org: str, plan_id: str) -> str:
    return f"{org_pk(org)}#CAREPLAN#{part(plan_id)}"


CAREPLAN_SK = "PLAN"


def careplans_review_pk(org: str) -> str:
    """GSI1: active and on-hold plans by review date (``GET /care-plans?review=due``)."""
    return f"{org_pk(org)}#CAREPLANS#REVIEW"


def patient_careplans_pk(org: str, patient_id: str) -> str:
    """GSI2: a patient's plans, active first (``<rank>#<created>#<id>``)."""
    return f"{patient_pk(org, patient_id)}#CAREPLANS"


def social_plan_pk(org: str, patient_id: str) -> str:
    """The patient's live social-needs plan, the one a positive screen adds to (one at a time)."""
    return f"{patient_pk(org, patient_id)}#CAREPLAN#SOCIAL"


SOCIAL_PLAN_SK = "CURRENT"


def careplan_template_pk(org: str, code: str) -> str:
    return f"{org_pk(org)}#CAREPLANTEMPLATE#{part(code)}"


CAREPLAN_TEMPLATE_SK = "TEMPLATE"


def careplan_templates_pk(org: str) -> str:
    """GSI1: an organization's templates by code."""
    return f"{org_pk(org)}#CAREPLANTEMPLATES"


def material_pk(org: str, code: str) -> str:
    return f"{org_pk(org)}#EDUCATION#{part(code)}"


MATERIAL_SK = "MATERIAL"


def materials_pk(org: str) -> str:
    """GSI1: an organization's education catalog by code."""
    return f"{org_pk(org)}#EDUCATION#CATALOG"


def assignment_pk(org: str, assignment_id: str) -> str:
    return f"{org_pk(org)}#EDUASSIGN#{part(assignment_id)}"


ASSIGNMENT_SK = "ASSIGNMENT"


def patient_education_pk(org: str, patient_id: str) -> str:
    """GSI2: what a patient was given, newest first."""
    return f"{patient_pk(org, patient_id)}#EDUCATION"


# ---------------------------------------------------------------- feedback


def survey_pk(org: str, code: str) -> str:
    return f"{org_pk(org)}#SURVEY#{part(code)}"


SURVEY_SK = "SURVEY"


def survey_version_sk(version: int) -> str:
    return f"V#{version:04d}"


def surveys_pk(org: str, trigger: str | None = None) -> str:
    """GSI1: every survey of the organization; GSI2 (``trigger``): the active ones it sends."""
    base = f"{org_pk(org)}#SURVEYS"
    return f"{base}#{part(trigger)}" if trigger else base


def survey_claim_pk(org: str, code: str, subject_id: str) -> str:
    return f"{org_pk(org)}#SURVEYCLAIM#{part(code)}#{part(subject_id)}"


SURVEY_CLAIM_SK = "CLAIM"


def survey_request_pk(org: str, request_id: str) -> str:
    return f"{org_pk(org)}#SURVEYREQUEST#{part(request_id)}"


SURVEY_REQUEST_SK = "REQUEST"
SURVEY_RESPONSE_SK = "RESPONSE"


def patient_surveys_pk(org: str, patient_id: str) -> str:
    return f"{patient_pk(org, patient_id)}#SURVEYS"


def feedback_sent_pk(org: str, month: str) -> str:
    return f"{org_pk(org)}#FEEDBACK#SENT#{part(month)}"


def feedback_recovery_pk(org: str, month: str) -> str:
    return f"{org_pk(org)}#FEEDBACK#RECOVERY#{part(month)}"


# ---------------------------------------------------------------- records


def interaction_pk(org: str, interaction_id: str) -> str:
    return f"{org_pk(org)}#INTERACTION#{part(interaction_id)}"


INTERACTION_SK = "INTERACTION"


def patient_interactions_pk(org: str, patient_id: str) -> str:
    return f"{patient_pk(org, patient_id)}#INTERACTIONS"


def note_pk(org: str, note_id: str) -> str:
    return f"{org_pk(org)}#NOTE#{part(note_id)}"


NOTE_SK = "NOTE"


def patient_notes_pk(org: str, patient_id: str) -> str:
    return f"{patient_pk(org, patient_id)}#NOTES"


NOTE_VERSION_PREFIX = "V#"


def note_version_sk(number: int) -> str:
    return f"{NOTE_VERSION_PREFIX}{number:04d}"


def messages_pk(org: str, patient_id: str) -> str:
    return f"{patient_pk(org, patient_id)}#MESSAGES"


MESSAGE_PREFIX = "MSG#"
CONVERSATION_SK = "CONVERSATION"


def message_sk(message_id: str) -> str:
    return f"{MESSAGE_PREFIX}{part(message_id)}"


def attachment_pk(org: str, attachment_id: str) -> str:
    return f"{org_pk(org)}#ATTACHMENT#{part(attachment_id)}"


ATTACHMENT_SK = "ATTACHMENT"


def attachment_object(org: str, patient_id: str, attachment_id: str) -> str:
    """The S3 key of an attachment: ids only, never a file name."""
    return f"{part(org)}/{part(patient_id)}/{part(attachment_id)}"


def observation_pk(org: str, observation_id: str) -> str:
    return f"{org_pk(org)}#OBSERVATION#{part(observation_id)}"


OBSERVATION_SK = "OBSERVATION"


def patient_observations_pk(org: str, patient_id: str, code: str | None = None) -> str:
    """GSI1 (one code: ``...#OBS#<code>``) and GSI2 (every code): ``<effective>#<id>``."""
    base = f"{patient_pk(org, patient_id)}#OBS"
    return f"{base}#{part(code)}" if code else base


def monitor_pk(org: str, patient_id: str) -> str:
    return f"{patient_pk(org, patient_id)}#MONITOR"


def missed_pk(org: str, patient_id: str) -> str:
    return f"{patient_pk(org, patient_id)}#MISSED"


def missed_sk(code: str, last: datetime | None) -> str:
    """A measurement missed since its last reading (``none``: never sent), raised once per gap."""
    return f"{part(code)}#{last.strftime('%Y%m%dT%H%M%S') if last else 'none'}"


THRESHOLDS_SK = "THRESHOLDS"
MESSAGE_POLICY_SK = "MESSAGEPOLICY"
MONITORING_POLICY_SK = "MONITORINGPOLICY"


def timeline_pk(org: str, patient_id: str, view: str | None = None, kind: str | None = None) -> str:
    """The patient's timeline (the table), one kind of it (GSI1), the patient's view (``view="PATIENT"``,
    GSI2) and one kind of that (GSI3)."""
    key = f"{patient_pk(org, patient_id)}#TIMELINE"
    if view:
        key = f"{key}#{part(view)}"
    return f"{key}#{part(kind)}" if kind else key


# ---------------------------------------------------------------- prior authorizations


def authorization_pk(org: str, authorization_id: str) -> str:
    return f"{org_pk(org)}#AUTHORIZATION#{part(authorization_id)}"


AUTHORIZATION_SK = "AUTHORIZATION"
AUTHORIZATION_POLICY_SK = "AUTHORIZATIONPOLICY"


def authorizations_pk(org: str, listed: str) -> str:
    """GSI1: one list (draft, pending, approved, denied, closed), in the order it is worked."""
    return f"{org_pk(org)}#AUTHORIZATIONS#{part(listed).upper()}"


def patient_authorizations_pk(org: str, patient_id: str) -> str:
    return f"{patient_pk(org, patient_id)}#AUTHORIZATIONS"


def authorizations_submitted_pk(org: str) -> str:
    """GSI3: every request by the date it was submitted (the report's range)."""
    return f"{org_pk(org)}#AUTHORIZATIONS#SUBMITTED"


def unapproved_visits_pk(org: str) -> str:
    """Visits held without the approval their type needs, by date (the report)."""
    return f"{org_pk(org)}#AUTHORIZATIONS#UNAPPROVED"
