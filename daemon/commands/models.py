"""`fashiond models`: list model versions, show one, promote one, or roll back.

Promote and rollback repoint the `current` symlink; a running daemon checks it
before each batch, so it switches within one batch, with no restart.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from daemon.commands.options import add_config_option, add_db_option, config_from, database_url
from daemon.db.database import open_database
from daemon.db.schema import ModelVersion
from daemon.errors import UsageError
from daemon.model_registry import ModelStore, all_versions, find_version, promote, rollback
from daemon.retrain_report import report_files
from daemon.retraining import running_pid

SWITCH_NOTE = "a running daemon switches before its next batch"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        nargs="?",
        default="list",
        choices=tuple(_HANDLERS),
        help="list (the default); show V: figures and report files; promote V: deploy V; "
        "rollback: go back to the deployed version's parent",
    )
    parser.add_argument("version", nargs="?", metavar="V", help="a version, e.g. v0003")
    add_config_option(parser)
    add_db_option(parser)


def run(args: argparse.Namespace) -> int:
    needs_version = args.action in ("show", "promote")
    if needs_version != (args.version is not None):
        wanted = f"'models {args.action}' takes a version" if needs_version else None
        raise UsageError(
            wanted or f"'models {args.action}' takes no version",
            hint="e.g. 'fashiond models show v0003'; 'fashiond models' lists them",
        )
    config = config_from(args)
    db = open_database(database_url(args, config))
    try:
        with db.sessions.begin() as session:
            for line in _HANDLERS[args.action](session, ModelStore(config.model), args.version):
                print(line)
    finally:
        db.dispose()
    return 0


def _list(session: Session, store: ModelStore, _version: str | None) -> list[str]:
    rows = all_versions(session)
    if not rows:
        return ["no model versions yet (train one, then 'fashiond retrain')"]
    deployed, pid = store.pointed_version(), running_pid(store.folder)
    header = f"  {'VERSION':<8} {'STATUS':<10} {'CREATED (UTC)':<16} {'PARENT':<7} "
    header += f"{'ARCH':<5} {'EP':>3} {'TEST':>7} {'CORR':>7} {'SECS':>6}  REASON"
    lines = [header]
    for row in rows:
        mark = "*" if row.version == deployed else " "
        lines.append(
            f"{mark} {row.version:<8} {row.status:<10} {_when(row.created_at):<16} "
            f"{row.parent_version or '-':<7} {row.arch:<5} {_int(row.epochs):>3} "
            f"{_pct(row.test_accuracy):>7} {_pct(row.corrections_accuracy):>7} "
            f"{_secs(row.training_seconds):>6}  {_reason(row, store, pid)}"
        )
    lines.append(f"* = deployed ({store.pointer})")
    return lines


def _show(session: Session, store: ModelStore, version: str | None) -> list[str]:
    row = find_version(session, str(version))
    file = store.file_for(row.version)
    lines = [
        f"version:              {row.version}" + (" (deployed)" if _deployed(row, store) else ""),
        f"status:               {row.status}",
        f"reason:               {row.reason or '-'}",
        f"created:              {_when(row.created_at)} UTC",
        f"finished:             {_when(row.finished_at)} UTC",
        f"trigger:              {row.trigger or '- (registered when first served)'}",
        f"parent:               {row.parent_version or '-'}",
        f"arch, epochs:         {row.arch}, {_int(row.epochs)}",
        f"test accuracy:        {_pct(row.test_accuracy)}",
        f"corrections accuracy: {_pct(row.corrections_accuracy)}",
        f"training seconds:     {_secs(row.training_seconds)}",
        f"file:                 {file}" + ("" if file.is_file() else " (removed)"),
    ]
    files = report_files(store.report_for(row.version))
    for name, path in files.items():
        lines.append(f"{name + ':':<22}{path}" + ("" if path.exists() else " (none)"))
    if files["report"].exists():
        report = json.loads(files["report"].read_text(encoding="utf-8"))
        current = report.get("current") or {}
        lines.append(
            f"compared with:        {report.get('parent') or '-'}: test accuracy "
            f"{_pct(current.get('test_accuracy'))}, corrections accuracy "
            f"{_pct(current.get('corrections_accuracy'))}"
        )
        lines.append(f"warm start:           {report.get('warm_start')}")
    return lines


def _promote(session: Session, store: ModelStore, version: str | None) -> list[str]:
    row = promote(session, store, str(version), reason="promoted by the user")
    return [f"deployed {row.version}; {SWITCH_NOTE}"]


def _rollback(session: Session, store: ModelStore, _version: str | None) -> list[str]:
    left, back = rollback(session, store)
    return [f"rolled back from {left.version} to {back.version}; {SWITCH_NOTE}"]


_Handler = Callable[[Session, ModelStore, str | None], list[str]]
_HANDLERS: dict[str, _Handler] = {
    "list": _list,
    "show": _show,
    "promote": _promote,
    "rollback": _rollback,
}


def _reason(row: ModelVersion, store: ModelStore, pid: int | None) -> str:
    if row.status == "candidate":
        if pid is not None:
            return f"training (pid {pid})"
        return "its run died; it is marked failed at the next retrain"
    reason = row.reason or ""
    if row.status in ("rejected", "retired") and not store.file_for(row.version).is_file():
        reason += " [file removed]"
    return reason


def _deployed(row: ModelVersion, store: ModelStore) -> bool:
    return store.pointed_version() == row.version


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else "-"


def _pct(value: float | None) -> str:
    return f"{value:.2%}" if value is not None else "-"


def _int(value: int | None) -> str:
    return str(value) if value is not None else "-"


def _secs(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "-"
