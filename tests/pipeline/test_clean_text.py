"""Cleaning text dumps: the seed page exactly, golden dumps, rejections and hostile input."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import shared_data
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import RawPage
from worker.pipeline import Processed, process, receive
from worker.pipeline.clean_text import _QUOTED, _is_breadcrumb, _is_glued_teaser, clean_text
from worker.pipeline.types import CleanPage, DecodedPage, Rejection
from worker.store.batch import dedupe_key

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / ".." / "shared" / "data"
SEED = DATA / "seed" / "bbc-2009-12-16-nato-russia-helicopters.txt"
GOLDEN = REPO / "tests" / "golden" / "text"


def _clean(text: str, fetched_at: datetime | None = None) -> CleanPage:
    cleaned = clean_text(DecodedPage(text=text, kind="text", fetched_at=fetched_at))
    assert isinstance(cleaned, CleanPage), cleaned
    return cleaned


@pytest.fixture(scope="module")
def seed() -> CleanPage:
    if not SEED.is_file():
        pytest.skip(f"the shared evaluation data is not at {DATA.resolve()}")
    text = SEED.read_text(encoding="utf-8")
    return _clean(text, fetched_at=datetime(2020, 1, 1, tzinfo=UTC))


def test_seed_headline_and_date(seed: CleanPage) -> None:
    assert seed.headline == "Nato chief seeks Russian helicopters for Afghanistan"
    assert seed.published is not None
    assert seed.published.at.isoformat() == "2009-12-16T15:54:00+00:00"
    assert seed.published.precision == "minute"
    assert seed.published.source == "text"
    assert seed.published.utc_offset_minutes == 0


def test_seed_body_bounds(seed: CleanPage) -> None:
    assert seed.body[0].startswith(
        "Nato Secretary General Anders Fogh Rasmussen has asked Russia to provide helicopters"
    )
    assert seed.body[-1].endswith("should not see that as a threat.")
    assert "Common ground" in seed.body
    assert "Sensitive subject" in seed.body


@pytest.mark.parametrize(
    "chrome",
    [
        "(left) talks to Russian Foreign Minister",
        "must look beyond their differences",
        "Print Sponsor",
        "Nato chief reaches out to Russia",
        "| Europe",
        "France24",
        "hrs ago",
        "Has China's housing",
        "clove tree",
        "Sign in",
        "BBC navigation",
        "Copyright",
        "web browser",
        "Americas Africa",
    ],
)
def test_seed_body_has_no_chrome(seed: CleanPage, chrome: str) -> None:
    assert not any(chrome in paragraph for paragraph in seed.body)


def test_seed_fields(seed: CleanPage) -> None:
    assert seed.section_labels == ("Europe",)
    assert seed.kind == "text"
    assert all("  " not in paragraph and "\n" not in paragraph for paragraph in seed.body)


def _golden_cases() -> list[str]:
    return sorted(path.stem for path in GOLDEN.glob("*.json"))


@pytest.mark.parametrize("name", _golden_cases())
def test_golden(name: str) -> None:
    expected = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    cleaned = _clean((GOLDEN / f"{name}.txt").read_text(encoding="utf-8"))
    assert cleaned.headline == expected["headline"]
    assert list(cleaned.body) == expected["body"]
    assert cleaned.byline == expected["byline"]
    assert list(cleaned.section_labels) == expected["section_labels"]
    assert cleaned.language == expected["language"]
    if expected["published"] is None:
        assert cleaned.published is None
    else:
        assert cleaned.published is not None
        assert cleaned.published.at == datetime.fromisoformat(expected["published"]["at"])
        assert cleaned.published.precision == expected["published"]["precision"]
        assert cleaned.published.source == expected["published"]["source"]
        assert cleaned.published.utc_offset_minutes == expected["published"]["utc_offset_minutes"]


@pytest.mark.parametrize(
    ("line", "names"),
    [
        ("By Chris Pokorny@DawgsByNature Nov 18, 2019, 9:00am EST", "Chris Pokorny"),
        ("By Umair Irfan Updated Nov 13, 2019, 10:28am EST", "Umair Irfan"),
        ("Von Anna Schmidt und Jan de Vries, 3. März 2020", "Anna Schmidt und Jan de Vries"),
        ("By Kashmira Gander On 11/13/19 at 4:00 PM EST", "Kashmira Gander"),
    ],
)
def test_byline_keeps_names_only(line: str, names: str) -> None:
    lead = _paragraph("harbour", 1)
    cleaned = _clean(f"Harbour reopens after storm\n\n{line}\n\n{lead}\n\n{_paragraph('quay', 2)}")
    assert cleaned.byline == names


def test_golden_cases_exist() -> None:
    assert len(_golden_cases()) >= 2


@pytest.mark.parametrize(
    "text",
    [
        "",
        "  \n\n  ",
        "\n".join(f"  • Section {n}" for n in range(40)),
        "\n".join(f"Story headline number {n}\n{n} Nov 19 | World" for n in range(1, 25)),
        "Home\nNews\nSport\n\n404 Not Found\n\nThe page you requested could not be found.\n",
    ],
)
def test_pages_without_an_article_are_rejected_as_no_body(text: str) -> None:
    cleaned = clean_text(DecodedPage(text=text, kind="text"))
    assert isinstance(cleaned, Rejection)
    assert cleaned.reason == "no_body"
    assert cleaned.detail


def test_prose_without_a_title_is_rejected_as_no_headline() -> None:
    first = (
        "The council met on Tuesday and agreed that the new bridge would be built by the end of "
        "the decade, after a long debate about its cost and about where the money would come from."
    )
    second = (
        "Residents who spoke at the meeting said they had waited for a crossing for years, and "
        "several asked that the work should not close the old road during the summer months."
    )
    cleaned = clean_text(DecodedPage(text=f"{first}\n\n{second}\n", kind="text"))
    assert isinstance(cleaned, Rejection)
    assert cleaned.reason == "no_headline"


def _wrap(paragraph: str, width: int = 120) -> list[str]:
    """Break a paragraph into lines the way w3m does: at spaces, no line wider than `width`."""
    lines: list[str] = []
    line = ""
    for word in paragraph.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line]


def test_wrapped_lines_are_rejoined_into_one_paragraph() -> None:
    first = " ".join(["the committee said that the plan would go ahead"] * 8) + "."
    second = " ".join(["members of the public will be asked what they think"] * 8) + "."
    text = "\n".join(["Plan approved by the committee", "", *_wrap(first), "", *_wrap(second)])
    cleaned = _clean(text)
    assert cleaned.body == (first, second)


def test_a_short_article_s_wrapped_lines_are_rejoined_on_a_page_of_menus() -> None:
    # linknaija.com as w3m printed it: three wrapped paragraphs under a hundred menu lines.
    menu = [f"  • Section {n}" for n in range(100)]
    article = [
        "Photos which were released online and are making the rounds on social media, show "
        "Nigerian actress, Kate Henshaw,",
        "looking absolutely stunning in new make-up photos.",
        "",
        "Veteran Nollywood actress, Kate Henshaw, who in 2008, won the Africa Movie Academy Award "
        "for Best Actress in a Leading",
        "Role, has taken to her Instagram page to share some stunning photos of herself.",
        "",
        "She flaunted her hand bag which had the colours of the Nigerian flag. The 47 year old was "
        "one of the guests invited to",
        "an event by media mogul, Debola Lagos.",
    ]
    headline = "Nollywood Actress, Kate Henshaw Is Looking Stunning In New Photos"
    cleaned = _clean("\n".join([*menu, "", headline, "", *article]))
    assert cleaned.body == (
        " ".join(article[:2]),
        " ".join(article[3:5]),
        " ".join(article[6:8]),
    )


def _paragraph(topic: str, number: int) -> str:
    return (
        f"The {topic} was discussed again on day {number}, and the members said that they would "
        f"return to it after the holidays, when the figures for the year are known to all of them."
    )


def _with_line_between_paragraphs(line: str) -> str:
    """A dump whose article has `line` on its own between two paragraphs (a subheading's place)."""
    return "\n\n".join(
        ["Harbour reopens after storm", _paragraph("harbour", 1), line, _paragraph("quay", 2)]
    )


@pytest.mark.parametrize(
    "line",
    [
        "Advertisement",
        "Sponsored content",
        "Print this page",
        "Related stories",
        "Comments (12)",
        "Related: Ten ways to cut your heating bill this winter",
        "Subscribe to The Harbour Gazette for the latest news",
        "Privacy Policy | Comments RSS | Site Map and Contact Details",
    ],
)
def test_chrome_lines_are_dropped(line: str) -> None:
    cleaned = _clean(_with_line_between_paragraphs(line))
    assert len(cleaned.body) == 2
    assert line not in cleaned.body


@pytest.mark.parametrize(
    "line",
    [
        "Harbour board declined to comment.",
        "Advertising on the quay will pay for the repairs, the harbour board said on Friday.",
        "Shipping agents said the delays were related to the storm and to a shortage of pilots.",
    ],
)
def test_prose_with_a_chrome_word_is_kept(line: str) -> None:
    # One word that sites also use for their furniture does not make a sentence chrome.
    cleaned = _clean(_with_line_between_paragraphs(line))
    assert line in cleaned.body


@pytest.mark.parametrize(
    "headline",
    ["Gannett's USA Today Advertising Rises", "Airbus Has No Comment On McDonnell Talks"],
)
def test_a_headline_with_a_chrome_word_is_kept(headline: str) -> None:
    paragraphs = [_paragraph("advertising", 1), _paragraph("talks", 2)]
    cleaned = _clean("\n\n".join(["Home | News | Sign in", headline, *paragraphs]))
    assert cleaned.headline == headline


def test_comments_after_a_short_article_do_not_join_it() -> None:
    # Each comment under its header as profootballtalk.nbcsports.com prints them (WordPress's
    # "1. thelastchargersfan says:" over "November 19, 2019 at 6:34 am"): together the comments
    # hold more prose than the article, but no run crosses a comment's header.
    article = [_paragraph("budget", n) for n in range(3)]
    comments: list[str] = []
    for n in range(8):
        comments += [f"{n + 1}. reader{n} says:", f"November {n + 1}, 2019 at 6:44 am", ""]
        comments += [_paragraph(f"comment {n}", n) + " " + _paragraph("reply", n), ""]
    text = "\n".join(
        [
            "Council delays vote on the budget",
            "",
            *(line for paragraph in article for line in (paragraph, "")),
            "Share this article",
            "",
            "8 responses to the article",
            "",
            *comments,
        ]
    )
    cleaned = _clean(text)
    assert cleaned.headline == "Council delays vote on the budget"
    assert cleaned.body == tuple(article)


@pytest.mark.parametrize(
    "heading",
    [
        # gormulus.wordpress.com and gnadlib.wordpress.com: WordPress's heading, translated.
        "45 Gedanken zu „„Das wird man ja wohl noch sagen dürfen!““",
        "5 Kommentare on “Scherenschnitt (3)”",
        "25 thoughts on “How to Grow a Lemon Tree from Seed | Step-by-Step Guide”",
    ],
)
def test_a_long_thread_under_the_comments_heading_is_not_the_article(heading: str) -> None:
    # The thread holds far more prose than the post and no comment has a header of its own.
    article = [_paragraph("budget", n) for n in range(2)]
    thread = [_paragraph(f"comment {n}", n) + " " + _paragraph("reply", n) for n in range(10)]
    text = "\n\n".join(["Council delays vote on the budget", *article, heading, *thread])
    cleaned = _clean(text)
    assert cleaned.headline == "Council delays vote on the budget"
    assert cleaned.body == tuple(article)


# detroit.cbslocal.com: related stories whose title and teaser w3m printed without a space.
_GLUED_TEASERS = [
    "Fantasy Football Waiver Wire Week 12: Deebo Samuel, Darius Slayton Emerging As Strong WR "
    "OptionsThe 49ers and Giants rookies have seen their roles in the offense grow as the season "
    "goes, making them solid options in your fantasy lineup.",
    "Harvick Fails To Rally Overmatched Ford In NASCAR FinaleFord v Toyota flopped for the blue "
    "oval at the track.",
    "Is Violence In Sports On The Rise?Violence is part of the game in many sports but Myles "
    "Garrett crossed a line that attracts the attention of authorities sometimes from within "
    "their sport and in other cases from criminal prosecutors.",
    "Tape Gaffe Ends Hamlin's Title RunDenny Hamlin's championship run was foiled by the tale of "
    "the tape.",
    "Customers Leave Without Paying $690 Bill At Troy SteakhouseA party of six left Ruth's Chris "
    "Steakhouse in Troy without paying their bill after a fight in the restaurant.",
]


@pytest.mark.parametrize(
    ("line", "glued"),
    [
        *((teaser, True) for teaser in _GLUED_TEASERS),
        # Names written in camel case, and a wire dateline, inside article prose.
        ("LOS ANGELES (AP) — To LeBron James, triple-doubles are not a goal.", False),
        (
            "Now the Agency's SciSpacE team has called in ESA's Concurrent Design Facility to "
            "assess the advantages of human hibernation for a trip to a neighboring planet.",
            False,
        ),
        (
            "Hong Kong (CNN Business)A muddled view of US-China trade talks once again seems to "
            "be weighing on investors.",
            False,
        ),
        (
            "A Bang & Olufsen Premium 3D Sound System will be available, as is Audi’s phone box "
            "which includes signal boosting and wireless charging.",
            False,
        ),
    ],
)
def test_a_title_glued_to_its_teaser_reads_as_one(line: str, glued: bool) -> None:
    assert _is_glued_teaser(line) is glued


def test_a_list_of_glued_teasers_is_not_the_article() -> None:
    # The list outweighs the short wire story below it; its lines read as teasers, not prose.
    article = [
        "ST. JOSEPH, Mich. (AP) — Michigan health authorities are reporting a 6th fatality "
        "linked to Eastern Equine Encephalitis.",
        "Berrien County Health Department officials said Monday the victim was one of two people "
        "who contracted the mosquito borne virus. The death occurred Saturday.",
        "Cases of Eastern Equine Encephalitis first appeared in West Michigan at the end of "
        "August. The virus has been reported in Barry, Berrien, Calhoun, Cass, Kalamazoo and "
        "Van Buren counties. The outbreak has resulted in 10 human cases and 46 animal cases.",
    ]
    # Each as the dump prints it: an image's label, the wrapped text, a blank line.
    teasers = [line for teaser in _GLUED_TEASERS for line in ("[blank_1x1]", *_wrap(teaser), "")]
    headline = "Michigan Officials: 6th Fatality Linked To Eastern Equine Encephalitis Reported"
    dump = "\n".join(["Latest Sports", "", *teasers, "Travel", "", headline, "", ""])
    cleaned = _clean(dump + "\n\n".join("\n".join(_wrap(paragraph)) for paragraph in article))
    assert cleaned.headline == headline
    assert cleaned.body == tuple(article)


def test_a_paragraph_naming_a_company_in_camel_case_is_kept() -> None:
    # Reuters-21578 story 12159: its last paragraph reads like a glued title and teaser on its
    # own ("Last December Bank|America and ..."), but no list of them stands around it.
    dump = "\n".join(
        [
            "1-APR-1987 13:49:45.79",
            "",
            "BANKAMERICA <BAC> TO POST GAIN ON UNIT SALE",
            "",
            "SAN FRANCISCO, April 1 - BankAmerica Corp said it completed",
            "the sale of its Consumer Trust Services division to Well Fargo",
            "and Co <WFC>, a transaction that will result in a second",
            "quarter pre-tax gain of more than 75 mln dlrs.",
            "    In a separate announcement, Wells Fargo said the",
            "acquisition will increase the amount of personal trust assets",
            "it administers to 25 billion dlrs.",
            "    Last December BankAmerica and Wells Fargo announced a",
            "definitive agreement on the sale at a price of about 100 mln",
            "dlrs, subject to adjustment.",
        ]
    )
    last = (
        "Last December BankAmerica and Wells Fargo announced a definitive agreement on the sale "
        "at a price of about 100 mln dlrs, subject to adjustment."
    )
    assert _is_glued_teaser(last)
    assert _clean(dump).body[-1] == last


# beachbodyondemand.com: the legal small print around the site's copyright notice.
_LEGAL_FOOTER = [
    "The information provided on this website (including the Blogs, Community pages, Program "
    "Materials and all other content) was originally intended for a US audience. Regulations in "
    "your country may vary.",
    "+Results vary depending on starting point, goals and effort. Exercise and proper diet are "
    "necessary to achieve and maintain weight loss and muscle definition. The testimonials "
    "featured may have used more than one Beachbody product or extended the program to achieve "
    "their maximum results.",
    "Consult your physician and follow all safety instructions before beginning any exercise "
    "program or using any supplement or meal replacement product, especially if you have any "
    "unique medical conditions or needs.",
    "© 2019 Beachbody, LLC. All rights reserved. Beachbody, LLC is the owner of the Beachbody "
    "and Team Beachbody trademarks, and all related designs, trademarks, copyrights, and other "
    "intellectual property.",
    "Apple logo, Apple TV, App Store, iPad, iPhone, and iPod touch are registered trademarks of "
    "Apple Inc. Roku is a registered trademark of Roku, Inc. in the United States and other "
    "countries. Amazon, Kindle, Fire, and all related logos are trademarks of Amazon.com or its "
    "affiliates.",
]


def test_legal_small_print_around_the_copyright_notice_is_not_the_article() -> None:
    # Without the notice as a break, the small print is one run with more prose than the article.
    article = [_paragraph("meal plan", n) for n in range(2)]
    related = [
        "Related Articles",
        "Vanilla Shakeology with avocado and bananas",
        "Nutrition",
        "Why Breakfast Really Does Matter – But Only if You’re Doing It Right",
        "Plant-Based Chocolate Almond Crunch BEACHBAR",
        "Nutrition",
    ]
    social = "  •  \n    Facebook\n  •  \n    Pinterest\n  •  \n    Join our newsletter"
    dump = "\n\n".join(
        [
            "Meal Prep for A Little More Obsessed",
            *article,
            *related,
            social,
            "Beachbody on Demand",
            social,
            *_LEGAL_FOOTER,
        ]
    )
    cleaned = _clean(dump)
    assert cleaned.headline == "Meal Prep for A Little More Obsessed"
    assert cleaned.body == tuple(article)


def test_a_relative_date_is_never_the_headline() -> None:
    paragraphs = [_paragraph("harbour", n) for n in range(3)]
    text = "\n\n".join(["7 hours ago", *paragraphs])
    cleaned = clean_text(DecodedPage(text=text, kind="text"))
    assert isinstance(cleaned, Rejection)
    assert cleaned.reason == "no_headline"


@pytest.mark.parametrize("line", ["Tuesday, 12 March 2021", "Posted 12.03.2021, 10:45"])
def test_a_printed_date_is_never_the_headline(line: str) -> None:
    # Dates of any year are dates: the check once refused those after its probe moment.
    paragraphs = [_paragraph("harbour", n) for n in range(3)]
    cleaned = clean_text(DecodedPage(text="\n\n".join([line, *paragraphs]), kind="text"))
    assert isinstance(cleaned, Rejection)
    assert cleaned.reason == "no_headline"


def test_cjk_lines_broken_mid_word_are_rejoined_without_spaces() -> None:
    first = (
        "先日、不正に改造した携帯電話を販売したとして、商標法違反の疑いで男性が逮捕されたという"
        "ニュースを耳にしました。報道によると、販売されたのは機能制限を解除した端末でした。"
    ) * 2
    second = (
        "商標には、同じ商標が付された商品は同じ提供元のものであるという、商品の出所を表示する"
        "機能があります。権利者の許諾を得ずに改造した商品を販売することは侵害になります。"
    ) * 2
    # A terminal shows each of these characters two columns wide: 60 of them fill 120 columns.
    wrapped = [
        [paragraph[i : i + 60] for i in range(0, len(paragraph), 60)]
        for paragraph in (first, second)
    ]
    text = "\n".join(["商品の改造が商標法違反に", "", *wrapped[0], "", *wrapped[1], ""])
    cleaned = _clean(text)
    assert cleaned.body == (first, second)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=3000))
def test_any_text_is_cleaned_or_rejected(text: str) -> None:
    cleaned = clean_text(DecodedPage(text=text, kind="text"))
    assert isinstance(cleaned, CleanPage | Rejection)
    if isinstance(cleaned, CleanPage):
        assert cleaned.headline
        assert cleaned.body


def test_hostile_dump_is_cleaned_or_rejected() -> None:
    hostile = ("[" * 5000 + "a " * 5000 + "\n") * 20 + ("•" * 3000 + "\n") * 20 + "x" * 100_000
    cleaned = clean_text(DecodedPage(text=hostile, kind="text"))
    assert isinstance(cleaned, CleanPage | Rejection)


def test_a_page_and_its_text_dump_get_one_dedupe_key() -> None:
    # Scrapinghub's page from The Sun: its JSON-LD states 2019-11-18T19:09Z; its w3m dump prints
    # the same time with no zone, read as UTC, so both make one article.
    page_id = "8b194530308204139d9c8f7d495a26b117c78756ac1802cfc3c0a8bfdf2c0d50"
    folder = shared_data("extraction")
    url = json.loads((folder / "scrapinghub" / "ground-truth.json").read_bytes())[page_id]["url"]
    html_page = gzip.decompress(
        (folder / "scrapinghub" / "html" / f"{page_id}.html.gz").read_bytes()
    )
    dump = (folder / "scrapinghub-textdumps" / f"{page_id}.txt").read_text(encoding="utf-8")
    results = []
    for content, content_type in ((html_page.decode(), "text/html"), (dump, "text/plain")):
        page = RawPage(content=content, url=url, content_type=content_type, source="crawl")
        result = process(receive(page, receipt_key=content_type), max_page_bytes=10_000_000)
        assert isinstance(result, Processed), result
        results.append(result)
    html_result, dump_result = results
    assert dedupe_key(html_result, "crawl") == dedupe_key(dump_result, "crawl")
    assert dump_result.clean.published is not None
    assert dump_result.clean.published.at == datetime(2019, 11, 18, 19, 9, tzinfo=UTC)
    # The dump named no zone, and says so; the HTML stated UTC.
    assert dump_result.clean.published.utc_offset_minutes is None
    assert html_result.clean.published is not None
    assert html_result.clean.published.utc_offset_minutes == 0


# Reuters-21578 stories as a text dump prints them: the wire's title line, then the dateline
# opening the first paragraph.
_WIRE_MAGNETS = """TDK, ALLEN-BRADLEY TO MAKE MAGNETS IN U.S.

TOKYO, March 19 - TDK Corp <TDK.T> and <Allen-Bradley Co
Inc>, a Rockwell International Corp <ROK> subsidiary, have
agreed to set up a joint venture in the U.S. To make ferrite
magnets for the North American market, a TDK spokesman said.
    The new company, <Allen-Bradley/TDK Magnetics>, will be set
up on April 1 at a plant formerly operated by Allen-Bradley's
magnetics division in Shawnee, Oklahoma.
    It targets first-year sales of 30 to 40 mln dlrs which will
be marketed by TDK's subsidiary <TDK Corp of America>.
"""
_WIRE_GOLD = """REAGAN'S REMARKS HELP GOLD TO RECOVER IN HONG KONG
HONG KONG, March 5 - Gold rose by about 50 U.S. Cents an
ounce, following a statement by President Ronald Reagan that
the arms-for-hostages deal with Iran "was a mistake," dealers
said.
    Bullion rose to 409.40/90 dlrs from an initial low of
408.90/409.40. This compares with the opening of 409.00/50 and
New York's close of 410.00/50.
    Dealers noted mild short-covering in the metal after some
initial selling by local investors. Trading was fairly quiet
this morning partly owed to the slow U.S. Dollar activities,
they added.
"""
_WIRE_SEAT = """AMEX HAS RECORD SEAT SALE
NEW YORK, March 3 - The American Stock Exchange said it
sold an options principal membership for a record 305,000 dlrs, 56,000
dlrs more than the previous seat sold on January 19, 1987, and
35,000 dlrs above the previous record high in 1983.
    The Exchange said the current bid is 280,000 dlrs and the
current offer is 315,000 dlrs.
"""


_WIRE_CREDIT = """ROBERT HALMI INC <RHI> OBTAINS REVOLVING CREDIT
NEW YORK, March 11 - Robert Halmi Inc said it obtained a
five mln dlr line of revolving credit from Wells Fargo Bank
available through February 29, 1988.
    Halmi said the funds will be used for the development and
production of television programming and for regular company
business.
    Halmi said it reported earnings of 2,800,000 dlrs in fiscal
year 1986 ended May, 1986, on sales of 17.2 mln dlrs.
"""


_WIRE_LPG = """INTERNATIONAL LPG PRICES MIXED
New York, April 3 - International LPG prices were mixed in
the past week, with North Sea prices easier while prices in the
Mediterranean and the Gulf were up in April, traders said.
    In the North Sea market, small cargoes of propane were sold
as high as 126 dlrs per tonne on the f.o.b. basis early in the
week, but prices eased after the majors posted their April
contract prices, traders said.
"""


@pytest.mark.parametrize(
    ("dump", "headline"),
    [
        # A title ending with an abbreviation's full stop is still a title.
        (_WIRE_MAGNETS, "TDK, ALLEN-BRADLEY TO MAKE MAGNETS IN U.S."),
        # The dateline line below the title opens the story: it is not the headline.
        (_WIRE_GOLD, "REAGAN'S REMARKS HELP GOLD TO RECOVER IN HONG KONG"),
        # Nor is a wrapped line of the first paragraph, which starts lower-case.
        (_WIRE_SEAT, "AMEX HAS RECORD SEAT SALE"),
        # "Credit" in a title is a loan, not a photo credit.
        (_WIRE_CREDIT, "ROBERT HALMI INC <RHI> OBTAINS REVOLVING CREDIT"),
        # A dateline may name its place in title case.
        (_WIRE_LPG, "INTERNATIONAL LPG PRICES MIXED"),
    ],
)
def test_a_wire_title_above_its_dateline_is_the_headline(dump: str, headline: str) -> None:
    assert _clean(dump).headline == headline


# A company's results as the wire sends them: the dateline, then a line per figure and no prose.
_WIRE_RESULTS = """3-MAR-1987 08:20:50.02

ASHTON-TATE <TATE> 4TH QTR NET

TORRANCE, Calif., March 3 - Shr 43 cts vs 30 cts
    Net 10.6 mln vs 5,967,000
    Revs 62.9 mln vs 41.5 mln
    Avg shrs 200.7 mln vs 20.2 mln
    NOTE: Share adjusted for January 1987 two-for-one split.
 REUTER
"""


def test_a_wire_story_whose_body_is_a_table_is_kept_from_its_dateline() -> None:
    clean = _clean(_WIRE_RESULTS)
    assert clean.headline == "ASHTON-TATE <TATE> 4TH QTR NET"
    assert clean.body[0] == "TORRANCE, Calif., March 3 - Shr 43 cts vs 30 cts"
    assert "Revs 62.9 mln vs 41.5 mln" in clean.body
    assert clean.body[-1].startswith("NOTE: Share adjusted")  # the sign-off is not the story's
    assert clean.published is not None
    assert clean.published.at == datetime(1987, 3, 3, 8, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    "dump",
    [
        # A flash: the wire's title and nothing more is no article.
        "5-MAR-1987 16:16:23.65\n\nU.S. COMMERCIAL PAPER FALLS 1.27 BILLION DLRS\n\n\n",
        # A dateline with too little after it is no story either.
        "6-MAR-1987 13:55:07.54\n\nALCOA REGULAR DIVIDEND\n\nPITTSBURGH, March 6 - Qtly div\n",
        # Lines of figures without a dateline are a page's tables, not a story.
        "HOME\n\nMarkets\n\nFTSE 100 7,012 up 0.4 pct\nDow 33,100 down 0.1 pct\n"
        "Nikkei 28,400 up 1.2 pct\nGold 1,950 dlrs an ounce\n",
    ],
)
def test_a_table_without_a_dateline_or_figures_stays_rejected(dump: str) -> None:
    result = clean_text(DecodedPage(text=dump, kind="text"))
    assert isinstance(result, Rejection)
    assert result.reason == "no_body"


@pytest.mark.parametrize(
    ("above", "title"),
    [
        # strangemachines.io: the site's menu, then a title of two words over the article.
        (["• Strangemachines\n• Challenges\n• Articles\n• Contact"], "Performant Python"),
        # spiegel.de's print archive: the day between the title and the article.
        (["• Nachrichten\n• DER SPIEGEL", "22.12.2018"], "Ein Albtraum"),
    ],
)
def test_a_title_of_one_or_two_words_above_the_article_is_its_headline(
    above: list[str], title: str
) -> None:
    day = [above[-1]] if len(above) > 1 else []
    dump = "\n\n".join([above[0], title, *day, _paragraph("budget", 1), _paragraph("council", 2)])
    assert _clean(dump).headline == title


def test_a_two_word_title_standing_alone_beats_the_caption_above_it() -> None:
    # tvtoday.de, as w3m prints it: the image's keywords and caption, a kicker, then the title.
    dump = "\n\n".join(
        [
            "Will Smith, Sohn, Trey\nWill Smith mit seinem ältesten Sohn Trey\nJudy Eddy/WENN.com",
            "Familienkrach",
            "Will Smith",
            _paragraph("budget", 1),
            _paragraph("council", 2),
        ]
    )
    assert _clean(dump).headline == "Will Smith"


def test_two_words_with_a_figure_among_a_table_are_no_title() -> None:
    # A wire story's results: "12 mths" heads a column of figures, not the story.
    dump = "\n\n".join(
        [
            "CORRECTED - MANHATTAN NATIONAL CORP <MLC> 4TH",
            "12 mths",
            _paragraph("budget", 1),
            _paragraph("council", 2),
        ]
    )
    assert _clean(dump).headline != "12 mths"


def test_a_menu_entry_above_the_article_is_no_short_title() -> None:
    dump = "\n\n".join(["• Home\n• Contact", _paragraph("budget", 1), _paragraph("council", 2)])
    result = clean_text(DecodedPage(text=dump, kind="text"))
    assert isinstance(result, Rejection)
    assert result.reason == "no_headline"


def test_a_photo_caption_beside_its_credit_is_passed_over_for_the_title() -> None:
    # space.com, as w3m prints a gallery slide between the headline and the story.
    title = "NASA Picks SpaceX, Blue Origin and More to Join Private Moon Lander Project"
    caption = "An artist's concept of Blue Origin's Blue Moon lander"
    paragraphs = [_paragraph("lander", 1), _paragraph("moon", 2), _paragraph("rocket", 3)]
    dump = "\n\n".join(
        [title, "By Mike Wall", caption, "(Image credit: Blue Origin)", "Image 3 of 5", *paragraphs]
    )
    assert _clean(dump).headline == title


def test_a_pull_quote_is_passed_over_for_the_title() -> None:
    # politifact.com: the statement checked, quoted between the headline and the article that
    # quotes it again.
    title = "What is the value of drugs that come to the U.S. border?"
    quote = '"$53 million a week is coming across the border in drugs."'
    lead = (
        "In October, Rep. David McKinley visited the border and said that "
        f"{quote} {_paragraph('drugs', 2)}"
    )
    dump = "\n\n".join(
        [
            f"{title}\nBy Matthew Digby , Minh Do\nNovember 18th, 2019",
            "Mostly True\nMcKinley",
            quote,
            lead,
            _paragraph("trade", 1),
        ]
    )
    assert _clean(dump).headline == title


_BIG_BRAND_MENU = (
    "Free Courses, Visual Marketing Workshop, Online Business Workshop, Free Roadmap, Books, "
    "All BIG Brand Books, Master Content Marketing, Master Content Strategy, Zero to Book "
    "Podcast, Free Articles, Online Business, Branding & Design, All Articles, About, Coaching "
    "Programs, Speaking, Contact"
)
_BIG_BRAND_LEAD = """\
Business focus is why some people are able to build the online business they dream \
of while others think about it … but
never actually create it?

And why is it that some people are able to build an online presence … but never get it to the \
level where they can live
off the revenue it creates?

Why — especially — does it seem like certain people come out of nowhere and claim their place in \
your area of expertise
before you’ve had a chance to claim it yourself?
"""


@pytest.mark.parametrize(
    "line",
    [
        # bigbrandsystem.com: an image's file name printed as its alt text, twice.
        "business-focus-strategybusiness-focus-strategy",
        # The same page: an image's alt text and title printed together.
        "Albert Einstein's business focusAlbert Einstein's business focus",
    ],
)
def test_an_image_s_printed_name_is_passed_over_for_the_title(line: str) -> None:
    title = "Business Focus: It’s Why Some People Triumph Online and Others Never Make It"
    menu = "\n".join(f"  • {entry}" for entry in _BIG_BRAND_MENU.split(", "))
    dump = "\n\n".join(
        [title, menu, "Share\nPin\nTweet", "Pamela WilsonPamela Wilson\n\nPamela Wilson", line]
    )
    dump += "\n\n" + _BIG_BRAND_LEAD + "\n\n" + _paragraph("focus", 1)
    cleaned = clean_text(
        DecodedPage(text=dump, kind="text", url="https://www.bigbrandsystem.com/business-focus/")
    )
    assert isinstance(cleaned, CleanPage), cleaned
    assert cleaned.headline == title


def test_a_caption_is_the_headline_only_when_nothing_else_can_be() -> None:
    # A page without a headline is rejected: a caption is better than losing the story.
    caption = "An artist's concept of Blue Origin's Blue Moon lander"
    paragraphs = [_paragraph("lander", 1), _paragraph("moon", 2), _paragraph("rocket", 3)]
    dump = "\n\n".join([caption, "(Image credit: Blue Origin)", "Image 3 of 5", *paragraphs])
    assert _clean(dump).headline == caption


@pytest.mark.parametrize(
    ("line", "quoted"),
    [
        # politifact.com: the statement a fact check quotes.
        ('"$53 million a week is coming across the border in drugs."', True),
        # breitbart.com: a headline that opens and ends quoting someone in single marks.
        (
            "'Neutral' Snopes Fact-Checker David Emery: 'Are There Any Un-Angry Trump Supporters?'",
            False,
        ),
    ],
)
def test_only_a_line_wholly_in_double_marks_reads_as_a_quotation(line: str, quoted: bool) -> None:
    assert (_QUOTED.fullmatch(line) is not None) is quoted


def test_a_call_to_action_is_passed_over_for_the_title() -> None:
    # catchitkansas.com: a gallery's captions, the date line, then a link's text over the story.
    title = "2018 Boys State Swim Results"
    dump = "\n\n".join(
        [
            title,
            "Aidan Gantenbein 100 backstroke",
            "Miguel Bernal North Diving",
            "Posted: Fri 6:45 PM, Feb 16, 2018 |\nUpdated: Sat 8:31 PM, Feb 17, 2018",
            "CLICK FOR FULL STATE SWIM RESULTS",
            _paragraph("state swim meet", 1),
            _paragraph("diving", 2),
        ]
    )
    url = "https://www.catchitkansas.com/content/news/Friday-State-Swim-Results-474349633.html"
    cleaned = clean_text(DecodedPage(text=dump, kind="text", url=url))
    assert isinstance(cleaned, CleanPage), cleaned
    assert cleaned.headline == title


@pytest.mark.parametrize(
    "furniture",
    [
        # panarmenian.net: the heading of the section's story list, printed beside the story.
        "Other news in this section",
        # slate.com: a list of the section's stories between the headline and the article.
        "More on Slate Book Review",
        # wired.com and others: the heading over teasers.
        "You may also like",
        # profootballtalk.nbcsports.com: the comments' heading, as WordPress prints it.
        "34 responses to “Anthony Lynn: “We needed to win this game””",
        # vortexcannon.org: the trail to the post, the post's title not repeated in it.
        "Home » Dare to Play »",
        # mensagensreflexao.com.br: the trail ending with the title.
        "Mensagens » Mensagens de Autoestima » Só quem se Ama…",
        # linknaija.com: the site's name and tagline.
        "LinkNaija | Nigeria's popular news platform",
    ],
)
def test_a_section_heading_or_breadcrumb_is_passed_over_for_the_title(furniture: str) -> None:
    title = "Amnesty. More than 100 protesters killed in Iran unrest"
    # Neither line shares a word with the lead: only what the line is tells them apart.
    dump = "\n\n".join([title, furniture, _paragraph("budget", 1), _paragraph("council", 2)])
    assert _clean(dump).headline == title


@pytest.mark.parametrize(
    ("line", "breadcrumb"),
    [
        ("Home » Dare to Play »", True),
        ("LinkNaija | Nigeria's popular news platform", True),
        # vortexcannon.org: a post's title naming a release and its month.
        ("Dare to Play 3 / October pack", False),
        # techcrunch.com: an author's name, handle and the story's age.
        ("Catherine Shu @catherineshu / 2 days", False),
        # latimes.com: a slash inside a name is no path mark.
        (
            "Column: The Gannett/GateHouse merger sends a dismal signal about the future of"
            " local news",
            False,
        ),
    ],
)
def test_only_short_segments_after_home_or_a_name_read_as_a_breadcrumb(
    line: str, breadcrumb: bool
) -> None:
    assert _is_breadcrumb(line) is breadcrumb


def test_a_breadcrumb_on_the_title_s_line_is_passed_over_for_the_title() -> None:
    # ascom.com: w3m prints the trail and the <h1> on one line, long enough to open the article's
    # run, then the title again on its own.
    title = (
        "Ascom and Dräger introduce integrated clinical alarm management solution in North "
        "America to improve patient care"
    )
    dump = "\n\n".join(
        [
            "□ Customer Support\n□ Business News\n□ Media Corner",
            f"Home News Business News {title}",
            title,
            "August 23, 2018",
            _paragraph("alarm", 1),
            _paragraph("patient", 2),
        ]
    )
    cleaned = _clean(dump)
    assert cleaned.headline == title
    assert cleaned.body == (_paragraph("alarm", 1), _paragraph("patient", 2))
    assert cleaned.published is not None
    assert cleaned.published.at.date().isoformat() == "2018-08-23"


def test_the_title_over_a_byline_wins_over_related_stories_nearer_the_body() -> None:
    # nypost.com: the headline and its byline, then a list of the topic's other stories right
    # above the article.
    title = "Taliban say they freed US, Australian hostages for 3 terrorist figures"
    related = [
        "US professor to be freed in prisoner swap between Afghanistan and Taliban",
        "Afghan woman politician sees Taliban talks as only hope for future",
        "1 killed, dozens wounded in Taliban attacks on Afghan election day",
    ]
    dump = "\n\n".join(
        [
            title,
            "By Lia Eustachewich and Yaron Steinbuch",
            "November 19, 2019 | 4:20am | Updated November 19, 2019 | 9:32pm",
            "More On:",
            "taliban",
            *related,
            _paragraph("Taliban", 1),
            _paragraph("prisoner exchange", 2),
        ]
    )
    assert _clean(dump).headline == title


def test_a_standfirst_between_the_title_and_its_byline_is_not_the_title() -> None:
    # therealdeal.com: the headline, the standfirst, the section and date, then the byline.
    title = "Major WeWork layoffs to begin today"
    dump = "\n\n".join(
        [
            title,
            "“We have to make some necessary job eliminations,” WeWork chairman Marcelo Claure"
            " said in an email to employees Monday",
            "TRD NATIONAL /\nNov.November 18, 2019 12:02 PM\nBy David Jeans",
            _paragraph("budget", 1),
            _paragraph("council", 2),
        ]
    )
    url = (
        "https://therealdeal.com/2019/11/18/thousands-of-wework-employees-to-be-laid-off-this-week/"
    )
    cleaned = clean_text(DecodedPage(text=dump, kind="text", url=url))
    assert isinstance(cleaned, CleanPage), cleaned
    assert cleaned.headline == title


def test_the_title_over_its_date_wins_over_subheadings_nearer_the_body() -> None:
    # jeongdongtheater.com: the post's title and its date line, then the post's own headings.
    title = (
        "[The Palace: Tale of Jang Noksu] The Beauty of Korea Revealed at ‘2018 Welcome"
        " Daehak-ro Festival’! To the Actual Scene!"
    )
    dump = "\n\n".join(
        [
            title,
            "October 15, 2018/0 Comments/in Jeongdong Perfomance News /by jdadmin",
            "@noksutagram <The Palace: Tale of Jang Noksu> ‘2018 Welcome Daehak-ro Festival’"
            " Performance",
            "2018 Jeongdong Theater Tradition Series Performance",
            "<The Palace: Tale of Jang Noksu>",
            "[KakaoTalk_20181015_091054966]",
            "2018 Jeongdong Theater Tradition Series Performance [The Palace: Tale of Jang Noksu]"
            " ‘2018 Welcome Daehak-ro Festival’",
            "The refreshing autumn sky!",
            "This is Daehak-ro Marronnier Park where the air is filled with the scent of fall~",
            "The reason we came to Marronnier Park!",
            "It’s because <The Palace: Tale of Jang Noksu> was part of the opening ceremony of"
            " ‘2018 Welcome Daehak-ro Festival’\nwhich will be held until October 31st 2018!",
            _paragraph("festival", 1),
            _paragraph("performance", 2),
        ]
    )
    assert _clean(dump).headline == title


_CNN_PLAYLIST = [
    "Trump: Trade talks between US and China going well",
    "China censors a lot, from Winnie the Pooh to the NBA",
    "US blacklists 28 Chinese organizations and companies",
    "The trade war's latest victim: Manufacturing",
    "Airline warns staff who participate in Hong Kong protests",
    "Carrie Lam says Hong Kong protesters are hurting economy",
    "Huawei launches operating system as a hedge in trade war",
    "Huawei and 5G: What's at stake",
    "This is the worst case scenario for the US-China trade war",
    "What blacklisting Huawei means for the US-China trade war",
    "How Jack Ma changed China",
    "Why American fast food chains will do anything to win in China",
    "This is China's answer to the electric car",
    "What you need to know about Tencent",
    "Huawei says ban won't make America safe",
    "Alibaba thinks US businesses are ready for their platform",
    "South Park creators give 'official apology' after reports",
]


def test_a_title_over_its_byline_is_found_above_a_long_playlist() -> None:
    # cnn.com: the headline, byline and date, then a video playlist of more than the window's
    # fifty units, then the article.
    title = "Investors don't seem to know what to make of the US-China trade war"
    playlist = [
        f"[wAAACH5BAE]\n[19071{n:02d}150]\n\n{item}" for n, item in enumerate(_CNN_PLAYLIST)
    ]
    dump = "\n\n".join(
        [
            title,
            "By Jill Disis, CNN Business",
            "Updated 0339 GMT (1139 HKT) November 19, 2019",
            *playlist,
            _paragraph("trade war", 1),
            _paragraph("markets", 2),
        ]
    )
    assert _clean(dump).headline == title
