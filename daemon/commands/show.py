"""`fashiond show ID`: everything known about one prediction."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon.commands.options import add_config_option, add_db_option, opened_database
from daemon.db.schema import Correction, Prediction, PredictionRevision
from daemon.errors import UsageError
from daemon.prediction_records import format_time
from nnet.model import CLASS_NAMES

TOP = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    add_db_option(parser)
    parser.add_argument("id", type=int, metavar="ID", help="prediction id, as history shows it")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="default: text")


def run(args: argparse.Namespace) -> int:
    with opened_database(args) as (_config, db), db.sessions.begin() as session:
        details = prediction_details(session, args.id)
    if args.format == "json":
        json.dump(details, sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        for line in details_lines(details):
            print(line)
    return 0


def prediction_details(session: Session, prediction_id: int) -> dict[str, Any]:
    prediction = session.get(Prediction, prediction_id)
    if prediction is None:
        raise UsageError(
            f"no prediction with id {prediction_id}", hint="'fashiond history' lists the ids"
        )
    fields = {
        column.key: getattr(prediction, column.key) for column in Prediction.__mapper__.columns
    }
    fields["created_at"] = format_time(prediction.created_at)
    revisions = session.scalars(
        select(PredictionRevision)
        .where(PredictionRevision.prediction_id == prediction_id)
        .order_by(PredictionRevision.superseded_at.desc(), PredictionRevision.id.desc())
    )
    corrections = session.scalars(
        select(Correction)
        .where(Correction.prediction_id == prediction_id)
        .order_by(Correction.created_at, Correction.id)
    )
    probabilities = prediction.probabilities
    if prediction.status == "duplicate" and prediction.duplicate_of is not None:
        # The daemon did not predict a duplicate again: it shares its original's answer.
        original = session.get(Prediction, prediction.duplicate_of)
        if original is not None and not probabilities:
            probabilities = original.probabilities
    return {
        **fields,
        "top": top_classes(probabilities),
        "revisions": [
            {
                "model_version": r.model_version,
                "label": r.label,
                "confidence": r.confidence,
                "status": r.status,
                "error": r.error,
                "top": top_classes(r.probabilities),
                "created_at": format_time(r.created_at),
                "superseded_at": format_time(r.superseded_at),
            }
            for r in revisions
        ],
        "corrections": [
            {
                "id": c.id,
                "previous_label": c.previous_label,
                "label": c.label,
                "pixels": f"{c.height}x{c.width}" if c.pixels is not None else None,
                "moved_to": c.moved_to,
                "created_at": format_time(c.created_at),
            }
            for c in corrections
        ],
    }


def top_classes(probabilities: list[float] | None, n: int = TOP) -> list[dict[str, Any]]:
    if not probabilities:
        return []
    names = CLASS_NAMES if len(probabilities) == len(CLASS_NAMES) else None
    ranked = sorted(enumerate(probabilities), key=lambda p: p[1], reverse=True)[:n]
    return [
        {"label": names[i] if names else str(i), "index": i, "probability": p} for i, p in ranked
    ]


def details_lines(details: dict[str, Any]) -> list[str]:
    skip = {"id", "top", "revisions", "corrections", "probabilities"}
    lines = [f"prediction {details['id']}"]
    for key, value in details.items():
        if key not in skip:
            lines.append(f"  {key:<16} {'-' if value is None else value}")
    if details["probabilities"]:
        names = CLASS_NAMES if len(details["probabilities"]) == len(CLASS_NAMES) else None
        lines.append(
            "  probabilities    "
            + ", ".join(
                f"{names[i] if names else i} {p:.3f}"
                for i, p in enumerate(details["probabilities"])
            )
        )
    original = details["duplicate_of"] if details["status"] == "duplicate" else None
    if original is not None:
        lines.append(f"duplicate of #{original} (same bytes): the model's answer is that item's")
    if details["top"]:
        lines.append(f"top {TOP}:" + (f" (of #{original})" if original is not None else ""))
    else:
        lines.append("top classes: none (no prediction)")
    lines.extend(f"  {t['label']:<12} {t['probability']:7.2%}" for t in details["top"])
    if details["revisions"]:
        lines.append("earlier predictions (superseded by reprocess, newest first):")
        for r in details["revisions"]:
            lines.append(
                f"  {r['model_version'] or '-':<8} {r['label'] or '-':<12} "
                f"{_confidence(r['confidence'])}  {r['status']:<9} made {r['created_at']}"
                f"  superseded {r['superseded_at']}"
            )
    if details["corrections"]:
        lines.append("corrections:")
        for c in details["corrections"]:
            pixels = f"pixels {c['pixels']}" if c["pixels"] else "no pixels"
            lines.append(
                f"  #{c['id']:<5} {c['created_at']}  {c['previous_label'] or '-'} -> "
                f"{c['label']}  ({pixels})"
            )
    return lines


def _confidence(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.3f}"
