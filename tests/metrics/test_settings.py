"""Settings: the shipped example loads, and mistakes get clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from metrics.settings import Settings, SettingsError

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "ccmetrics.toml"


def test_the_shipped_example_loads() -> None:
    settings = Settings.load(EXAMPLE)
    assert settings.for_queue("sales").service_level_threshold_seconds == 30
    assert settings.for_queue("sales").timezone == "Asia/Jerusalem"  # inherits [defaults]
    assert settings.for_queue("anything").service_level_threshold_seconds == 20
    assert 30.0 in settings.wait_buckets_seconds()  # a histogram bucket at every T


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[defaults]\ntimezone = 'Mars/Olympus'\n", "IANA"),
        ("[defaults]\nservice_level_target = 80\n", "service_level_target"),
        ("[defaults]\nwindows = ['5 minutes']\n", "duration"),
        ("[defaults]\nwindows = ['today']\n", "always there"),
        ("[defaults]\nservice_level_rule = 'generous'\n", "service_level_rule"),
        ("[queues.sales]\nthreshold = 30\n", "unknown setting"),
        ("[defaults\n", "not valid TOML"),
    ],
)
def test_mistakes_are_explained(text: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_toml(text)
