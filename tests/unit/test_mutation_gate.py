"""The mutation gate's arithmetic: what counts for a module's score, and when the equivalent-mutant
list no longer says what it said."""

from __future__ import annotations

import pytest

from tests.mutation.gate import Equivalent, changed_line, failures, fingerprint, score

M = "shared.domain.calendar.x_is_open__mutmut_"
DIFF = "--- a\n+++ b\n@@ -1 +1 @@\n-    return x < y\n+    return x <= y"


def test_killed_and_timed_out_count_for_survivors_and_untested_against_equivalents_aside() -> None:
    codes = {M + "1": 1, M + "2": 36, M + "3": 0, M + "4": 33, M + "5": 0, M + "6": 35}
    same = Equivalent(M + "5", "return x <= y", "the two branches give the same answer")
    figures, problems = score(codes, [same], {M + "5": DIFF})
    assert problems == []
    assert (figures.killed, figures.timeout, figures.survived, figures.no_tests, figures.other) == (
        1,
        1,
        1,
        1,
        1,
    )
    assert figures.equivalent == 1 and figures.mutants == 6
    assert figures.score == pytest.approx(2 / 5)
    assert figures.undetected == [M + "3", M + "4", M + "6"]


def test_an_equivalent_entry_that_no_longer_matches_is_a_problem_and_not_excused() -> None:
    codes = {M + "1": 0, M + "2": 1}
    listed = [
        Equivalent(M + "1", "return x < y + 1", "renumbered since"),
        Equivalent(M + "2", "return x <= y", "killed now"),
        Equivalent(M + "9", "return x <= y", "gone"),
    ]
    figures, problems = score(codes, listed, {M + "1": DIFF, M + "2": DIFF})
    assert figures.equivalent == 0 and figures.survived == 1 and figures.score == 0.5
    assert [p.split(":")[0] for p in problems] == [M + "1", M + "2", M + "9"]
    assert "is now `return x <= y`" in problems[0] and "kill it" in problems[1] and "no such" in problems[2]


def test_a_mutant_not_run_is_a_problem() -> None:
    assert score({M + "1": None}, [], {})[1] == [f"{M}1: not run (mutmut stopped early?)"]


def test_the_bar_is_ninety_percent() -> None:
    figures, _ = score({**{f"{M}{i}": 1 for i in range(9)}, M + "9": 0}, [], {})
    assert figures.score == 0.9 and failures({"m.py": figures}) == []
    figures, _ = score({**{f"{M}{i}": 1 for i in range(8)}, M + "8": 0, M + "9": 0}, [], {})
    assert failures({"m.py": figures}) == ["m.py: 80.0% of non-equivalent mutants killed, under 90%"]


def test_the_changed_line_is_read_from_the_diff() -> None:
    assert changed_line(DIFF) == "return x <= y"


def test_a_fingerprint_moves_with_the_module_its_tests_and_its_equivalents() -> None:
    files = {"shared/domain/m.py": b"a = 1\n", "tests/unit/test_m.py": b"def test(): pass\n"}

    def of(changes: dict[str, bytes], equivalents: list[Equivalent] | None = None) -> str:
        return fingerprint(
            "shared/domain/m.py", ["tests/unit/test_m.py"], equivalents or [], files={**files, **changes}
        )

    first = of({})
    assert of({}) == first
    assert of({"tests/unit/test_other.py": b"x"}) == first  # a test file that did not exercise it
    moved = [
        of({"tests/unit/test_m.py": b"def test(): assert True\n"}),
        of({"shared/domain/m.py": b"a = 2\n"}),
        of({"tests/conftest.py": b"import pytest\n"}),
        of({}, [Equivalent("shared.domain.m.x_f__mutmut_1", "x", "y")]),
    ]
    assert len({first, *moved}) == 5
