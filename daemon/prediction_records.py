"""Predictions as records: the stable field names and the output formats.

`history` and `export` print the same records, so a script written against
`history --format json` keeps working on an export. Records are produced one
at a time from rows and written one at a time, so a million rows stream in
constant memory.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import JSON, Select, case, select, type_coerce
from sqlalchemy.orm import aliased

from daemon.db.schema import Prediction, PredictionRevision

# The JSON/CSV field names, in order. Scripts depend on these: extend, never rename.
FIELDS: tuple[str, ...] = (
    "id",
    "filename",
    "path",
    "sha256",
    "label",
    "confidence",
    "probabilities",
    "model_version",
    "status",
    "error",
    "created_at",
    "corrected_label",
    "duplicate_of",  # a duplicate's original: its label, confidence, probabilities are that one's
)
# Only with --all-versions: a superseded prediction repeats its item's id.
REVISION_FIELDS: tuple[str, ...] = ("superseded_at",)

Record = dict[str, Any]


def prediction_columns() -> Select[Any]:
    """A select of exactly the record's columns: rows, not ORM objects, stream cheaply.

    The daemon stores a duplicate with its original's label and confidence but
    no probabilities; the record takes them from the original (a primary-key
    look-up), so a duplicate reads like the prediction it shares.
    """
    original = aliased(Prediction)
    # Not COALESCE: the JSON column stores a Python None as the JSON text 'null'.
    probabilities = type_coerce(
        case(
            (Prediction.status == "duplicate", original.probabilities),
            else_=Prediction.probabilities,
        ),
        JSON,
    )
    return select(
        Prediction.id,
        Prediction.filename,
        Prediction.path,
        Prediction.sha256,
        Prediction.label,
        Prediction.confidence,
        probabilities.label("probabilities"),
        Prediction.model_version,
        Prediction.status,
        Prediction.error,
        Prediction.created_at,
        Prediction.corrected_label,
        Prediction.duplicate_of,
    ).outerjoin(original, original.id == Prediction.duplicate_of)


def record_from_row(row: Sequence[Any]) -> Record:
    """A row of `prediction_columns()` (same order as FIELDS) as a record."""
    return {
        name: format_time(value) if isinstance(value, datetime) else value
        for name, value in zip(FIELDS, row, strict=True)
    }


def revision_record(item: Record, revision: PredictionRevision) -> Record:
    """A superseded prediction shown as its item's row, with that model's answer."""
    return {
        **item,
        "label": revision.label,
        "confidence": revision.confidence,
        "probabilities": revision.probabilities,
        "model_version": revision.model_version,
        "status": revision.status,
        "error": revision.error,
        "created_at": format_time(revision.created_at),
        "superseded_at": format_time(revision.superseded_at),
    }


def format_time(value: datetime | None) -> str | None:
    """ISO 8601 UTC with a Z, the form pandas and `date -d` read back."""
    if value is None:
        return None
    return value.isoformat(timespec="milliseconds") + "Z"


# --- writers: each takes an iterator and writes as it goes ---------------------------


def write_json_array(records: Iterable[Record], out: TextIO) -> int:
    count = 0
    out.write("[")
    for record in records:
        out.write(",\n" if count else "\n")
        out.write(json.dumps(record, ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def write_jsonl(records: Iterable[Record], out: TextIO) -> int:
    count = 0
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False))
        out.write("\n")
        count += 1
    return count


def write_csv(records: Iterable[Record], out: TextIO, *, fields: Sequence[str] = FIELDS) -> int:
    """CSV with the probabilities as a JSON array in one cell, empty for None."""
    writer = csv.DictWriter(
        out, fieldnames=list(fields), extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    count = 0
    for record in records:
        writer.writerow({k: _csv_cell(record.get(k)) for k in fields})
        count += 1
    return count


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value)
    return value


# --- the terminal table ----------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    title: str
    key: str
    width: int  # the most it needs; the flexible column gets what is left
    flexible: bool = False
    right: bool = False
    time: bool = False  # an ISO time: shown to the second, without the T and Z
    drop: int = 0  # on a narrow terminal, columns with the highest `drop` go first (0: never)


def render_table(
    records: Sequence[Record], columns: Sequence[Column], *, width: int | None = None
) -> Iterator[str]:
    """Lines of a table no wider than the terminal.

    The flexible column (the file name) takes what the others leave, truncated
    in the middle; when even a short name does not fit, optional columns go.
    """
    total = width if width is not None else shutil.get_terminal_size((100, 24)).columns
    cells = {c.key: [_table_cell(r.get(c.key), time=c.time) for r in records] for c in columns}
    shown = list(columns)
    while True:
        widths = [min(c.width, max([len(c.title), *map(len, cells[c.key])])) for c in shown]
        room = total - 2 * (len(shown) - 1)
        fixed = sum(w for w, c in zip(widths, shown, strict=True) if not c.flexible)
        droppable = [c for c in shown if c.drop]
        if room - fixed >= MIN_FLEXIBLE or not droppable:
            break
        shown.remove(max(droppable, key=lambda c: c.drop))
    for i, c in enumerate(shown):
        if c.flexible:
            needed = max([len(c.title), *map(len, cells[c.key])])
            widths[i] = max(MIN_FLEXIBLE, min(needed, room - fixed))
    yield _table_line([c.title for c in shown], shown, widths)
    for row in range(len(records)):
        yield _table_line([cells[c.key][row] for c in shown], shown, widths)


def table_record(record: Record) -> Record:
    """A record as the table shows it: a duplicate's status names its original."""
    if record.get("status") == "duplicate" and record.get("duplicate_of") is not None:
        return {**record, "status": f"dup of {record['duplicate_of']}"}
    return record


MIN_FLEXIBLE = 12


def _table_line(values: Sequence[str], columns: Sequence[Column], widths: Sequence[int]) -> str:
    parts = []
    for value, column, width in zip(values, columns, widths, strict=True):
        text = truncate(value, width)
        parts.append(text.rjust(width) if column.right else text.ljust(width))
    return "  ".join(parts).rstrip()


def truncate(text: str, width: int) -> str:
    """Keep both ends of a long name: the extension says as much as the start."""
    if len(text) <= width:
        return text
    if width <= 3:
        return text[:width]
    tail = min(len(text) // 3, (width - 1) // 3)
    head = width - 1 - tail
    return text[:head] + "…" + (text[-tail:] if tail else "")


def _table_cell(value: Any, *, time: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    if time:
        return str(value)[:19].replace("T", " ")
    return str(value)


HISTORY_COLUMNS: tuple[Column, ...] = (
    Column("id", "id", 10, right=True),
    Column("created (UTC)", "created_at", 19, time=True),
    Column("file", "filename", 200, flexible=True),
    Column("label", "label", 11),
    Column("corrected", "corrected_label", 11, drop=2),
    Column("conf", "confidence", 5, right=True),
    Column("status", "status", 14, drop=1),
    Column("model", "model_version", 8, drop=3),
)
