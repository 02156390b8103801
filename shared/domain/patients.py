"""Patients: what intake accepts, how names are normalized, and when two records are probably one person.

Field names follow FHIR Patient where one exists (``name.given``/``name.family``, ``birth_date``,
``sex`` as administrative gender). Input models forbid unknown fields, so ``organization_id``,
``id``, ``version`` or audit fields in a body are a 422 naming the field, never silently applied.
"""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from datetime import date, datetime, time
from enum import StrEnum
from functools import cache
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, Field, field_validator, model_validator

from shared.domain.base import Model, Strict, WallTime

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# WHATWG's definition of a valid e-mail address (what browsers' <input type=email> accept)
EMAIL = re.compile(
    r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$"
)
# BCP 47: language, optional script, optional region (en, es-MX, zh-Hant-TW, yue)
BCP47 = re.compile(r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|\d{3}))?$")
MAX_AGE_YEARS = 130


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    VOICE = "voice"


class Sex(StrEnum):
    """FHIR AdministrativeGender."""

    MALE = "male"
    FEMALE = "female"
    OTHER = "other"
    UNKNOWN = "unknown"


class PatientStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _phone(value: str) -> str:
    cleaned = re.sub(r"[\s().-]", "", value)
    if not E164.match(cleaned):
        raise ValueError("must be an E.164 phone number, e.g. +15555550123")
    return cleaned


def _email(value: str) -> str:
    if len(value) > 254 or not EMAIL.match(value):
        raise ValueError("must be an e-mail address, e.g. name@example.com")
    return value.lower()


def _zone(value: str) -> str:
    if value not in _zones():
        raise ValueError("must be an IANA time zone, e.g. America/Chicago")
    return value


def _language(value: str) -> str:
    if not BCP47.match(value):
        raise ValueError("must be a BCP 47 language tag, e.g. en, es-MX")
    return value


Phone = Annotated[str, Field(max_length=32, examples=["+15555550123"]), AfterValidator(_phone)]
Email = Annotated[str, Field(max_length=254, examples=["pat@example.com"]), AfterValidator(_email)]
TimeZone = Annotated[str, Field(max_length=64, examples=["America/Chicago"]), AfterValidator(_zone)]
Language = Annotated[str, Field(max_length=16, examples=["en", "es-MX"]), AfterValidator(_language)]


class HumanName(Strict):
    given: list[Annotated[str, Field(min_length=1, max_length=80)]] = Field(min_length=1, max_length=4)
    family: str = Field(min_length=1, max_length=80)


class Address(Strict):
    line: list[Annotated[str, Field(min_length=1, max_length=120)]] = Field(min_length=1, max_length=3)
    city: str = Field(min_length=1, max_length=80)
    state: str | None = Field(None, max_length=40)
    postal_code: str | None = Field(None, max_length=16)
    country: str = Field("US", pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")


class Contact(Strict):
    phone: Phone | None = None
    email: Email | None = None
    address: Address | None = None


class Consent(Strict):
    granted: bool
    at: AwareDatetime = Field(description="when consent was given or withdrawn")
    method: Literal["verbal", "written", "electronic"]


class QuietHours(Strict):
    """Local times between which nothing but urgent contact is sent (wraps past midnight)."""

    # the schema's defaults as they go on the wire (pydantic would write "21:00:00" into the input schema)
    start: WallTime = Field(time(21, 0), json_schema_extra={"default": "21:00"})
    end: WallTime = Field(time(9, 0), json_schema_extra={"default": "09:00"})


class _Preferences(Strict):
    preferred_language: Language | None = None
    preferred_channels: list[Channel] | None = Field(
        None, min_length=1, max_length=3, description="most preferred first"
    )
    consent: dict[Channel, Consent] | None = None
    surveys: bool | None = Field(
        None, description="whether the patient may be asked for feedback (satisfaction surveys); false: never"
    )

    @field_validator("preferred_channels")
    @classmethod
    def _distinct(cls, value: list[Channel] | None) -> list[Channel] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("each channel may appear once")
        return value


def _birth_date_check(value: date, today: date) -> date:
    if value > today:
        raise ValueError("cannot be in the future")
    if value.year < today.year - MAX_AGE_YEARS:
        raise ValueError(f"cannot be more than {MAX_AGE_YEARS} years ago")
    return value


class PatientIn(_Preferences):
    """``POST /patients``."""

    name: HumanName
    birth_date: date
    sex: Sex
    gender_identity: str | None = Field(None, max_length=80)
    contact: Contact = Field(default_factory=Contact)
    preferred_language: Language = "en"
    time_zone: TimeZone
    preferred_channels: list[Channel] = Field(
        default_factory=lambda: [Channel.SMS], min_length=1, max_length=3
    )
    consent: dict[Channel, Consent] = Field(default_factory=dict)
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    surveys: bool = True

    def check_dates(self, today: date) -> None:
        _birth_date_check(self.birth_date, today)


class PatientSelfUpdate(_Preferences):
    """``PATCH /patients/{id}`` by the patient: contact, language, channels, consent and surveys only."""

    contact: Contact | None = None


class PatientUpdate(PatientSelfUpdate):
    """``PATCH /patients/{id}`` by staff."""

    name: HumanName | None = None
    birth_date: date | None = None
    sex: Sex | None = None
    gender_identity: str | None = Field(None, max_length=80)
    time_zone: TimeZone | None = None
    quiet_hours: QuietHours | None = None
    status: PatientStatus | None = None

    @model_validator(mode="after")
    def _something(self) -> PatientUpdate:
        if not self.model_fields_set:
            raise ValueError("send at least one field to change")
        return self

    def check_dates(self, today: date) -> None:
        if self.birth_date is not None:
            _birth_date_check(self.birth_date, today)


class CareTeam(Strict):
    coordinator_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]*$")
    nurse_id: str | None = Field(
        None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]*$"
    )
    physician_id: str | None = Field(
        None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]*$"
    )

    def members(self) -> dict[str, str]:
        """Role → staff id, for those assigned."""
        return {k.removesuffix("_id"): v for k, v in self.model_dump().items() if v}


class PatientOut(Model):
    id: str
    version: int
    status: PatientStatus
    name: HumanName
    birth_date: date
    sex: Sex
    gender_identity: str | None = None
    contact: Contact
    preferred_language: str
    time_zone: str
    preferred_channels: list[Channel]
    consent: dict[Channel, Consent]
    quiet_hours: QuietHours
    surveys: bool = Field(True, description="may be asked for feedback (false: opted out of surveys)")
    care_team: CareTeam | None = None
    created_at: datetime
    updated_at: datetime


class PatientSelfView(Model):
    """What a patient reads of their own record: what they may also change, and nothing else."""

    id: str
    version: int
    contact: Contact
    preferred_language: str
    preferred_channels: list[Channel]
    consent: dict[Channel, Consent]
    surveys: bool = True

    @classmethod
    def of(cls, record: PatientOut) -> PatientSelfView:
        return cls.model_validate(record.model_dump(include=set(cls.model_fields)))


class PatientSummary(Model):
    """A search or panel row: enough to pick the right person, no more."""

    id: str
    name: HumanName
    birth_date: date
    status: PatientStatus


# ---------------------------------------------------------------- matching


def normalize_name(text: str) -> str:
    """Accents, case, punctuation and spacing removed, letters of every script kept:
    ``"José  O'Neil-Smith"`` → ``"jose oneilsmith"``, ``"Иван"`` → ``"иван"``, ``"Łukasz"`` → ``"łukasz"``."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(
        c if unicodedata.category(c).startswith("L") else " " if c.isspace() else ""
        for c in decomposed
        if not unicodedata.combining(c)
    )
    return " ".join(kept.casefold().split())


def search_name(name: HumanName) -> str:
    """The name as search sorts it: family name first (``"doe jane"``)."""
    return normalize_name(f"{name.family} {' '.join(name.given)}")


def duplicate_signatures(name: HumanName, birth_date: date, phone: str | None) -> dict[str, str]:
    """The facts that make two registrations probably one person: the same birth date and normalized
    name, or the same phone and birth date. Kind → signature. A name with no letters makes none."""
    out = {}
    if normalized := search_name(name):
        out["name_birth_date"] = f"{birth_date.isoformat()}|{normalized}"
    if phone:
        out["phone_birth_date"] = f"{birth_date.isoformat()}|{phone}"
    return out
