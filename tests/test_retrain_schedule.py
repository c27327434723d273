from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from daemon.config import load_config
from daemon.errors import ConfigError
from daemon.schedule import Cron, ScheduleError, parse_schedule


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "after", "expected"),
    [
        ("every 24h", "2026-03-01 14:05:30", "2026-03-02 14:05:30"),
        ("every 90m", "2026-03-01 23:00", "2026-03-02 00:30"),
        ("every 2d", "2026-02-27 08:00", "2026-03-01 08:00"),
        ("  Every  6 H ", "2026-03-01 00:00", "2026-03-01 06:00"),
        ("daily 03:00", "2026-03-01 02:59", "2026-03-01 03:00"),
        ("daily 03:00", "2026-03-01 03:00", "2026-03-02 03:00"),
        ("daily 3:07", "2026-12-31 22:00", "2027-01-01 03:07"),
        ("*/15 * * * *", "2026-03-01 10:07", "2026-03-01 10:15"),
        ("*/15 * * * *", "2026-03-01 10:45", "2026-03-01 11:00"),
        ("0 3 * * *", "2026-03-01 03:00", "2026-03-02 03:00"),
        ("30 2 1 * *", "2026-01-15 00:00", "2026-02-01 02:30"),
        ("0 9-17/4 * * *", "2026-03-01 13:01", "2026-03-01 17:00"),
        ("5,10,50 * * * *", "2026-03-01 10:11", "2026-03-01 10:50"),
        ("0 0 * * 0", "2026-03-02 00:00", "2026-03-08 00:00"),  # 2026-03-08 is a Sunday
        ("0 0 * * 7", "2026-03-02 00:00", "2026-03-08 00:00"),  # 7 is Sunday too
        ("0 0 * * 1-5", "2026-03-06 12:00", "2026-03-09 00:00"),  # Friday -> Monday
        ("0 0 29 2 *", "2026-03-01 00:00", "2028-02-29 00:00"),
        # Day and weekday both restricted: either matches (the 13th, or any Friday).
        ("0 12 13 * 5", "2026-03-01 00:00", "2026-03-06 12:00"),
        ("0 12 13 * 5", "2026-03-06 12:00", "2026-03-13 12:00"),
        ("10/20 * * * *", "2026-03-01 10:31", "2026-03-01 10:50"),
    ],
)
def test_next_run(text: str, after: str, expected: str) -> None:
    schedule = parse_schedule(text, tz=UTC)
    assert schedule.next_run(at(after)) == at(expected)


def test_daily_and_cron_read_the_wall_clock_of_their_zone() -> None:
    paris = ZoneInfo("Europe/Paris")
    schedule = parse_schedule("daily 03:00", tz=paris)
    # 03:00 in Paris is 02:00 UTC in winter and 01:00 UTC in summer.
    assert schedule.next_run(at("2026-01-10 12:00")) == at("2026-01-11 02:00")
    assert schedule.next_run(at("2026-07-10 12:00")) == at("2026-07-11 01:00")
    cron = parse_schedule("0 3 * * *", tz=paris)
    assert cron.next_run(at("2026-07-10 12:00")) == at("2026-07-11 01:00")


def test_naive_times_are_utc_and_results_are_aware() -> None:
    result = parse_schedule("every 1h").next_run(datetime(2026, 3, 1, 10, 0))
    assert result == at("2026-03-01 11:00")
    local = parse_schedule("daily 03:00").next_run(datetime.now(UTC))
    assert local.tzinfo is not None
    assert timedelta(0) < local - datetime.now(UTC) <= timedelta(days=1, hours=1)


def test_cron_fields_expand_ranges_lists_and_steps() -> None:
    cron = Cron.parse("0-10/5,30 */6 1,15 1-3 *")
    assert cron.minutes.values == {0, 5, 10, 30}
    assert cron.hours.values == {0, 6, 12, 18}
    assert cron.days.values == {1, 15}
    assert cron.months.values == {1, 2, 3}
    assert cron.weekdays.star


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("every day", "is not 'every <n>m'"),
        ("every 0h", "greater than 0"),
        ("every 5s", "is not 'every <n>m'"),
        ("daily 25:00", "is not a time of day"),
        ("daily 3pm", "is not 'daily HH:MM'"),
        ("weekly", "is not 'every"),
        ("* * * *", "is not 'every"),
        ("61 * * * *", "minute '61': 61 is outside 0-59"),
        ("* 24 * * *", "hour '24': 24 is outside 0-23"),
        ("* * 0 * *", "day '0': 0 is outside 1-31"),
        ("* * * 13 *", "month '13'"),
        ("* * * * 8", "weekday '8'"),
        ("*/0 * * * *", "the step must be at least 1"),
        ("10-5 * * * *", "runs backwards"),
        ("* * * jan *", "not a number"),
        ("1,,2 * * * *", "not a number"),
    ],
)
def test_malformed_schedules_say_why(text: str, reason: str) -> None:
    with pytest.raises(ScheduleError) as error:
        parse_schedule(text)
    assert reason in str(error.value)


def test_a_date_that_never_comes_is_an_error() -> None:
    with pytest.raises(ScheduleError, match="never matches"):
        parse_schedule("0 0 30 2 *", tz=UTC).next_run(at("2026-01-01 00:00"))


def test_a_bad_schedule_is_a_config_error_naming_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("retrain:\n  schedule: every 5 fortnights\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(path) in str(error.value)
    assert "retrain.schedule: expected 'every <n>m|h|d'" in str(error.value)
    assert error.value.hint is not None
    assert "'every 5 fortnights'" in error.value.hint


@pytest.mark.parametrize("text", ["every 24h", "daily 03:00", "0 3 * * 1-5"])
def test_each_form_loads_from_config(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"retrain:\n  schedule: '{text}'\n")
    assert load_config(path).retrain.schedule == text


def test_a_bad_schedule_stops_a_command_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from daemon.cli import main

    path = tmp_path / "config.yaml"
    path.write_text("retrain:\n  schedule: '0 25 * * *'\n")
    assert main(["retrain", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"error: {path}: retrain.schedule: expected")
    assert "hour '25': 25 is outside 0-23" in err
