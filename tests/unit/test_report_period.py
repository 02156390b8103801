"""Every report's ``from``-``to`` (shared/http/caller.check_period): in order, both days included, at
most the report's limit, and a refusal that names the parameter without echoing either date."""

from __future__ import annotations

from datetime import date

import pytest

from shared.errors import Unprocessable
from shared.http.caller import check_period


def test_a_report_period_is_in_order_and_at_most_its_limit_both_days_included() -> None:
    check_period(date(2026, 12, 1), date(2026, 12, 1), 366)
    check_period(date(2026, 1, 1), date(2026, 12, 31), 366)  # 365 days
    check_period(date(2028, 1, 1), date(2028, 12, 31), 366)  # 366: a leap year
    for first, last in ((date(2026, 12, 2), date(2026, 12, 1)), (date(2026, 1, 1), date(2027, 1, 2))):
        with pytest.raises(Unprocessable) as refused:
            check_period(first, last, 366)
        assert refused.value.errors == [
            {"loc": ["query", "to"], "msg": "period out of range", "type": "value_error"}
        ]
        assert "2026" not in str(refused.value) and "2027" not in str(refused.value)
