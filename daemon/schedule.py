"""When retraining runs: `every 24h`, `daily 03:00`, or a 5-field cron expression.

Every form answers one question, `next_run(after)`: the first moment strictly
after `after` that a run is due. Times are timezone-aware; `daily` and cron
read the wall clock of the schedule's zone (the machine's local zone unless
told otherwise), as cron does. An interval counts from the previous run, so
`every 24h` after a run at 14:05 is due at 14:05 the next day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Protocol

FORMS = "'every <n>m|h|d', 'daily HH:MM' or a 5-field cron expression 'min hour day month weekday'"

_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
_EVERY = re.compile(r"every\s+(\d+)\s*([mhd])", re.IGNORECASE)
_DAILY = re.compile(r"daily\s+(\d{1,2}):(\d{2})", re.IGNORECASE)

# A cron expression that matches nothing (e.g. 30 February) is found by giving up here.
_SEARCH_DAYS = 366 * 8


class ScheduleError(ValueError):
    """A schedule string that is none of the accepted forms; the message says why."""


class Schedule(Protocol):
    text: str

    def next_run(self, after: datetime) -> datetime: ...


def parse_schedule(text: str, *, tz: tzinfo | None = None) -> Schedule:
    """Parse one of the three forms; `tz` is the zone of `daily` and cron (default: local)."""
    stripped = " ".join(text.split())
    if stripped.lower().startswith("every"):
        return _interval(stripped)
    if stripped.lower().startswith("daily"):
        return _daily(stripped, tz=tz)
    if len(stripped.split()) == 5:
        return Cron.parse(stripped, tz=tz)
    raise ScheduleError(f"{text!r} is not {FORMS}")


def is_valid_schedule(text: str) -> bool:
    """For the config check: True, or ScheduleError saying what is wrong."""
    parse_schedule(text)
    return True


@dataclass(frozen=True)
class Interval:
    text: str
    every: timedelta

    def next_run(self, after: datetime) -> datetime:
        return _aware(after) + self.every


@dataclass(frozen=True)
class Daily:
    text: str
    at: time
    tz: tzinfo | None = None

    def next_run(self, after: datetime) -> datetime:
        local = _aware(after).astimezone(self.tz)
        candidate = datetime.combine(local.date(), self.at, tzinfo=local.tzinfo)
        if candidate <= local:
            candidate = datetime.combine(local.date() + timedelta(days=1), self.at, local.tzinfo)
        return _in_zone(candidate, self.tz)


@dataclass(frozen=True)
class _Field:
    """The allowed values of one cron field, and whether it was written as `*`."""

    values: frozenset[int]
    star: bool


_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12), ("weekday", 0, 7))


@dataclass(frozen=True)
class Cron:
    """Classic cron semantics: when both day and weekday are restricted, either may match."""

    text: str
    minutes: _Field
    hours: _Field
    days: _Field
    months: _Field
    weekdays: _Field  # 0 = Sunday; 7 is folded into 0
    tz: tzinfo | None = None

    @classmethod
    def parse(cls, text: str, *, tz: tzinfo | None = None) -> Cron:
        parts = text.split()
        if len(parts) != 5:
            raise ScheduleError(f"{text!r} has {len(parts)} fields; cron needs 5 ({FORMS})")
        fields = [
            _parse_field(part, name=name, low=low, high=high)
            for part, (name, low, high) in zip(parts, _FIELDS, strict=True)
        ]
        weekdays = fields[4]
        if 7 in weekdays.values:
            weekdays = _Field(frozenset((weekdays.values - {7}) | {0}), weekdays.star)
        return cls(text, fields[0], fields[1], fields[2], fields[3], weekdays, tz)

    def next_run(self, after: datetime) -> datetime:
        local = _aware(after).astimezone(self.tz)
        start = local.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.date()
        for _ in range(_SEARCH_DAYS):
            if self._matches_day(day):
                earliest = start.time() if day == start.date() else time(0, 0)
                at = self._first_time_from(earliest)
                if at is not None:
                    return _in_zone(datetime.combine(day, at, tzinfo=local.tzinfo), self.tz)
            day += timedelta(days=1)
        raise ScheduleError(f"cron expression {self.text!r} never matches a real date")

    def _matches_day(self, day: date) -> bool:
        if day.month not in self.months.values:
            return False
        in_days = day.day in self.days.values
        in_weekdays = (day.isoweekday() % 7) in self.weekdays.values
        if self.days.star or self.weekdays.star:
            return in_days and in_weekdays
        return in_days or in_weekdays

    def _first_time_from(self, earliest: time) -> time | None:
        for hour in sorted(h for h in self.hours.values if h >= earliest.hour):
            floor = earliest.minute if hour == earliest.hour else 0
            minutes = [m for m in self.minutes.values if m >= floor]
            if minutes:
                return time(hour, min(minutes))
        return None


def _interval(text: str) -> Interval:
    match = _EVERY.fullmatch(text)
    if match is None:
        raise ScheduleError(f"{text!r} is not 'every <n>m', 'every <n>h' or 'every <n>d'")
    count = int(match.group(1))
    if count == 0:
        raise ScheduleError(f"{text!r}: the interval must be greater than 0")
    return Interval(text, count * _UNITS[match.group(2).lower()])


def _daily(text: str, *, tz: tzinfo | None) -> Daily:
    match = _DAILY.fullmatch(text)
    if match is None:
        raise ScheduleError(f"{text!r} is not 'daily HH:MM' (24-hour clock, e.g. daily 03:00)")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ScheduleError(f"{text!r}: {hour:02d}:{minute:02d} is not a time of day")
    return Daily(text, time(hour, minute), tz)


def _parse_field(text: str, *, name: str, low: int, high: int) -> _Field:
    values: set[int] = set()
    for item in text.split(","):
        values |= _parse_item(item, name=name, low=low, high=high)
    return _Field(frozenset(values), star=text == "*")


def _parse_item(item: str, *, name: str, low: int, high: int) -> set[int]:
    """One comma-separated piece: `*`, `n`, `a-b`, each optionally `/step`."""
    base, slash, step_text = item.partition("/")
    step = _number(step_text, name=name, item=item) if slash else 1
    if step < 1:
        raise ScheduleError(f"cron {name} {item!r}: the step must be at least 1")
    if base == "*":
        first, last = low, high
    elif "-" in base:
        first_text, _, last_text = base.partition("-")
        first = _number(first_text, name=name, item=item)
        last = _number(last_text, name=name, item=item)
    else:
        first = _number(base, name=name, item=item)
        last = high if slash else first  # `5/15` means 5-max/15, as in Vixie cron
    for value in (first, last):
        if not low <= value <= high:
            raise ScheduleError(f"cron {name} {item!r}: {value} is outside {low}-{high}")
    if first > last:
        raise ScheduleError(f"cron {name} {item!r}: the range runs backwards")
    return set(range(first, last + 1, step))


def _number(text: str, *, name: str, item: str) -> int:
    if not text.isdigit():
        raise ScheduleError(f"cron {name} {item!r}: {text!r} is not a number (names are not read)")
    return int(text)


def _aware(moment: datetime) -> datetime:
    """Naive datetimes are UTC, as the database stores them."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _in_zone(wall: datetime, tz: tzinfo | None) -> datetime:
    """A wall-clock time in `tz` (None = local), as an aware datetime in UTC."""
    if tz is None:
        return wall.replace(tzinfo=None).astimezone().astimezone(UTC)
    return wall.astimezone(UTC)
