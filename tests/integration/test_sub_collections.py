"""One rule for absent parents: a sub-collection (a patient's appointments, referrals, waitlist,
assessments, coverage; a provider's day) under a parent that is not the caller's (missing, another
organization's, or for a patient another patient's) is a 404, never ``200 []``; a real parent with
nothing under it is ``200 []``. Items found prove the parent, so a page with items costs what it
cost before; only an empty first page pays one GetItem of the parent."""

from __future__ import annotations

from typing import Any

import pytest

from shared import clock
from tests.support.ddb import count_calls
from tests.support.intake import NEGATIVE_SCREEN, PHI, Api
from tests.support.scheduling import Clinic, Sched, open_clinic, patient_api

MISSING = "01KAPZ8Q1V0000000000000000"  # a well-formed id nobody has
DAY = {"date": "2026-11-24"}
PATIENT_LISTS = ("appointments", "referrals", "waitlist")
INTAKE_LISTS = ("assessments", "coverage")


@pytest.fixture(autouse=True)
def _phi(phi: Any) -> None:
    phi.register(*PHI[1:])


@pytest.fixture
def clinic(aws: dict, frozen_clock: clock.FixedClock) -> Clinic:
    return open_clinic(patients=2)


def _patient_list(api: Sched, patient_id: str, what: str, **query: str) -> dict[str, Any]:
    return api.req("GET", f"/patients/{{patient_id}}/{what}", patient_id=patient_id, query=query or None)


def _intake_list(api: Api, patient_id: str, what: str) -> dict[str, Any]:
    return api.on("GET", patient_id, f"/{what}")


def _provider_day(api: Sched, provider_id: str) -> dict[str, Any]:
    return api.req("GET", "/providers/{provider_id}/appointments", provider_id=provider_id, query=DAY)


def _fill(clinic: Clinic, pid: str) -> None:
    """One of everything under ``pid``: an appointment on DAY, a referral, a waitlist entry, an
    assessment and a coverage."""
    staff, intake = clinic.staff, Api()
    assert staff.book(pid, clinic.provider_id)["statusCode"] == 201
    referral = {"patient_id": pid, "specialty": "cardiology", "reason": "x", "due_date": "2026-11-30"}
    assert staff.req("POST", "/referrals", {**referral, "send": True})["statusCode"] == 201
    entry = {
        "patient_id": pid,
        "specialty": "cardiology",
        "appointment_type": "follow-up",
        "earliest": "2026-11-24",
        "latest": "2026-11-30",
    }
    assert staff.req("POST", "/waitlist", entry)["statusCode"] == 201
    assessment = intake.on("POST", pid, "/assessments", body={"screening": NEGATIVE_SCREEN})
    assert assessment["statusCode"] == 201
    coverage = {"payer": "Blue Plan", "member_id": "B2", "effective_start": "2026-01-01"}
    assert intake.on("POST", pid, "/coverage", body=coverage)["statusCode"] == 201


def test_another_organizations_parents_are_404_not_empty_lists(clinic: Clinic) -> None:
    mine = clinic.patients[0]
    _fill(clinic, mine)
    open_clinic(org="globex", patients=0)
    outsider, outsider_intake = Sched(org="globex"), Api(org="globex")
    for what in PATIENT_LISTS:
        assert _patient_list(outsider, mine, what)["statusCode"] == 404, what
    for what in INTAKE_LISTS:
        assert _intake_list(outsider_intake, mine, what)["statusCode"] == 404, what
    assert _provider_day(outsider, clinic.provider_id)["statusCode"] == 404
    # a patient token of the other organization naming this patient's id finds no such patient there
    for what in PATIENT_LISTS:
        elsewhere = patient_api(mine, org="globex")
        assert _patient_list(elsewhere, mine, what)["statusCode"] == 404, what


def test_another_patients_lists_are_404_for_a_patient(clinic: Clinic) -> None:
    mine, theirs = clinic.patients
    _fill(clinic, mine)
    for what in PATIENT_LISTS:
        response = _patient_list(patient_api(theirs), mine, what)
        assert response["statusCode"] == 404 and mine not in response["body"], what


def test_missing_parents_are_404_for_staff(clinic: Clinic) -> None:
    for what in PATIENT_LISTS:
        assert _patient_list(clinic.staff, MISSING, what)["statusCode"] == 404, what
    for what in INTAKE_LISTS:
        assert _intake_list(Api(), MISSING, what)["statusCode"] == 404, what
    assert _provider_day(clinic.staff, MISSING)["statusCode"] == 404


def test_a_real_parent_with_nothing_under_it_is_an_empty_list_for_one_more_getitem(clinic: Clinic) -> None:
    empty = clinic.patients[1]
    for what in PATIENT_LISTS:
        for api in (clinic.staff, patient_api(empty)):
            with count_calls() as calls:
                response = _patient_list(api, empty, what)
            assert response["statusCode"] == 200 and response["json"]["items"] == [], what
            assert calls == {"Query": 1, "GetItem": 1}, (what, calls)
    for what in INTAKE_LISTS:
        with count_calls() as calls:
            response = _intake_list(Api(), empty, what)
        assert response["statusCode"] == 200 and response["json"]["items"] == [], what
        assert calls == {"Query": 1, "GetItem": 1}, (what, calls)
    with count_calls() as calls:
        day = _provider_day(clinic.staff, clinic.provider_id)
    assert day["statusCode"] == 200 and day["json"]["items"] == []
    assert calls == {"Query": 1, "GetItem": 1}


def test_a_page_with_items_costs_no_extra_call(clinic: Clinic) -> None:
    mine = clinic.patients[0]
    _fill(clinic, mine)
    # as before this rule: one Query (referrals: and the calendar, which says what is overdue)
    expected = {
        "appointments": {"Query": 1},
        "referrals": {"Query": 1, "GetItem": 1},
        "waitlist": {"Query": 1},
    }
    for what in PATIENT_LISTS:
        with count_calls() as calls:
            response = _patient_list(clinic.staff, mine, what)
        assert response["statusCode"] == 200 and len(response["json"]["items"]) == 1, what
        assert calls == expected[what], (what, calls)
    with count_calls() as calls:
        day = _provider_day(clinic.staff, clinic.provider_id)
    assert len(day["json"]["items"]) == 1 and calls == {"Query": 1}
    # intake's lists are cheaper than before: the entries prove the patient, no GetItem first
    for what in INTAKE_LISTS:
        with count_calls() as calls:
            response = _intake_list(Api(), mine, what)
        assert response["statusCode"] == 200 and len(response["json"]["items"]) == 1, what
        assert calls == {"Query": 1}, (what, calls)


def test_a_later_page_proves_its_parent_by_its_cursor(aws: dict, clinic: Clinic) -> None:
    """A cursor is sealed for this tenant and this partition and issued only after a page of items:
    a later page needs no GetItem, even when it comes back empty (here the last entry left the
    table between the two pages, as an expired waitlist entry does by TTL)."""
    import boto3

    from shared.data import keys

    mine = clinic.patients[0]
    entry = {"patient_id": mine, "specialty": "cardiology", "appointment_type": "follow-up"}
    for latest in ("2026-11-30", "2026-12-31"):
        body = {**entry, "earliest": "2026-11-24", "latest": latest}
        assert clinic.staff.req("POST", "/waitlist", body)["statusCode"] == 201
    first = _patient_list(clinic.staff, mine, "waitlist", limit="1")
    assert len(first["json"]["items"]) == 1 and first["json"]["next_cursor"]
    listed = _patient_list(clinic.staff, mine, "waitlist")["json"]["items"]
    (rest,) = [e["id"] for e in listed if e["id"] != first["json"]["items"][0]["id"]]
    boto3.client("dynamodb").delete_item(
        TableName=aws["table_name"],
        Key={"PK": {"S": keys.waitlist_pk("acme", rest)}, "SK": {"S": keys.WAITLIST_SK}},
    )
    with count_calls() as calls:
        last = _patient_list(clinic.staff, mine, "waitlist", limit="1", cursor=first["json"]["next_cursor"])
    assert last["statusCode"] == 200 and last["json"]["items"] == []
    assert calls == {"Query": 1}
