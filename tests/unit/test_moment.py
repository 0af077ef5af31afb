"""dockerflow's own `moment` (dockerflow/expr/moment.js), checked through `${...}` templates.

Reference instant, as in Digdag's eval fixtures: 2016-03-13T10:00:00Z (that morning the US
switched to daylight saving time).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from dockerflow.errors import ExprError
from dockerflow.expr import Evaluator
from dockerflow.expr.zones import zone_json

NOW = datetime(2016, 3, 13, 10, 0, 0, tzinfo=timezone.utc)
PARAMS = {
    "session_time": "2016-01-02T03:04:05+00:00",
    "jst_time": "2016-01-02T03:04:05+09:00",
}

_evaluators: dict[str, Evaluator] = {}


def js(expr: str, tz: str = "UTC") -> str:
    """The text of `${expr}` with moment's default zone `tz` and now = NOW."""
    if tz not in _evaluators:
        _evaluators[tz] = Evaluator(tz, NOW)
    return _evaluators[tz].render("${" + expr + "}", PARAMS)


# -- §9 item 40 -----------------------------------------------------------------------------

def test_spec_examples() -> None:
    assert js("moment().format()") == "2016-03-13T10:00:00+00:00"
    assert js("moment().format()", "Asia/Tokyo") == "2016-03-13T19:00:00+09:00"
    assert js("moment().format()", "America/Los_Angeles") == "2016-03-13T03:00:00-07:00"
    assert js("moment().subtract(1, 'days').format()", "America/Los_Angeles") == "2016-03-12T03:00:00-08:00"
    assert js("moment().utc().format()") == "2016-03-13T10:00:00Z"
    assert js("moment().format('LLL')") == "March 13, 2016 10:00 AM"


def test_offset_timezone() -> None:
    assert js("moment().format()", "+09:00") == "2016-03-13T19:00:00+09:00"
    assert js("moment(session_time).format()", "-05:30") == "2016-01-01T21:34:05-05:30"


def test_now_defaults_to_the_real_time() -> None:
    ev = Evaluator("UTC")
    before = datetime.now(timezone.utc).timestamp()
    value = int(ev.render("${moment().unix()}", {}))
    after = datetime.now(timezone.utc).timestamp()
    assert int(before) - 1 <= value <= int(after) + 1


# -- parsing --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("moment(session_time).format()", "2016-01-02T03:04:05+00:00"),
        ("moment(jst_time).format()", "2016-01-01T18:04:05+00:00"),
        ("moment('2016-01-02').format()", "2016-01-02T00:00:00+00:00"),
        ("moment('2016-01-02T03:04').format()", "2016-01-02T03:04:00+00:00"),
        ("moment('2016-01-02 03:04:05').format()", "2016-01-02T03:04:05+00:00"),
        ("moment('2016-01-02T03:04:05.250Z').format('ss.SSS')", "05.250"),
        ("moment('2016-01-02T03:04:05-0800').format()", "2016-01-02T11:04:05+00:00"),
        ("moment('20160102T030405Z').format()", "2016-01-02T03:04:05+00:00"),
        ("moment('2016-01').format()", "2016-01-01T00:00:00+00:00"),
        ("moment(1451703845000).format()", "2016-01-02T03:04:05+00:00"),
        ("moment(new Date(1451703845000)).format()", "2016-01-02T03:04:05+00:00"),
        ("moment([2016, 0, 31, 5]).format()", "2016-01-31T05:00:00+00:00"),
        ("moment({year: 2016, month: 1, day: 3}).format()", "2016-02-03T00:00:00+00:00"),
        ("moment.unix(1451703845).format()", "2016-01-02T03:04:05+00:00"),
        ("moment.utc('2016-01-02').format()", "2016-01-02T00:00:00Z"),
        ("moment.parseZone(jst_time).format()", "2016-01-02T03:04:05+09:00"),
        ("moment(moment(session_time)).format()", "2016-01-02T03:04:05+00:00"),
    ],
)
def test_parse(expr: str, expected: str) -> None:
    assert js(expr) == expected


def test_parse_in_default_zone() -> None:
    assert js("moment('2016-01-02').format()", "Asia/Tokyo") == "2016-01-02T00:00:00+09:00"
    assert js("moment(session_time).format()", "Asia/Tokyo") == "2016-01-02T12:04:05+09:00"
    assert js("moment(jst_time).format()", "Asia/Tokyo") == "2016-01-02T03:04:05+09:00"
    assert js("moment.unix(1451703845).format()", "Asia/Tokyo") == "2016-01-02T12:04:05+09:00"


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("moment('20160102', 'YYYYMMDD')", "2016-01-02T00:00:00+00:00"),
        ("moment('2016/01/02 13:14', 'YYYY/MM/DD HH:mm')", "2016-01-02T13:14:00+00:00"),
        ("moment('2016-1-2', 'YYYY-MM-DD')", "2016-01-02T00:00:00+00:00"),
        ("moment('2016/01/02', 'YYYY-MM-DD')", "2016-01-02T00:00:00+00:00"),
        ("moment('01/02/2016 1:14 pm', 'MM/DD/YYYY h:mm a')", "2016-01-02T13:14:00+00:00"),
        ("moment('12:30 AM 01/02/16', 'hh:mm A MM/DD/YY')", "2016-01-02T00:30:00+00:00"),
        ("moment('Jan 2, 2016', 'MMM D, YYYY')", "2016-01-02T00:00:00+00:00"),
        ("moment('2 January 2016', 'D MMMM YYYY')", "2016-01-02T00:00:00+00:00"),
        ("moment('2nd of March 2016', 'Do [of] MMMM YYYY')", "2016-03-02T00:00:00+00:00"),
        ("moment('2016-01-02 03:04:05 +09:00', 'YYYY-MM-DD HH:mm:ss Z')", "2016-01-01T18:04:05+00:00"),
        ("moment('1451703845', 'X')", "2016-01-02T03:04:05+00:00"),
        ("moment('1451703845000', 'x')", "2016-01-02T03:04:05+00:00"),
        ("moment('10:30', 'HH:mm')", "2016-03-13T10:30:00+00:00"),
        ("moment('03-04', 'MM-DD')", "2016-03-04T00:00:00+00:00"),
        ("moment('2016', 'YYYY')", "2016-01-01T00:00:00+00:00"),
        ("moment('70', 'YY')", "1970-01-01T00:00:00+00:00"),
        ("moment('2016-02-30', ['YYYY-MM-DD', 'YYYY-DD-MM'])", "2016-30-02"),
        ("moment('2016-01-02', ['MM/DD/YYYY', 'YYYY-MM-DD'])", "2016-01-02T00:00:00+00:00"),
    ],
)
def test_parse_with_format(expr: str, expected: str) -> None:
    result = js(expr + ".format()")
    if expected == "2016-30-02":  # neither format fits
        assert result == "Invalid date"
    else:
        assert result == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2016/03/13", "2016-03-13T00:00:00+09:00"),
        ("2016/3/13 10:00 +0100", "2016-03-13T18:00:00+09:00"),
        ("3/13/2016 1:05 PM", "2016-03-13T13:05:00+09:00"),
        ("March 13, 2016", "2016-03-13T00:00:00+09:00"),
        ("Mar 13 2016 10:00", "2016-03-13T10:00:00+09:00"),
        ("Sun, 13 Mar 2016 10:00:00 +0000", "2016-03-13T19:00:00+09:00"),
        ("Sun, 13 Mar 2016 10:00:00 GMT", "2016-03-13T19:00:00+09:00"),
        ("Sun Mar 13 2016 10:00:00 GMT+0000", "2016-03-13T19:00:00+09:00"),
        ("garbage", "Invalid date"),
        ("2016/13/45", "Invalid date"),
    ],
)
def test_parse_other_common_shapes(text: str, expected: str) -> None:
    assert js(f"moment('{text}').format()", "Asia/Tokyo") == expected


def test_strict_parsing() -> None:
    assert js("moment('2016-01-02', 'YYYY-MM-DD', true).isValid()") == "true"
    assert js("moment('2016-1-2', 'YYYY-MM-DD', true).isValid()") == "false"
    assert js("moment('2016-01-02 extra', 'YYYY-MM-DD', true).isValid()") == "false"


def test_invalid_dates() -> None:
    assert js("moment('not a date').format()") == "Invalid date"
    assert js("moment('not a date').isValid()") == "false"
    assert js("moment('2016-13-02', 'YYYY-MM-DD').isValid()") == "false"
    assert js("moment('2016-02-30').isValid()") == "false"
    assert js("moment(null).isValid()") == "false"
    assert js("moment.invalid().toISOString()") == ""


# -- formatting -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("YYYY YY M MM MMM MMMM", "2016 16 3 03 Mar March"),
        ("D DD Do d ddd dddd dd", "13 13 13th 0 Sun Sunday Su"),
        ("H HH h hh m mm s ss SSS A a", "10 10 10 10 0 00 0 00 000 AM am"),
        ("Z ZZ", "+00:00 +0000"),
        ("X x", "1457863200 1457863200000"),
        ("[today is] dddd, [the] Do [of] MMMM", "today is Sunday, the 13th of March"),
        ("YYYY-MM-DD[T]HH:mm:ss", "2016-03-13T10:00:00"),
        ("YYYYMMDD", "20160313"),
        ("LT", "10:00 AM"),
        ("LTS", "10:00:00 AM"),
        ("L", "03/13/2016"),
        ("LL", "March 13, 2016"),
        ("LLL", "March 13, 2016 10:00 AM"),
        ("LLLL", "Sunday, March 13, 2016 10:00 AM"),
        ("l ll", "3/13/2016 Mar 13, 2016"),
        ("lll", "Mar 13, 2016 10:00 AM"),
        ("llll", "Sun, Mar 13, 2016 10:00 AM"),
        ("Q Qo DDD DDDD E e k kk", "1 1st 73 073 7 0 10 10"),
        ("w ww W WW gggg GGGG", "12 12 10 10 2016 2016"),
        ("[YYYY] [[x]", "YYYY [x"),
    ],
)
def test_format_tokens(fmt: str, expected: str) -> None:
    assert js(f"moment().format('{fmt}')") == expected


def test_format_afternoon_and_midnight() -> None:
    assert js("moment('2016-01-02T15:04:05Z').format('h hh A a k')") == "3 03 PM pm 15"
    assert js("moment('2016-01-02T00:04:05Z').format('h hh A H k')") == "12 12 AM 0 24"


def test_ordinals() -> None:
    days = ",".join(js(f"moment('2016-01-{d:02d}').format('Do')") for d in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31))
    assert days == "1st,2nd,3rd,4th,11th,12th,13th,21st,22nd,23rd,31st"


def test_week_numbers() -> None:
    # Saturday 2016-01-02: locale week 1 of 2016; ISO week 53 of 2015
    assert js("moment(session_time).format('w W gggg GGGG')") == "1 53 2016 2015"
    assert js("moment(session_time).week() + '/' + moment(session_time).isoWeek()") == "1/53"
    assert js("moment('2016-12-31').format('w gggg W GGGG')") == "53 2016 52 2016"
    assert js("moment('2018-12-31').format('w gggg W GGGG')") == "1 2019 1 2019"


def test_zone_abbreviations() -> None:
    assert js("moment().format('z')", "America/Los_Angeles") == "PDT"
    assert js("moment().subtract(1, 'd').format('zz')", "America/Los_Angeles") == "PST"
    assert js("moment().tz('Asia/Tokyo').format('z')") == "JST"
    assert js("moment().utc().format('z')", "Asia/Tokyo") == "UTC"


def test_default_string_forms() -> None:
    assert js("moment(session_time).toISOString()") == "2016-01-02T03:04:05.000Z"
    assert js("moment(session_time).toISOString()", "Asia/Tokyo") == "2016-01-02T03:04:05.000Z"
    assert js("moment(session_time).toString()") == "Sat Jan 02 2016 03:04:05 GMT+0000"
    assert js("moment(session_time).toString()", "Asia/Tokyo") == "Sat Jan 02 2016 12:04:05 GMT+0900"
    assert js("moment(session_time).toJSON()") == "2016-01-02T03:04:05.000Z"
    assert js("moment(session_time)") == '"2016-01-02T03:04:05.000Z"'  # objects print as JSON
    assert js("'' + moment(session_time)") == "1451703845000"  # the + uses valueOf


# -- getters, setters, conversion -----------------------------------------------------------

def test_getters() -> None:
    got = js("[moment(session_time).year(), moment(session_time).month(), moment(session_time).date(),"
             " moment(session_time).day(), moment(session_time).hour(), moment(session_time).minute(),"
             " moment(session_time).second(), moment(session_time).millisecond()].join(',')")
    assert got == "2016,0,2,6,3,4,5,0"
    assert js("moment(session_time).hour()", "Asia/Tokyo") == "12"
    assert js("moment(session_time).get('year')") == "2016"
    assert js("moment(session_time).dayOfYear()") == "2"
    assert js("moment(session_time).daysInMonth()") == "31"
    assert js("moment('2016-02-10').daysInMonth()") == "29"
    assert js("moment(session_time).quarter()") == "1"
    assert js("moment(session_time).isoWeekday()") == "6"
    assert js("moment(session_time).isLeapYear()") == "true"
    assert js("moment(session_time).toArray()") == "[2016,0,2,3,4,5,0]"


def test_setters() -> None:
    assert js("moment(session_time).hour(5).format()") == "2016-01-02T05:04:05+00:00"
    assert js("moment(session_time).set('minute', 30).format()") == "2016-01-02T03:30:05+00:00"
    assert js("moment(session_time).set({year: 2017, month: 5}).format()") == "2017-06-02T03:04:05+00:00"
    assert js("moment('2016-01-31').month(1).format('YYYY-MM-DD')") == "2016-02-29"
    assert js("moment(session_time).date(40).format('YYYY-MM-DD')") == "2016-02-09"
    assert js("moment(session_time).day(1).format('YYYY-MM-DD')") == "2015-12-28"


def test_unix_and_value() -> None:
    assert js("moment(session_time).unix()") == "1451703845"
    assert js("moment(session_time).valueOf()") == "1451703845000"
    assert js("moment(session_time).format('X')") == "1451703845"
    assert js("+moment(session_time)") == "1451703845000"


def test_utc_local_tz_and_offsets() -> None:
    assert js("moment(session_time).utc().format()", "Asia/Tokyo") == "2016-01-02T03:04:05Z"
    assert js("moment(session_time).utc().local().format()", "Asia/Tokyo") == "2016-01-02T12:04:05+09:00"
    assert js("moment(session_time).tz('America/New_York').format()") == "2016-01-01T22:04:05-05:00"
    assert js("moment.tz(session_time, 'Asia/Tokyo').format()") == "2016-01-02T12:04:05+09:00"
    assert js("moment.tz('2016-01-02 03:04:05', 'Asia/Tokyo').format()") == "2016-01-02T03:04:05+09:00"
    assert js("moment.tz('2016-01-02 03:04', 'YYYY-MM-DD HH:mm', 'Asia/Tokyo').utc().format()") == "2016-01-01T18:04:00Z"
    assert js("moment.tz('Asia/Tokyo').format()") == "2016-03-13T19:00:00+09:00"
    assert js("moment().tz('UTC').format()", "Asia/Tokyo") == "2016-03-13T10:00:00+00:00"
    assert js("moment().tz()", "Asia/Tokyo") == "Asia/Tokyo"
    assert js("moment().tz('asia/tokyo').format('Z')") == "+09:00"
    assert js("moment().utcOffset()", "Asia/Tokyo") == "540"
    assert js("moment().utcOffset()", "America/Los_Angeles") == "-420"
    assert js("moment(session_time).utcOffset('+05:30').format()") == "2016-01-02T08:34:05+05:30"
    assert js("moment(session_time).utcOffset(9).format()") == "2016-01-02T12:04:05+09:00"
    assert js("moment(session_time).tz('Asia/Tokyo', true).format()") == "2016-01-02T03:04:05+09:00"
    assert js("moment.tz.guess()", "Asia/Tokyo") == "Asia/Tokyo"
    assert js("moment().isDST()", "America/Los_Angeles") == "true"
    assert js("moment().subtract(1, 'd').isDST()", "America/Los_Angeles") == "false"


def test_unknown_zone_is_an_error() -> None:
    with pytest.raises(ExprError, match="Unknown time zone: Mars/Base"):
        js("moment().tz('Mars/Base').format()")
    with pytest.raises(ExprError, match="Unknown time zone"):
        js("moment.tz('2016-01-02', 'Nowhere').format()")


def test_set_default_does_not_leak_into_later_templates() -> None:
    ev = Evaluator("UTC", NOW)
    assert ev.render("${moment.tz.setDefault('Asia/Tokyo'), moment().format()}", {}) == "2016-03-13T19:00:00+09:00"
    assert ev.render("${moment().format()}", {}) == "2016-03-13T10:00:00+00:00"


# -- arithmetic -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("add(1, 'days')", "2016-01-03T03:04:05+00:00"),
        ("add(1, 'day')", "2016-01-03T03:04:05+00:00"),
        ("add(1, 'd')", "2016-01-03T03:04:05+00:00"),
        ("add(2, 'weeks')", "2016-01-16T03:04:05+00:00"),
        ("add(1, 'w')", "2016-01-09T03:04:05+00:00"),
        ("add(1, 'months')", "2016-02-02T03:04:05+00:00"),
        ("add(1, 'M')", "2016-02-02T03:04:05+00:00"),
        ("add(1, 'quarter')", "2016-04-02T03:04:05+00:00"),
        ("add(1, 'years')", "2017-01-02T03:04:05+00:00"),
        ("add(1, 'y')", "2017-01-02T03:04:05+00:00"),
        ("add(3, 'hours')", "2016-01-02T06:04:05+00:00"),
        ("add(1, 'h')", "2016-01-02T04:04:05+00:00"),
        ("add(90, 'minutes')", "2016-01-02T04:34:05+00:00"),
        ("add(5, 'm')", "2016-01-02T03:09:05+00:00"),
        ("add(60, 'seconds')", "2016-01-02T03:05:05+00:00"),
        ("add(1, 's')", "2016-01-02T03:04:06+00:00"),
        ("add(1000, 'ms')", "2016-01-02T03:04:06+00:00"),
        ("add({days: 1, hours: 2})", "2016-01-03T05:04:05+00:00"),
        ("add('1', 'days')", "2016-01-03T03:04:05+00:00"),
        ("add(moment.duration(2, 'h'))", "2016-01-02T05:04:05+00:00"),
        ("subtract(1, 'days')", "2016-01-01T03:04:05+00:00"),
        ("subtract(1, 'months')", "2015-12-02T03:04:05+00:00"),
        ("subtract({years: 1, d: 2})", "2014-12-31T03:04:05+00:00"),
        ("subtract(4, 'h')", "2016-01-01T23:04:05+00:00"),
        ("add(-1, 'd')", "2016-01-01T03:04:05+00:00"),
    ],
)
def test_add_subtract(expr: str, expected: str) -> None:
    assert js(f"moment(session_time).{expr}.format()") == expected


def test_month_arithmetic_clamps_the_day() -> None:
    assert js("moment('2016-01-31').add(1, 'M').format('YYYY-MM-DD')") == "2016-02-29"
    assert js("moment('2015-01-31').add(1, 'M').format('YYYY-MM-DD')") == "2015-02-28"
    assert js("moment('2016-03-31').subtract(1, 'months').format('YYYY-MM-DD')") == "2016-02-29"
    assert js("moment('2016-02-29').add(1, 'years').format('YYYY-MM-DD')") == "2017-02-28"
    assert js("moment('2016-05-31').add(1, 'Q').format('YYYY-MM-DD')") == "2016-08-31"
    assert js("moment('2016-12-15').add(1, 'M').format('YYYY-MM-DD')") == "2017-01-15"


def test_add_mutates_and_clone_copies() -> None:
    assert js("(function(){ var m = moment(session_time); m.add(1, 'd'); return m.format('D') })()") == "3"
    assert js("(function(){ var m = moment(session_time); var c = m.clone().add(1, 'd');"
              " return m.format('D') + c.format('D') })()") == "23"


def test_arithmetic_across_daylight_saving() -> None:
    la = "America/Los_Angeles"
    assert js("moment.tz('2016-03-12 12:00', '" + la + "').add(1, 'd').format()") == "2016-03-13T12:00:00-07:00"
    assert js("moment.tz('2016-03-12 12:00', '" + la + "').add(24, 'h').format()") == "2016-03-13T13:00:00-07:00"
    assert js("moment.tz('2016-03-13 02:30', '" + la + "').format()") == "2016-03-13T03:30:00-07:00"
    assert js("moment.tz('2016-11-06 01:30', '" + la + "').format()") == "2016-11-06T01:30:00-07:00"
    assert js("moment.tz('2016-11-06 01:30', '" + la + "').add(1, 'h').format()") == "2016-11-06T01:30:00-08:00"
    assert js("moment().startOf('day').format()", la) == "2016-03-13T00:00:00-08:00"
    assert js("moment().endOf('day').format()", la) == "2016-03-13T23:59:59-07:00"


def test_unknown_unit_is_an_error() -> None:
    with pytest.raises(ExprError, match="Invalid unit: fortnights"):
        js("moment().add(1, 'fortnights')")


# -- startOf / endOf ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("unit", "start", "end"),
    [
        ("year", "2016-01-01 00:00:00.000", "2016-12-31 23:59:59.999"),
        ("quarter", "2016-01-01 00:00:00.000", "2016-03-31 23:59:59.999"),
        ("month", "2016-01-01 00:00:00.000", "2016-01-31 23:59:59.999"),
        ("week", "2015-12-27 00:00:00.000", "2016-01-02 23:59:59.999"),
        ("isoWeek", "2015-12-28 00:00:00.000", "2016-01-03 23:59:59.999"),
        ("day", "2016-01-02 00:00:00.000", "2016-01-02 23:59:59.999"),
        ("date", "2016-01-02 00:00:00.000", "2016-01-02 23:59:59.999"),
        ("d", "2016-01-02 00:00:00.000", "2016-01-02 23:59:59.999"),
        ("hour", "2016-01-02 03:00:00.000", "2016-01-02 03:59:59.999"),
        ("minute", "2016-01-02 03:04:00.000", "2016-01-02 03:04:59.999"),
        ("second", "2016-01-02 03:04:05.000", "2016-01-02 03:04:05.999"),
    ],
)
def test_start_and_end_of(unit: str, start: str, end: str) -> None:
    fmt = "'YYYY-MM-DD HH:mm:ss.SSS'"
    assert js(f"moment(session_time).startOf('{unit}').format({fmt})") == start
    assert js(f"moment(session_time).endOf('{unit}').format({fmt})") == end


def test_start_of_day_in_zone() -> None:
    assert js("moment(session_time).startOf('day').format()", "Asia/Tokyo") == "2016-01-02T00:00:00+09:00"
    assert js("moment(session_time).startOf('month').unix()", "Asia/Tokyo") == "1451574000"


# -- comparisons ----------------------------------------------------------------------------

def test_comparisons() -> None:
    assert js("moment(session_time).isBefore(moment())") == "true"
    assert js("moment(session_time).isAfter(moment())") == "false"
    assert js("moment(session_time).isAfter('2016-01-01')") == "true"
    assert js("moment(session_time).isSame('2016-01-02T03:04:05Z')") == "true"
    assert js("moment(session_time).isSame(jst_time)") == "false"
    assert js("moment(session_time).isSame('2016-01-02T23:00:00Z', 'day')") == "true"
    assert js("moment(session_time).isSame('2016-01-31', 'month')") == "true"
    assert js("moment(session_time).isBefore('2016-01-02T23:00:00Z', 'day')") == "false"
    assert js("moment(session_time).isAfter('2016-01-01T23:00:00Z', 'day')") == "true"
    assert js("moment(session_time).isSameOrBefore(session_time)") == "true"
    assert js("moment(session_time).isSameOrAfter('2016-01-03')") == "false"
    assert js("moment(session_time).isBetween('2016-01-01', '2016-01-03')") == "true"
    assert js("moment(session_time) < moment()") == "true"
    assert js("moment(session_time) > moment()") == "false"
    assert js("moment(session_time).valueOf() == moment(session_time).valueOf()") == "true"
    assert js("moment.max(moment(session_time), moment()).format()") == "2016-03-13T10:00:00+00:00"
    assert js("moment.min(moment(session_time), moment()).format()") == "2016-01-02T03:04:05+00:00"
    assert js("moment.isMoment(moment())") == "true"


def test_diff() -> None:
    assert js("moment().diff(moment(session_time))") == "6159355000"
    assert js("moment().diff(moment(session_time), 'days')") == "71"
    assert js("moment().diff(session_time, 'd')") == "71"
    assert js("moment(session_time).diff(moment(), 'days')") == "-71"
    assert js("moment().diff(moment(session_time), 'hours')") == "1710"
    assert js("moment().diff(moment(session_time), 'weeks')") == "10"
    assert js("moment().diff(moment(session_time), 'months')") == "2"
    assert js("moment().diff(moment(session_time), 'years')") == "0"
    assert js("moment('2016-02-29').diff('2016-01-31', 'months')") == "1"
    assert js("moment('2017-01-02').diff('2016-01-02', 'years', true)") == "1"
    assert js("moment('2016-01-16').diff('2016-01-01', 'months', true)") == str(15 / 31)
    la = "America/Los_Angeles"
    assert js(f"moment.tz('2016-03-14', '{la}').diff(moment.tz('2016-03-13', '{la}'), 'hours')") == "23"
    assert js(f"moment.tz('2016-03-14', '{la}').diff(moment.tz('2016-03-13', '{la}'), 'days')") == "1"


def test_durations() -> None:
    assert js("moment.duration(90, 'minutes').asHours()") == "1.5"
    assert js("moment.duration({days: 1}).asMinutes()") == "1440"
    assert js("moment.duration(moment().diff(session_time)).asDays() > 71") == "true"
    assert js("moment.duration(3725000).hours() + ':' + moment.duration(3725000).minutes()") == "1:2"
    assert js("moment.duration('PT1H30M').asMinutes()") == "90"
    assert js("moment.duration(90, 'minutes').toISOString()") == "PT1H30M"


# -- zone tables ----------------------------------------------------------------------------

def test_zone_table() -> None:
    table = json.loads(zone_json("America/Los_Angeles") or "{}")
    assert len(table["o"]) == len(table["t"]) + 1 == len(table["a"])
    spring_2016 = 1457863200  # 2016-03-13T10:00:00Z
    i = table["t"].index(spring_2016)
    assert (table["o"][i], table["o"][i + 1]) == (-8 * 3600, -7 * 3600)
    assert zone_json("Nowhere/Nothing") is None
    assert zone_json("asia/tokyo") == zone_json("Asia/Tokyo")
