"""The filters every history command shares, parsed once and applied as SQL.

`history`, `export`, `stats` and `reprocess` all select predictions the same
way, so a filter means the same thing everywhere and is checked in one place:
a bad value is a `UsageError` (one line, exit 2) before the database is opened.
Filters become WHERE clauses over indexed columns, never Python-side loops.
"""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, UnaryExpression
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.operators import custom_op

from daemon.db.schema import Prediction, utcnow
from daemon.errors import UsageError
from nnet.classes import CLASS_NAMES

STATUSES: tuple[str, ...] = ("labeled", "review", "failed", "duplicate")

# --sort FIELD (ascending) or FIELD:desc; ties break on id the same way.
SORT_FIELDS: dict[str, InstrumentedAttribute[Any]] = {
    "created_at": Prediction.created_at,
    "id": Prediction.id,
    "confidence": Prediction.confidence,
    "label": Prediction.label,
    "filename": Prediction.filename,
    "status": Prediction.status,
    "model_version": Prediction.model_version,
}
DEFAULT_SORT = "created_at:desc"
DEFAULT_LIMIT = 50

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class HistoryFilter:
    """Which predictions a command looks at; None means "any"."""

    label: str | None = None
    status: str | None = None
    since: datetime | None = None  # inclusive, naive UTC
    until: datetime | None = None  # exclusive, naive UTC
    min_confidence: float | None = None
    max_confidence: float | None = None
    model_version: str | None = None
    name_glob: str | None = None

    def apply(self, stmt: Select[Any], *, use_indexes: bool = True) -> Select[Any]:
        """Add this filter's WHERE clauses to a select over `Prediction`.

        `use_indexes=False` keeps SQLite from driving the query through an
        index: for a filter that matches much of the table, one sequential scan
        beats a random table look-up per matching index entry.
        """
        col = _column if use_indexes else unindexed
        conditions = []
        if self.label is not None:
            conditions.append(col(Prediction.label) == self.label)
        if self.status is not None:
            conditions.append(col(Prediction.status) == self.status)
        if self.since is not None:
            conditions.append(col(Prediction.created_at) >= self.since)
        if self.until is not None:
            conditions.append(col(Prediction.created_at) < self.until)
        if self.min_confidence is not None:
            conditions.append(col(Prediction.confidence) >= self.min_confidence)
        if self.max_confidence is not None:
            conditions.append(col(Prediction.confidence) <= self.max_confidence)
        if self.model_version is not None:
            conditions.append(col(Prediction.model_version) == self.model_version)
        if self.name_glob is not None:
            # SQLite's GLOB has the shell's meaning (*, ?, [...]) and is case-sensitive.
            conditions.append(col(Prediction.filename).op("GLOB")(self.name_glob))
        return stmt.where(*conditions) if conditions else stmt


def _column(column: InstrumentedAttribute[Any]) -> ColumnElement[Any]:
    return column


def unindexed(column: InstrumentedAttribute[Any]) -> ColumnElement[Any]:
    """`+column`: SQLite's documented way to stop a term from using an index.

    The expression keeps the column's type, so values bind exactly as they do
    against the bare column (datetimes included).
    """
    return UnaryExpression(column, operator=custom_op("+"), type_=column.type)


@dataclass(frozen=True)
class SortOrder:
    field: str = "created_at"
    descending: bool = True

    def clauses(self) -> tuple[UnaryExpression[Any], UnaryExpression[Any]]:
        column = SORT_FIELDS[self.field]
        if self.descending:
            return column.desc(), Prediction.id.desc()
        return column.asc(), Prediction.id.asc()


@dataclass(frozen=True)
class HistoryQuery:
    filter: HistoryFilter
    sort: SortOrder
    limit: int | None  # None: every match

    def apply(self, stmt: Select[Any]) -> Select[Any]:
        stmt = self.filter.apply(stmt).order_by(*self.sort.clauses())
        return stmt.limit(self.limit) if self.limit is not None else stmt


def add_filter_arguments(
    parser: argparse.ArgumentParser, *, sort: bool = True, limit: int | None = DEFAULT_LIMIT
) -> None:
    """The shared filter flags; `limit=None` makes "every match" the default."""
    group = parser.add_argument_group("filters")
    group.add_argument(
        "--label", metavar="L", help="model's label: class name (any case) or index 0-9"
    )
    group.add_argument("--status", metavar="S", help="one of " + ", ".join(STATUSES))
    group.add_argument(
        "--since",
        metavar="T",
        help="only items from T on; T is a UTC date/time (2026-01-31, 2026-01-31T14:00) "
        "or an age (30m, 2h, 7d, 2w: that long ago)",
    )
    group.add_argument(
        "--until",
        metavar="T",
        help="only items before T; same forms as --since; a bare date includes that whole day",
    )
    group.add_argument("--min-confidence", metavar="X", help="confidence at least X (0-1)")
    group.add_argument("--max-confidence", metavar="X", help="confidence at most X (0-1)")
    group.add_argument("--model", metavar="VERSION", help="made by this model version, e.g. v0002")
    group.add_argument("--name", metavar="GLOB", help="file name matches GLOB, e.g. 'IMG_*.png'")
    if sort:
        group.add_argument(
            "--sort",
            metavar="FIELD",
            default=DEFAULT_SORT,
            help=f"FIELD or FIELD:desc (default {DEFAULT_SORT}); fields: " + ", ".join(SORT_FIELDS),
        )
        shown = "all" if limit is None else str(limit)
        group.add_argument(
            "--limit",
            metavar="N",
            default=limit,
            help=f"at most N rows, 0 for all (default {shown})",
        )


def filter_from_args(args: argparse.Namespace, *, now: datetime | None = None) -> HistoryFilter:
    now = now if now is not None else utcnow()
    since = time_arg(args.since, "--since", now=now, end_of_day=False)
    until = time_arg(args.until, "--until", now=now, end_of_day=True)
    if since is not None and until is not None and since >= until:
        raise UsageError(
            f"--since {args.since} is not before --until {args.until}",
            hint="swap them, or widen the range",
        )
    low = _confidence_arg(args.min_confidence, "--min-confidence")
    high = _confidence_arg(args.max_confidence, "--max-confidence")
    if low is not None and high is not None and low > high:
        raise UsageError(
            f"--min-confidence {low} is above --max-confidence {high}", hint="swap them"
        )
    return HistoryFilter(
        label=resolve_label(args.label) if args.label is not None else None,
        status=resolve_status(args.status) if args.status is not None else None,
        since=since,
        until=until,
        min_confidence=low,
        max_confidence=high,
        model_version=args.model or None,
        name_glob=args.name or None,
    )


def query_from_args(args: argparse.Namespace, *, now: datetime | None = None) -> HistoryQuery:
    return HistoryQuery(
        filter=filter_from_args(args, now=now),
        sort=parse_sort(args.sort),
        limit=parse_limit(args.limit),
    )


def resolve_label(text: str, *, class_names: Sequence[str] = CLASS_NAMES) -> str:
    """A class name from any case of it, or from its index."""
    wanted = text.strip()
    if wanted.isdigit():
        index = int(wanted)
        if index < len(class_names):
            return class_names[index]
        raise UsageError(
            f"unknown label index {index}", hint=f"use 0-{len(class_names) - 1} or a class name"
        )
    by_lower = {name.lower(): name for name in class_names}
    if wanted.lower() in by_lower:
        return by_lower[wanted.lower()]
    raise UsageError(f'unknown label "{text}"', hint=_suggest(wanted, class_names))


def resolve_status(text: str) -> str:
    wanted = text.strip().lower()
    if wanted in STATUSES:
        return wanted
    raise UsageError(f'unknown status "{text}"', hint=_suggest(wanted, STATUSES))


def parse_sort(text: str) -> SortOrder:
    """`FIELD`, `FIELD:asc`, `FIELD:desc` or `-FIELD` (spelled `--sort=-FIELD` for argparse)."""
    name, _, direction = text.strip().lower().partition(":")
    descending = name.startswith("-")
    name = name.lstrip("-+")
    if direction not in ("", "asc", "desc"):
        raise UsageError(f'cannot sort "{text}"', hint="use FIELD, FIELD:asc or FIELD:desc")
    if name not in SORT_FIELDS:
        raise UsageError(f'cannot sort by "{text}"', hint=_suggest(name, tuple(SORT_FIELDS)))
    return SortOrder(field=name, descending=descending or direction == "desc")


def parse_limit(value: str | int | None) -> int | None:
    if value is None:
        return None
    try:
        limit = int(value)
    except ValueError:
        raise UsageError(
            f"--limit {value} is not a whole number", hint="e.g. --limit 100"
        ) from None
    if limit < 0:
        raise UsageError(f"--limit {value} is negative", hint="use 0 for all rows")
    return limit or None


def parse_time(text: str, *, now: datetime, end_of_day: bool = False) -> datetime:
    """A naive-UTC instant from an ISO date/time or a relative age like 2h.

    A bare date as an upper bound means the end of that day, so
    `--until 2026-01-31` includes the 31st.
    """
    match = _RELATIVE.match(text)
    if match:
        amount, unit = float(match.group(1)), match.group(2).lower()
        return now - timedelta(seconds=amount * _UNIT_SECONDS[unit])
    value = text.strip()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        pass
    else:
        start = datetime(day.year, day.month, day.day)
        return start + timedelta(days=1) if end_of_day else start
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(text) from None
    if instant.tzinfo is not None:
        instant = instant.astimezone(UTC).replace(tzinfo=None)
    return instant


def time_arg(text: str | None, flag: str, *, now: datetime, end_of_day: bool) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_time(text, now=now, end_of_day=end_of_day)
    except ValueError:
        raise UsageError(
            f'{flag} "{text}" is neither an ISO date/time nor a relative time',
            hint="use e.g. 2026-01-31, 2026-01-31T14:00, 30m, 2h or 7d",
        ) from None


def _confidence_arg(text: str | None, flag: str) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{flag} {text} is not a number", hint="use a value from 0 to 1") from None
    if not 0.0 <= value <= 1.0:
        raise UsageError(f"{flag} {text} is outside [0, 1]", hint="use a value from 0 to 1")
    return value


def _suggest(wanted: str, choices: Sequence[str]) -> str:
    lowered = {choice.lower(): choice for choice in choices}
    close = difflib.get_close_matches(wanted.lower(), list(lowered), n=1, cutoff=0.4)
    if close:
        return f'did you mean "{lowered[close[0]]}"?'
    return "one of: " + ", ".join(choices)
