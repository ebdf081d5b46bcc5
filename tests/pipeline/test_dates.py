"""Reading publication times: real formats, zones, day/month order, relative forms, plausibility."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.pipeline.dates import find_date, parse_date
from worker.pipeline.types import PublishedAt

FETCHED = datetime(2021, 6, 15, 12, 30, 45, tzinfo=UTC)
SEED_DATELINE = "Page last updated at 15:54 GMT, Wednesday, 16 December 2009"
ZONES = [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))]


# (expression, expected UTC instant, precision, utc_offset_minutes); times worked out by hand.
REAL_FORMATS = [
    (
        "Page last updated at 15:54 GMT, Wednesday, 16 December 2009",
        "2009-12-16T15:54",
        "minute",
        0,
    ),
    ("Published: 3:04 PM ET Nov 20, 2019", "2019-11-20T20:04", "minute", -300),
    ("Updated 10:05 AM PT, Jul 4, 2020", "2020-07-04T17:05", "minute", -420),
    ("20 November 2019", "2019-11-20T00:00", "day", None),
    ("November 20th, 2019", "2019-11-20T00:00", "day", None),
    ("2019-11-20T15:04:00-05:00", "2019-11-20T20:04", "minute", -300),
    ("2019-11-20T15:04:59.123Z", "2019-11-20T15:04", "minute", 0),
    ("2019-11-20T15:04:00.000+0000", "2019-11-20T15:04", "minute", 0),
    ("2019-11-20", "2019-11-20T00:00", "day", None),
    ("2019-11-20 15:04:00 UTC+02:00", "2019-11-20T13:04", "minute", 120),
    ("Wed, 20 Nov 2019 15:04:00 -0500", "2019-11-20T20:04", "minute", -300),
    ("Tue, 10 Dec 2019 08:00:00 GMT", "2019-12-10T08:00", "minute", 0),
    ("16.12.2009, 15:54 Uhr", "2009-12-16T15:54", "minute", None),
    ("12. Dezember 2019 um 14:05 MEZ", "2019-12-12T13:05", "minute", 60),
    ("3. März 2020", "2020-03-03T00:00", "day", None),
    ("Veröffentlicht am 1. Mai 2018, 08:15 MESZ", "2018-05-01T06:15", "minute", 120),
    ("le 5 février 2020 à 10h30 CET", "2020-02-05T09:30", "minute", 60),
    ("1 de diciembre de 2019", "2019-12-01T00:00", "day", None),
    ("2019/11/20 10:00 CET", "2019-11-20T09:00", "minute", 60),
    ("Jan 3, 2020 11:45 p.m. EST", "2020-01-04T04:45", "minute", -300),
    ("June 5th, 2018 at 5pm", "2018-06-05T17:00", "minute", None),
    ("Updated 18:20 IST, 2 Mar 2021", "2021-03-02T12:50", "minute", 330),
    ("Posted 9:00 JST 1 April 2021", "2021-04-01T00:00", "minute", 540),
    ("14:00 AEDT, 10 January 2021", "2021-01-10T03:00", "minute", 660),
    ("18 Sep 09", "2009-09-18T00:00", "day", None),
    # Day/month order: a field over 12 decides; otherwise a US sign, else day-first.
    ("25/12/2019", "2019-12-25T00:00", "day", None),
    ("12/25/2019", "2019-12-25T00:00", "day", None),
    ("11/12/2019", "2019-12-11T00:00", "day", None),
    ("11/12/2019 3:00 PM EST", "2019-11-12T20:00", "minute", -300),
    ("05.04.2020", "2020-04-05T00:00", "day", None),
    # Metadata as servers write it.
    ("Tue Jan 05 10:20:30 CET 2019", "2019-01-05T09:20", "minute", 60),
    ("20190105", "2019-01-05T00:00", "day", None),
    ("1574168580", "2019-11-19T13:03", "minute", 0),
    # A range of days is dated by its first day; one that starts in the month before, by its last.
    ("Wochenbericht 14.–20. Januar 2021", "2021-01-14T00:00", "day", None),
    ("14. - 20. Januar 2021", "2021-01-14T00:00", "day", None),
    ("3–9 May 2021", "2021-05-03T00:00", "day", None),
    ("May 3–9, 2021", "2021-05-03T00:00", "day", None),
    ("31.–6. Januar 2021", "2021-01-06T00:00", "day", None),
    # A label and its date in two elements, joined without a space.
    ("Datum:26. Januar 2021", "2021-01-26T00:00", "day", None),
]


@pytest.mark.parametrize(("text", "at", "precision", "offset"), REAL_FORMATS)
def test_real_formats(text: str, at: str, precision: str, offset: int | None) -> None:
    published = parse_date(text, fetched_at=FETCHED, source="meta")
    assert published is not None, text
    assert published.at == datetime.fromisoformat(at).replace(tzinfo=UTC)
    assert published.precision == precision
    assert published.utc_offset_minutes == offset
    assert published.source == "meta"


@pytest.mark.parametrize("text", ["20190105", "1574168580"])
def test_machine_values_are_not_read_from_prose(text: str) -> None:
    assert parse_date(text, fetched_at=FETCHED, source="text") is None


def test_daylight_saving_decides_region_zones() -> None:
    summer = parse_date("July 4, 2020 10:00 ET", fetched_at=FETCHED, source="meta")
    winter = parse_date("January 4, 2020 10:00 ET", fetched_at=FETCHED, source="meta")
    assert summer is not None
    assert winter is not None
    assert summer.utc_offset_minutes == -240
    assert winter.utc_offset_minutes == -300


@pytest.mark.parametrize(
    ("text", "delta", "precision"),
    [
        ("2 hrs ago", timedelta(hours=2), "day"),
        ("an hour ago", timedelta(hours=1), "day"),
        ("15 minutes ago", timedelta(minutes=15), "minute"),
        ("90 mins ago", timedelta(minutes=90), "minute"),
        ("30 seconds ago", timedelta(seconds=30), "minute"),
        ("vor 3 Stunden", timedelta(hours=3), "day"),
        ("vor 20 Minuten", timedelta(minutes=20), "minute"),
        ("13 hours ago", timedelta(hours=13), "day"),  # the day before the fetch, in UTC
        ("2 weeks ago", timedelta(weeks=2), "day"),
        ("3 days ago", timedelta(days=3), "day"),
        ("vor 2 Tagen", timedelta(days=2), "day"),
    ],
)
def test_relative_forms_resolve_against_fetched_at(
    text: str, delta: timedelta, precision: str
) -> None:
    published = parse_date(text, fetched_at=FETCHED, source="text")
    assert published is not None
    expected = FETCHED - delta
    if precision == "day":
        expected = datetime(expected.year, expected.month, expected.day, tzinfo=UTC)
    assert published.at == expected.replace(second=0, microsecond=0)
    assert published.precision == precision


def test_hours_ago_read_an_hour_apart_give_one_timestamp() -> None:
    # Two crawls of one page: the dedupe key must not change with the crawl time.
    first = parse_date("2 hours ago", fetched_at=FETCHED, source="text")
    later = parse_date("3 hours ago", fetched_at=FETCHED + timedelta(hours=1), source="text")
    assert first is not None
    assert later is not None
    assert first == later
    assert first.at == datetime(2021, 6, 15, tzinfo=UTC)


def test_yesterday_with_a_time() -> None:
    published = parse_date("Yesterday, 18:40 GMT", fetched_at=FETCHED, source="text")
    assert published is not None
    assert published.at == datetime(2021, 6, 14, 18, 40, tzinfo=UTC)
    assert published.precision == "minute"
    german = parse_date("gestern", fetched_at=FETCHED, source="text")
    assert german is not None
    assert german.at == datetime(2021, 6, 14, tzinfo=UTC)
    assert german.precision == "day"


@pytest.mark.parametrize("text", ["2 hrs ago", "yesterday", "vor 3 Tagen"])
def test_relative_forms_need_fetched_at(text: str) -> None:
    assert parse_date(text, fetched_at=None, source="text") is None


@pytest.mark.parametrize(
    "text",
    [
        "1799-06-01",  # before any archive's own dating
        "0001-01-01T00:00:00+05:00",  # a placeholder; the offset once overflowed the arithmetic
        "1 Jan 0001",
        "17 June 2021 09:00 GMT",  # two days after the fetch
        "2021-06-30",
        "31 February 2020",  # no such day
        "Sign in",
        "",
        "The 12 Days of Christmas",
        "Call 555-1234 today",
        "at 12:26 May 2021",  # a clock's minutes, not a day
    ],
)
def test_implausible_or_absent_dates_give_none(text: str) -> None:
    assert parse_date(text, fetched_at=FETCHED, source="meta") is None


def test_a_day_after_fetch_is_still_accepted() -> None:
    # Zone mistakes can put a real date slightly after the fetch; one day of slack absorbs them.
    published = parse_date("16 June 2021", fetched_at=FETCHED, source="meta")
    assert published is not None


def test_hostile_expression_is_fast_enough_to_return() -> None:
    hostile = "1" * 10_000 + ":" + "9" * 10_000 + " " * 10_000 + "December" * 1000
    assert parse_date(hostile, fetched_at=FETCHED, source="meta") is None


@given(
    st.datetimes(
        min_value=datetime(1990, 1, 2),
        max_value=datetime(2021, 6, 14),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))]
        ),
    )
)
def test_iso_round_trip(moment: datetime) -> None:
    published = parse_date(moment.isoformat(), fetched_at=FETCHED, source="jsonld")
    assert published is not None
    assert published.at == moment.astimezone(UTC).replace(second=0, microsecond=0)
    assert published.precision == "minute"
    offset = moment.utcoffset()
    assert offset is not None
    assert published.utc_offset_minutes == int(offset.total_seconds() // 60)


@given(st.dates(min_value=datetime(1990, 1, 1).date(), max_value=datetime(2021, 6, 1).date()))
def test_english_long_date_round_trip(day: date) -> None:
    text = f"{day:%A, %d %B %Y}"
    published = parse_date(text, fetched_at=FETCHED, source="text")
    assert published is not None
    assert published.at.date() == day
    assert published.precision == "day"


def test_find_date_prefers_the_publication_line_over_related_story_dates() -> None:
    lines = [
        "Home | News | Sport",
        "Senate passes the bill",
        "By Jane Doe",
        "Published: 3:04 PM ET Nov 20, 2019",
        "The Senate passed the bill on 18 November 2019 after a long debate that lasted all week.",
        "Related: Bill advances",
        "18 Nov 19 | Politics",
    ]
    published = find_date(lines, fetched_at=FETCHED)
    assert published is not None
    assert published.at == datetime(2019, 11, 21, 1, 4, tzinfo=UTC) - timedelta(hours=5)
    assert published.source == "text"


def test_find_date_takes_the_first_dateline_without_cues() -> None:
    lines = ["World", "16 December 2009", "Nato chief visits Moscow", "01 Aug 09 | Europe"]
    published = find_date(lines, fetched_at=FETCHED)
    assert published is not None
    assert published.at == datetime(2009, 12, 16, tzinfo=UTC)


def test_find_date_gives_none_without_dates() -> None:
    assert find_date(["Home", "An article", "Some text here."], fetched_at=FETCHED) is None


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("Letzte Änderung: 31.10.2023 - 14:49:39 Erschienen am: 01.11.2023", "2023-11-01"),
        ("Updated May 5, 2021 · Published May 3, 2021", "2021-05-03"),
        # A cue at the start already dates the whole line.
        ("Posted 3 May 2021, updated 5 May 2021", "2021-05-03"),
    ],
)
def test_a_line_dating_two_things_gives_the_date_after_its_publication_cue(
    text: str, day: str
) -> None:
    published = parse_date(text, fetched_at=None, source="text")
    assert published == PublishedAt(
        at=datetime.fromisoformat(day).replace(tzinfo=UTC), precision="day", source="text"
    )


def test_find_date_takes_the_byline_date_over_an_update_note() -> None:
    lines = [
        "Accueil | Par Loïc Le Clerc | 30 septembre 2018",
        "Deux ans et demi en Macronie",
        "Article mis à jour le 7 janvier 2020.",
        "S’il fallait ne retenir qu’une seule promesse du candidat, ce serait la moralisation.",
    ]
    published = find_date(lines, fetched_at=FETCHED)
    assert published == PublishedAt(
        at=datetime(2018, 9, 30, tzinfo=UTC), precision="day", source="text"
    )


@pytest.mark.parametrize(
    ("text", "at", "offset"),
    [
        # The end of a time range is not a UTC offset: the wall time stands, zone unknown.
        ("12. Mai 2021, 20:00-22:00 Uhr", "2021-05-12T20:00:00+00:00", None),
        ("10:00-12 Mai 2021", "2021-05-12T10:00:00+00:00", None),
        # Offsets stay offsets: spaced, four digits, earlier than the clock, or after GMT/UTC.
        ("May 5, 2021 3:04 PM -0500", "2021-05-05T20:04:00+00:00", -300),
        ("May 3, 2021 10:30-05:00", "2021-05-03T15:30:00+00:00", -300),
        ("Published 10:00 GMT-5, May 3 2021", "2021-05-03T15:00:00+00:00", -300),
        ("May 3, 2021 10:30 UTC+1", "2021-05-03T09:30:00+00:00", 60),
    ],
)
def test_a_time_range_is_not_read_as_an_offset(text: str, at: str, offset: int | None) -> None:
    published = parse_date(text, fetched_at=FETCHED, source="text")
    assert published is not None
    assert (published.at.isoformat(), published.utc_offset_minutes) == (at, offset)


def test_archive_dates_from_1800_on_are_read() -> None:
    # A digitized archive states its own old dates; they are not the web's typos.
    published = parse_date("1987-04-08", fetched_at=FETCHED, source="meta")
    assert published is not None
    assert published.at == datetime(1987, 4, 8, tzinfo=UTC)


def test_a_wire_stamp_is_read_to_the_minute() -> None:
    # Reuters-21578, story 1: the wire system's stamp, day-MON-year and a clock with hundredths.
    published = parse_date("26-FEB-1987 15:01:01.79", fetched_at=FETCHED, source="text")
    assert published == PublishedAt(
        at=datetime(1987, 2, 26, 15, 1, tzinfo=UTC), precision="minute", source="text"
    )


# Reuters-21578, story 906: a dump with its wire stamp, title, dateline and the top of its body.
WIRE_STORY = [
    " 3-MAR-1987 04:35:28.01",
    "",
    "SAAB-SCANIA ISSUES 150 MLN DLR EUROBOND",
    "",
    "LONDON, March 3 - Saab-Scania AB is issuing a 150 mln dlr eurobond due April 2, 1992 paying"
    " 7-3/4 pct and priced at 101-3/4 pct, lead manager Morgan Guaranty Ltd said.",
    "The bond is available in denominations of 5,000 and 50,000 dlrs and will be listed in"
    " London. Payment date is April 2, 1992.",
]


def test_a_wire_story_is_dated_by_its_stamp_not_its_body() -> None:
    published = find_date(WIRE_STORY, fetched_at=FETCHED)
    assert published is not None
    assert published.at == datetime(1987, 3, 3, 4, 35, tzinfo=UTC)


def test_a_cue_inside_a_paragraph_does_not_make_a_dateline() -> None:
    # "Payment date is ..." in a paragraph dates a payment, not the story; the short line wins.
    lines = [
        "March 3, 1987",
        "Sale Tilney Plc said it has purchased 80 pct of the ordinary share capital of B and R"
        " International Inc. B and R posted pretax profit of 855,000 dlrs in the year to Dec 31,"
        " 1986.",
    ]
    published = find_date(lines, fetched_at=FETCHED)
    assert published is not None
    assert published.at == datetime(1987, 3, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "fetched_at", "day"),
    [
        # Reuters-21578 stories 6 and 8: the year comes from the fetch...
        ("BUENOS AIRES, Feb 26 - Argentine grain board figures show", FETCHED, "2021-02-26"),
        ("LOUISVILLE, Ky., Feb 26 - Shr one dlr vs 73 cts", FETCHED, "2021-02-26"),
        # ... and is never after it: "Dec 30" read on 3 January is last year's.
        (
            "LONDON, Dec 30 (Reuters) - Oil prices rose on Tuesday",
            datetime(2021, 1, 3, tzinfo=UTC),
            "2020-12-30",
        ),
    ],
)
def test_a_yearless_agency_dateline_dates_an_otherwise_undated_story(
    line: str, fetched_at: datetime, day: str
) -> None:
    published = find_date(["BAHIA COCOA REVIEW", line], fetched_at=fetched_at)
    assert published is not None
    assert published.at.date().isoformat() == day
    assert published.precision == "day"


def test_a_yearless_dateline_takes_the_year_of_the_page_s_other_date() -> None:
    # An archive's page prints its own date; the story under it keeps its dateline's day.
    lines = [
        "Archive: March 2, 1987",
        "FORD MOTOR CREDIT TO REDEEM DEBENTURES",
        "DEARBORN, MICH., Feb 26 - Ford Motor Co said its Ford Motor Credit Co on April One will"
        " redeem 4.0 mln dlrs of its 8.70 pct debentures.",
    ]
    published = find_date(lines, fetched_at=FETCHED)
    assert published is not None
    assert published.at.date() == date(1987, 2, 26)


def test_a_yearless_dateline_needs_a_year_from_somewhere() -> None:
    assert find_date(["BELGRADE, April 8 - Yugoslavia said"], fetched_at=None) is None


@given(st.datetimes(min_value=datetime(1800, 1, 2), max_value=datetime(2021, 6, 14)))
def test_wire_stamp_round_trip(moment: datetime) -> None:
    month = f"{moment:%b}".upper()  # the C locale's English abbreviation
    stamp = (
        f"{moment.day}-{month}-{moment.year} {moment:%H:%M:%S}.{moment.microsecond // 10**4:02d}"
    )
    published = parse_date(stamp, fetched_at=FETCHED, source="text")
    assert published == PublishedAt(
        at=moment.replace(second=0, microsecond=0, tzinfo=UTC), precision="minute", source="text"
    )
