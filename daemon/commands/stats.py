"""`fashiond stats`: what the daemon has seen, and how often users agreed with it."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from daemon.commands.options import add_config_option, add_db_option, opened_database
from daemon.errors import UsageError
from daemon.history_filters import add_filter_arguments, filter_from_args
from daemon.history_stats import (
    HISTOGRAM_BINS,
    NO_LABEL,
    HistoryStats,
    deployed_model,
    history_stats,
)
from daemon.prediction_records import format_time

DAYS_SHOWN = 30
BAR = 30  # characters of the longest bar


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    add_db_option(parser)
    add_filter_arguments(parser, sort=False)
    parser.add_argument("--format", choices=("text", "json"), default="text", help="default: text")
    parser.add_argument("--plot", type=Path, metavar="FILE", help="also draw the figures as a PNG")
    parser.add_argument(
        "--days",
        type=int,
        default=DAYS_SHOWN,
        metavar="N",
        help=f"volume for the last N days of history, 0 for all (default {DAYS_SHOWN})",
    )


def run(args: argparse.Namespace) -> int:
    where = filter_from_args(args)
    if args.days < 0:
        raise UsageError(
            f"--days {args.days} is negative", hint="give a number of days, or 0 for all days"
        )
    if args.plot is not None and not args.plot.resolve().parent.is_dir():
        raise UsageError(f"cannot write {args.plot}: its folder does not exist")
    with opened_database(args) as (config, db), db.sessions.begin() as session:
        stats = history_stats(
            session,
            where=where,
            deployed=deployed_model(session, config.model),
            days=args.days or None,
        )
    if args.format == "json":
        json.dump(stats_json(stats), sys.stdout, indent=2, default=str)
        print()
    else:
        for line in stats_lines(stats):
            print(line)
    if args.plot is not None:
        from daemon.plots.stats import stats_png

        stats_png(stats, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


def stats_json(stats: HistoryStats) -> dict[str, Any]:
    data = asdict(stats)
    data["by_label"] = dict((label or NO_LABEL, n) for label, n in stats.by_label)
    data["by_status"] = dict(stats.by_status)
    data["per_day"] = dict(stats.per_day)
    data["corrected_by_label"] = dict(stats.corrected_by_label)
    data["confidence_histogram"] = {
        f"{i / HISTOGRAM_BINS:.1f}-{(i + 1) / HISTOGRAM_BINS:.1f}": n
        for i, n in enumerate(stats.confidence_histogram)
    }
    for version, usage in zip(data["versions"], stats.versions, strict=True):
        version["accuracy"] = usage.accuracy
        version["first_at"] = format_time(usage.first_at)
        version["last_at"] = format_time(usage.last_at)
    deployed = stats.deployed_usage()
    data["deployed_accuracy"] = deployed.accuracy if deployed else None
    return data


def stats_lines(stats: HistoryStats) -> list[str]:
    lines = [f"predictions: {stats.total:,}   corrections: {stats.corrections:,}", ""]
    lines += _bars("by label", [(label or NO_LABEL, n) for label, n in stats.by_label])
    lines += _bars("by status", stats.by_status)
    edges = [f"{i / HISTOGRAM_BINS:.1f}-{(i + 1) / HISTOGRAM_BINS:.1f}" for i in range(10)]
    lines += _bars("confidence", list(zip(edges, stats.confidence_histogram, strict=True)))
    lines += _bars("per day (UTC)", stats.per_day)
    if stats.corrected_by_label:
        lines += _bars("corrected to", stats.corrected_by_label)
    lines.append("model versions:")
    lines.append(f"  {'version':<10} {'items':>10}  {'first':<10}  {'last':<10}  vs corrections")
    for v in stats.versions:
        first = v.first_at.date().isoformat() if v.first_at else "-"
        last = v.last_at.date().isoformat() if v.last_at else "-"
        agreement = f"{v.accuracy:.1%} of {v.judged:,}" if v.accuracy is not None else "-"
        lines.append(
            f"  {v.version or '-':<10} {v.predictions:>10,}  {first:<10}  {last:<10}  {agreement}"
        )
    lines.append("")
    lines.append(_deployed_line(stats))
    return lines


def _deployed_line(stats: HistoryStats) -> str:
    deployed = stats.deployed
    if deployed is None:
        return "deployed model: unknown"
    if deployed.version is None:
        return f"deployed model: {deployed.path} ({deployed.note})"
    usage = stats.deployed_usage()
    if usage is None or usage.accuracy is None:
        return f"deployed model: {deployed.version}: no corrections of its predictions yet"
    return (
        f"deployed model: {deployed.version}: accuracy against corrections "
        f"{usage.accuracy:.1%} ({usage.agreed:,} of {usage.judged:,} corrected items)"
    )


def _bars(title: str, rows: list[tuple[str, int]]) -> list[str]:
    lines = [f"{title}:"]
    if not rows:
        return [*lines, "  (none)", ""]
    top = max(n for _, n in rows) or 1
    total = sum(n for _, n in rows) or 1
    width = max(len(name) for name, _ in rows)
    for name, n in rows:
        bar = "█" * round(BAR * n / top)
        lines.append(f"  {name:<{width}} {n:>10,} {n / total:6.1%}  {bar}")
    return [*lines, ""]
