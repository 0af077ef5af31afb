"""schedule: values as Digdag's documentation writes them."""

from __future__ import annotations

import pytest

from dockerflow.dig.schedule import parse_schedule
from dockerflow.errors import DigError


def parse(config):
    return parse_schedule(config, DigError)


@pytest.mark.parametrize("config, delay", [
    ({"weekly>": "Sun, 10:00:00"}, 36000),
    ({"weekly>": "Sun,10:00:00"}, 36000),
    ({"monthly>": "1, 09:00:00"}, 32400),
    ({"daily>": " 07:00:00 "}, 25200),
    ({"hourly>": "30:00"}, 1800),
])
def test_spaces_after_the_comma_are_trimmed(config, delay):
    assert parse(config).delay == delay


def test_bad_values_are_still_refused():
    with pytest.raises(DigError, match="hh:mm:ss"):
        parse({"weekly>": "Sun, 10h"})
