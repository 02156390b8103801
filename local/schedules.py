"""EventBridge schedule expressions: ``rate(...)``, 6-field ``cron(...)`` and Scheduler's ``at(...)``.

AWS cron differs from Unix cron (a year field, ``?``, days of week numbered 1 to 7 from Sunday); it is
translated to croniter's dialect here, and a 5-field cron (which cfn-lint lets through and AWS
rejects) is refused.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_AT = re.compile(r"^at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


class InvalidSchedule(ValueError):
    pass


def _dow(field: str) -> str:
    """AWS day-of-week numbers (1 = Sunday) → croniter's (0 = Sunday); names pass through."""
    return re.sub(
        r"\d+",
        lambda m: str(int(m.group()) - 1) if not m.string[: m.start()].endswith("#") else m.group(),
        field,
    )


class Schedule:
    def __init__(self, expression: str, time_zone: str | None = None) -> None:
        self.expression = expression.strip()
        self.zone = ZoneInfo(time_zone) if time_zone else UTC
        self.rate: timedelta | None = None
        self.at: datetime | None = None
        self.cron: str | None = None
        self.years: str = "*"
        if m := _RATE.match(self.expression):
            n, unit = int(m.group(1)), m.group(2).rstrip("s")
            if n < 1 or (n == 1) != (not m.group(2).endswith("s")):
                raise InvalidSchedule(f"{expression}: use 'rate(1 {unit})' or 'rate(N {unit}s)'")
            self.rate = timedelta(seconds=n * _UNITS[unit])
        elif m := _AT.match(self.expression):
            self.at = datetime.fromisoformat(m.group(1)).replace(tzinfo=self.zone).astimezone(UTC)
        elif m := _CRON.match(self.expression):
            fields = m.group(1).split()
            if len(fields) != 6:
                raise InvalidSchedule(
                    f"{expression}: AWS cron has 6 fields (min hour day month weekday year)"
                )
            minute, hour, dom, month, dow, self.years = fields
            if (dom == "?") == (dow == "?"):
                raise InvalidSchedule(
                    f"{expression}: exactly one of day-of-month and day-of-week must be '?'"
                )
            self.cron = " ".join(
                [minute, hour, "*" if dom == "?" else dom, month, "*" if dow == "?" else _dow(dow)]
            )
            if not croniter.is_valid(self.cron):
                raise InvalidSchedule(f"{expression}: not a valid cron expression")
        else:
            raise InvalidSchedule(f"{expression}: expected rate(...), cron(...) or at(...)")

    @property
    def one_time(self) -> bool:
        return self.at is not None

    def next_after(self, after: datetime, anchor: datetime) -> datetime | None:
        """The first fire time strictly after ``after``; ``anchor`` is when a rate schedule started."""
        if self.at is not None:
            return self.at if self.at > after else None
        if self.rate is not None:
            periods = max(0, int((after - anchor) / self.rate)) + 1
            return anchor + periods * self.rate
        it = croniter(self.cron or "", after.astimezone(self.zone))
        for _ in range(1000):
            candidate: datetime = it.get_next(datetime)
            if self.years == "*" or str(candidate.year) in self.years.split(","):
                return candidate.astimezone(UTC)
        return None
