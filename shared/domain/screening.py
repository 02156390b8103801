"""The CMS Accountable Health Communities (AHC) health-related social needs screening, scored.

Five core domains, coded answers (anything else is a 422):


- ``living_situation`` (living situation; problems with the place): positive when not a steady place,
  or worried about losing it, or any problem;
- ``food`` (worried food would run out; it ran out): positive when either is "often" or "sometimes";
- ``transportation`` (lack of transport kept you from care or needs): positive when yes;
- ``utilities`` (utility company threatened a shut-off): positive when yes or already shut off;
- ``interpersonal_safety`` (HITS: hurt, insulted, threatened, screamed at; never 1 to frequently 5):
  positive when the sum is greater than 10.

Risk: ``high`` when safety is positive or three or more domains are; ``moderate`` for one or two;
``low`` for none. A positive safety screen is urgent.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from shared.domain.base import Model, Strict


class Domain(StrEnum):
    LIVING_SITUATION = "living_situation"
    FOOD = "food"
    TRANSPORTATION = "transportation"
    UTILITIES = "utilities"
    INTERPERSONAL_SAFETY = "interpersonal_safety"


class Risk(StrEnum):
    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"


Frequency = Literal["never", "rarely", "sometimes", "fairly_often", "frequently"]
_HITS = {"never": 1, "rarely": 2, "sometimes": 3, "fairly_often": 4, "frequently": 5}
HITS_THRESHOLD = 10
HousingProblem = Literal[
    "pests", "mold", "lead", "inadequate_heat", "oven_stove", "smoke_detectors", "water_leaks"
]
TrueOften = Literal["often", "sometimes", "never"]


class _Coded(Strict):
    pass


class LivingSituation(_Coded):
    situation: Literal["steady", "steady_but_worried", "not_steady"]
    problems: list[HousingProblem] = Field(default_factory=list)


class Food(_Coded):
    worried_would_run_out: TrueOften
    ran_out: TrueOften


class Safety(_Coded):
    physically_hurt: Frequency
    insulted: Frequency
    threatened: Frequency
    screamed_at: Frequency


class Screening(_Coded):
    living_situation: LivingSituation
    food: Food
    transportation: Literal["yes", "no"]
    utilities: Literal["yes", "no", "already_shut_off"]
    interpersonal_safety: Safety


class Score(Model):
    positive: list[Domain]
    risk: Risk
    urgent: bool
    safety_score: int


def score(s: Screening) -> Score:
    safety = sum(_HITS[v] for v in s.interpersonal_safety.model_dump().values())
    positive = [
        domain
        for domain, hit in (
            (
                Domain.LIVING_SITUATION,
                s.living_situation.situation != "steady" or bool(s.living_situation.problems),
            ),
            (Domain.FOOD, s.food.worried_would_run_out != "never" or s.food.ran_out != "never"),
            (Domain.TRANSPORTATION, s.transportation == "yes"),
            (Domain.UTILITIES, s.utilities != "no"),
            (Domain.INTERPERSONAL_SAFETY, safety > HITS_THRESHOLD),
        )
        if hit
    ]
    urgent = Domain.INTERPERSONAL_SAFETY in positive
    risk = Risk.HIGH if urgent or len(positive) >= 3 else Risk.MODERATE if positive else Risk.LOW
    return Score(positive=positive, risk=risk, urgent=urgent, safety_score=safety)
