"""Region classification: the seed, the ambiguity guards, labels and URLs, and both taxonomies."""

from __future__ import annotations

import dataclasses
import json
import string
from pathlib import Path

import pycountry
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.pipeline.classify import (
    CLASSIFIER_VERSION,
    REGIONS,
    TAXONOMIES,
    _cues,
    classify,
    load_taxonomy,
)
from worker.pipeline.gazetteer import load_gazetteer
from worker.pipeline.types import CleanPage, RegionVerdict

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
SEED = SHARED_DATA / "seed" / "bbc-2009-12-16-nato-russia-helicopters.txt"
REUTERS = SHARED_DATA / "regions" / "reuters21578-train.jsonl"


def page(headline: str, *body: str, labels: tuple[str, ...] = ()) -> CleanPage:
    return CleanPage(
        headline=headline, published=None, body=body, kind="text", section_labels=labels
    )


def places(verdict: RegionVerdict) -> list[tuple[str, str | None]]:
    return [(e.place, e.country) for e in verdict.evidence if e.where not in ("section", "url")]


def countries(verdict: RegionVerdict) -> set[str | None]:
    return {country for _, country in places(verdict)}


@pytest.fixture(scope="module")
def seed_page() -> CleanPage:
    if not SEED.exists():
        pytest.skip(f"shared data not found at {SEED}: the seed dump is needed")
    lines = SEED.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Nato Secretary General"))
    end = next(
        i for i, line in enumerate(lines) if line.endswith("should not see that as a threat.")
    )
    body = tuple(line for line in lines[start : end + 1] if line.strip())
    return page("Nato chief seeks Russian helicopters for Afghanistan", *body)


def test_interface() -> None:
    assert CLASSIFIER_VERSION.startswith("regions/")
    assert REGIONS == (
        "Africa", "Americas", "Asia-Pacific", "Europe", "Middle East", "South Asia", "UK"
    )  # fmt: skip
    assert set(TAXONOMIES) >= {"bbc", "un-m49"}


def test_seed_is_europe_without_labels(seed_page: CleanPage) -> None:
    verdict = classify(seed_page)
    assert verdict.region == "Europe"
    assert verdict.scores["Europe"] > verdict.scores["South Asia"]
    assert 0.5 < verdict.confidence <= 1.0
    found = {place for place, _ in places(verdict)}
    assert {"Russia", "Moscow", "Kremlin", "Afghanistan", "Russian"} <= found
    headline = [e for e in verdict.evidence if e.where == "headline"]
    assert {(e.place, e.country) for e in headline} == {("Russian", "RU"), ("Afghanistan", "AF")}
    assert all(e.weight > 1.0 for e in headline)


def test_seed_is_europe_with_labels_and_more_sure(seed_page: CleanPage) -> None:
    labelled = dataclasses.replace(seed_page, section_labels=("Europe",))
    plain, verdict = classify(seed_page), classify(labelled)
    assert verdict.region == "Europe"
    assert verdict.confidence >= plain.confidence
    assert any(e.where == "section" and e.region == "Europe" for e in verdict.evidence)


def test_seed_georgia_is_the_country(seed_page: CleanPage) -> None:
    georgia = [e for e in classify(seed_page).evidence if e.place == "Georgia"]
    assert georgia
    assert {e.country for e in georgia} == {"GE"}


def test_georgia_the_us_state_next_to_atlanta() -> None:
    verdict = classify(
        page("Storms hit Georgia", "Heavy rain flooded roads around Atlanta, Georgia, on Monday.")
    )
    assert ("Georgia", "US") in places(verdict)
    assert verdict.region == "Americas"


def test_georgia_the_country_next_to_tbilisi() -> None:
    verdict = classify(
        page(
            "Protests in Georgia", "Thousands marched in Tbilisi, Georgia, against the government."
        )
    )
    assert ("Georgia", "GE") in places(verdict)
    assert verdict.region == "Europe"


def test_michael_jordan_is_not_a_country() -> None:
    verdict = classify(page("Bulls win again", "Michael Jordan scored 40 points in Chicago."))
    assert "JO" not in countries(verdict)
    assert verdict.region == "Americas"


def test_jordan_after_a_place_preposition_is_the_country() -> None:
    verdict = classify(
        page("Refugees cross border", "Aid agencies said refugees arrived in Jordan.")
    )
    assert ("Jordan", "JO") in places(verdict)
    assert verdict.region == "Middle East"


def test_chad_the_name_and_chad_the_country() -> None:
    named = classify(page("Team news", "Chad Johnson said the team was ready."))
    assert "TD" not in countries(named)
    assert named.region == "unknown"
    country = classify(page("Rebels advance", "Rebels advanced on N'Djamena, the capital of Chad."))
    assert ("Chad", "TD") in places(country)
    assert country.region == "Africa"


def test_turkey_the_bird() -> None:
    verdict = classify(
        page("Holiday recipes", "Roast the turkey for three hours.", "Turkey dinners are popular.")
    )
    assert "TR" not in countries(verdict)
    assert verdict.region == "unknown"
    country = classify(page("Talks in Ankara", "Ministers met in Turkey and Greece this week."))
    assert ("Turkey", "TR") in places(country)


def test_nice_at_a_sentence_start_is_an_adjective() -> None:
    verdict = classify(page("Weekend weather", "Nice weather is expected. Nice and warm, too."))
    assert verdict.region == "unknown"
    city = classify(page("Festival opens", "The film festival opened in Nice on the Riviera."))
    assert ("Nice", "FR") in places(city)


def test_reading_and_mobile_as_words() -> None:
    verdict = classify(
        page("Study habits", "Reading books helps children.", "Mobile phones distract them.")
    )
    assert verdict.region == "unknown"


def test_wales_inside_new_south_wales() -> None:
    verdict = classify(page("Bushfires spread", "Fires burned across New South Wales overnight."))
    assert "GB" not in countries(verdict)
    assert verdict.region == "Asia-Pacific"


def test_paris_hilton_is_a_person() -> None:
    verdict = classify(page("Celebrity news", "Paris Hilton launched a new perfume on Tuesday."))
    assert "FR" not in countries(verdict)
    assert verdict.region == "unknown"


def test_victoria_the_name() -> None:
    verdict = classify(page("Pop star returns", "Victoria Beckham launched a new collection."))
    assert verdict.region == "unknown"


def test_all_capitals_headline_is_read_without_case_clues() -> None:
    verdict = classify(page("JAPAN RAISES RATES", "The central bank acted on Tuesday."))
    assert ("JAPAN", "JP") in places(verdict)
    assert verdict.region == "Asia-Pacific"


def test_section_label_is_a_strong_signal() -> None:
    text = page("Talks resume", "Diplomats met in Washington and Paris.", labels=("Middle East",))
    verdict = classify(text)
    assert verdict.region == "Middle East"
    assert any(e.where == "section" and e.country is None for e in verdict.evidence)


def test_url_path_is_a_strong_signal() -> None:
    text = page("Talks resume", "Officials said talks would resume next week.")
    assert classify(text).region == "unknown"
    for url, region in [
        ("https://www.bbc.co.uk/news/world-africa-12345678", "Africa"),
        ("https://www.example.com/world/middleeast/talks.html", "Middle East"),
        ("https://www.example.com/world/europe/", "Europe"),
        ("https://www.bbc.com/news/uk-politics-123", "UK"),
        ("https://www.bbc.co.uk/news/world-south-asia-10569719", "South Asia"),
    ]:
        verdict = classify(text, url=url)
        assert verdict.region == region, url
        assert [e.where for e in verdict.evidence] == ["url"]


def test_no_evidence_is_unknown() -> None:
    verdict = classify(page("Markets rallied", "Shares rose sharply as investors bought stocks."))
    assert verdict == RegionVerdict(region="unknown", confidence=0.0)
    assert classify(page("", "")).region == "unknown"


def test_confidence_is_a_probability_and_grows_with_agreement() -> None:
    mixed = classify(page("Talks", "Officials from France and Japan met.")).confidence
    agreed = classify(
        page("France votes", "Voters in Paris and Lyon went to the polls across France.")
    ).confidence
    for confidence in (mixed, agreed):
        assert 0.0 <= confidence <= 1.0
    assert agreed > mixed


def test_other_taxonomy() -> None:
    text = page("Egypt votes", "Voters in Cairo went to the polls.")
    assert classify(text).region == "Middle East"
    m49 = classify(text, taxonomy="un-m49")
    assert m49.region == "Africa"
    assert set(m49.scores) <= set(load_taxonomy("un-m49").regions)
    assert classify(text, taxonomy=load_taxonomy("un-m49")).region == "Africa"
    with pytest.raises(ValueError, match="unknown taxonomy"):
        classify(text, taxonomy="no-such-taxonomy")


@pytest.mark.parametrize("name", ["bbc", "un-m49"])
def test_every_iso_country_has_a_region(name: str) -> None:
    taxonomy = load_taxonomy(name)
    for country in pycountry.countries:
        assert taxonomy.countries.get(country.alpha_2) in taxonomy.regions, country.name
    assert set(taxonomy.areas.values()) <= set(taxonomy.regions)
    assert set(taxonomy.labels.values()) <= set(taxonomy.regions)


def test_bbc_editorial_placements() -> None:
    countries = load_taxonomy("bbc").countries
    expected = {
        "GB": "UK", "FR": "Europe", "RU": "Europe", "TR": "Europe", "GE": "Europe",
        "EG": "Middle East", "AF": "South Asia", "KZ": "Asia-Pacific", "US": "Americas",
        "NG": "Africa",
    }  # fmt: skip
    assert {code: countries[code] for code in expected} == expected


def test_every_country_name_is_recognised() -> None:
    regions = load_taxonomy("bbc").countries
    misread = []
    for country in pycountry.countries:
        name = getattr(country, "common_name", None) or country.name
        if "," in name or "(" in name:
            continue  # ISO's "Korea, Republic of" is not how a writer names a country
        verdict = classify(page(f"News from {name}", f"Reporters travelled to {name}."))
        # "Congo" alone names two countries; every other name must find its own.
        found = country.alpha_2 in countries(verdict) or name == "Congo"
        if verdict.region != regions[country.alpha_2] or not found:
            misread.append(name)
    assert misread == []


def reuters_held_out(limit: int) -> list[tuple[str, CleanPage]]:
    if not REUTERS.exists():
        pytest.skip(f"shared data not found at {REUTERS}: the Reuters stories are needed")
    sample: list[tuple[str, CleanPage]] = []
    with REUTERS.open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if row["newid"] % 5 or not row.get("region_single") or not row.get("body"):
                continue
            body = tuple(" ".join(p.split()) for p in row["body"].split("\n    ") if p.strip())
            sample.append((row["region_single"], page(row["title"] or "", *body)))
            if len(sample) == limit:
                break
    return sample


def test_reuters_held_out_accuracy_floor() -> None:
    sample = reuters_held_out(600)
    right = sum(classify(text).region == gold for gold, text in sample)
    assert right / len(sample) > 0.85


def test_dotted_abbreviations_and_pronouns() -> None:
    verdict = classify(page("U.S. RATES", "The U.S. Treasury sold bills."))
    assert ("U.S.", "US") in places(verdict)
    pronoun = classify(page("Interview", "Us and them, she said, is the theme."))
    assert pronoun.region == "unknown"
    new_zealand = classify(page("N.Z. BUDGET DEFICIT WIDENS", "The deficit widened."))
    assert ("N.Z.", "NZ") in places(new_zealand)


def test_us_state_abbreviation_after_a_comma() -> None:
    verdict = classify(page("Mine reserves up", "The mine near Winnemucca, Nev., has more ore."))
    assert ("Nev", "US") in places(verdict)
    assert verdict.region == "Americas"
    # "Miss" and "La" are read as states only in the "Town, Abbr." position.
    assert classify(page("Pageant", "Miss Smith won the crown.")).region == "unknown"


def test_currency_and_company_cues_decide_only_without_places() -> None:
    american = classify(page("Earnings", "Acme Inc said profit rose to 5 mln dlrs."))
    assert american.region == "Americas"
    assert {e.place for e in american.evidence} == {"Inc", "dlrs"}
    british = classify(page("Results", "Acme Plc said profit rose to 5 mln stg."))
    assert british.region == "UK"
    # Dollars are read as the dollar of the country the story names.
    kiwi = classify(page("Reserves fall", "New Zealand's reserves fell to 3 billion dlrs."))
    assert kiwi.region == "Asia-Pacific"
    assert ("dlrs", "NZ") in places(kiwi)
    unknown_dollar = classify(page("Prices", "It cost B$ 5 and US$ 7."))
    assert "US$" in {e.place for e in unknown_dollar.evidence}
    assert "B$" not in {e.place for e in unknown_dollar.evidence}


def test_a_shouted_town_needs_support() -> None:
    # "VAN" is a Turkish city, but in an all-capitals headline about a US company it is a word.
    verdict = classify(page("VAN DORN CO 4TH QTR NET", "Shr 52 cts vs 45 cts."))
    assert "TR" not in countries(verdict)
    assert verdict.region == "Americas"


def test_hostile_input_completes() -> None:
    for text in ("A" * 200_000, "A." * 50_000, "Paris " * 20_000, "'" * 100_000, "U.S" * 30_000):
        verdict = classify(page(text[:500], text), url="https://x.example/" + "a-" * 5000)
        assert 0.0 <= verdict.confidence <= 1.0


def test_towns_inside_company_and_person_names() -> None:
    company = classify(page("Drug approved", "Bristol-Myers said the drug was approved."))
    assert "GB" not in countries(company)
    person = classify(page("Profit rises", "Finance director Blackburn said profit rose."))
    assert "GB" not in countries(person)
    capital = classify(page("Talks", "Moscow said the talks would go on."))
    assert ("Moscow", "RU") in places(capital)
    bank = classify(page("Bank shares", "Morgan Stanley shares rose."))
    assert "FK" not in countries(bank)


def test_umlauts_written_out() -> None:
    verdict = classify(page("Bond issue", "The state of Bavaria issued a bond in Duesseldorf."))
    assert ("Duesseldorf", "DE") in places(verdict)


_PIECES = st.sampled_from(
    [*"aAbBeEgGnNrRsSuUzZ .,;:'’-\n$()Üß", "U.S.", "Paris", "Georgia", "New ", "York", "Mr "]
)


def _news_text(max_pieces: int) -> st.SearchStrategy[str]:
    return st.lists(_PIECES, max_size=max_pieces).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    headline=_news_text(20),
    body=st.lists(_news_text(80), max_size=5),
    labels=st.lists(st.text(max_size=20), max_size=3),
    url=st.one_of(st.none(), st.text(max_size=80)),
)
def test_any_text_gives_a_well_formed_verdict(
    headline: str, body: list[str], labels: list[str], url: str | None
) -> None:
    verdict = classify(page(headline, *body, labels=tuple(labels)), url=url)
    assert verdict.region in (*REGIONS, "unknown")
    assert 0.0 <= verdict.confidence <= 1.0
    if verdict.region == "unknown":
        assert verdict.confidence == 0.0
        assert not verdict.evidence
    else:
        assert verdict.scores[verdict.region] == max(verdict.scores.values())
        assert all(e.region in REGIONS and e.weight > 0 for e in verdict.evidence)


def test_a_name_glued_to_a_word_is_skipped_and_scanning_goes_on() -> None:
    verdict = classify(page("Launch", "The eParis app and the xBerlin site launched in Madrid."))
    assert places(verdict) == [("Madrid", "ES")]


def test_a_cue_counts_once_however_it_is_spelt() -> None:
    verdict = classify(page("Results", "Profit was 5 mln dlrs, or 50 cts a share, against 4 dlr."))
    spellings = [e.place for e in verdict.evidence if e.country == "US"]
    assert len([s for s in spellings if s in ("dlr", "dlrs", "dollars", "$")]) == 1
    assert len([s for s in spellings if s in ("cts", "cents")]) == 1


def test_a_dollar_sign_before_code_is_no_currency() -> None:
    # medium.com's Dokku guide and a Rubocop post: a shell's prompt and Ruby's globals.
    for code in ("Then run: $ git push dokku master", "It checks $stdout and $(pwd) first."):
        assert classify(page("Host your Node app", code)).region == "unknown", code
    assert classify(page("Deal agreed", "The unit was sold for $ 30 million.")).region == (
        "Americas"
    )


def test_cue_words_in_an_all_capitals_headline() -> None:
    verdict = classify(page("ACME PLC SELLS UNIT FOR 5 MLN STG", "The sale was agreed on Monday."))
    assert verdict.region == "UK"
    assert {(e.place, e.country) for e in verdict.evidence} == {("PLC", "GB"), ("stg", "GB")}
    # Mixed case keeps cue words case-sensitive: "Won" opening a sentence is not the currency.
    assert classify(page("Results", "Won the vote.")).region == "unknown"


def test_cue_words_beside_characters_outside_ascii() -> None:
    gazetteer = load_gazetteer()
    text = "Café Ltd said profit rose to 5 mln stg — a record."
    assert _cues(["Résultats", text], gazetteer) == ["Ltd", "stg"]
    # A no-break or thin space separates words as a space does.
    spaced = "Profit rose to 5\u00a0mln\u2009stg at Café\u00a0Ltd."
    assert _cues(["Résultats", spaced], gazetteer) == ["Ltd", "stg"]
    verdict = classify(page("Résultats", text))
    assert verdict.region == "UK"
    assert ("stg", "GB") in places(verdict)


_PUNCTUATION = string.punctuation.replace("$", "")  # "$" is part of cues such as "US$"
_CUE_PIECES = st.sampled_from(
    [*" .,;:'-\n\t$()/é—“”", "\u00a0", "\u2009", "\u3000", "\x1c", "\x85", "stg", "Ltd", "US",
     "dlrs", "Café", "won", "€", "日本"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(blocks=st.lists(st.lists(_CUE_PIECES, max_size=30).map("".join), min_size=1, max_size=4))
def test_cue_words_are_found_as_splitting_the_text_finds_them(blocks: list[str]) -> None:
    # The reference: split the str at punctuation and whitespace (the bytes path must agree).
    gazetteer = load_gazetteer()
    text = "\n".join(blocks).replace("’", "'")
    words = set(text.translate(str.maketrans(dict.fromkeys(_PUNCTUATION, " "))).split())
    # A dollar sign is read from the amount after it (test_a_dollar_sign_before_code_is_...).
    cue_words = {word for word in words & gazetteer.cue_words if "$" not in word}
    expected = {gazetteer.cue_spellings.get(word, word) for word in cue_words}
    found = {gazetteer.cue_spellings.get(cue, cue) for cue in _cues(blocks, gazetteer)}
    shouting = any(block.isupper() for block in blocks)  # capitals add their own readings
    assert expected <= found if shouting or "$" in text else expected == found


def test_a_small_town_alone_is_not_read() -> None:
    # Dudley (about 80,000 to 200,000 people by any count) is a first name here.
    alone = classify(page("Dudley Taft to pursue bid", "Dudley Taft said he would bid."))
    assert "GB" not in countries(alone)
    # With its country named, the town is read.
    supported = classify(page("Factory closes", "The plant in Dudley, England, will close."))
    assert ("Dudley", "GB") in places(supported)
    # A big city needs no support.
    assert ("Chicago", "US") in places(classify(page("Storm", "Snow fell on Chicago.")))


def test_a_possessive_acronym_keeps_its_capitals() -> None:
    verdict = classify(page("Exports", "The USDA's weekly report showed steady corn exports."))
    assert ("USDA's", "US") in places(verdict)
    assert verdict.region == "Americas"


def test_body_read_up_to_a_budget_after_the_lead() -> None:
    filler = " ".join(["The market was quiet and prices were steady."] * 30)
    late = page(
        "Talks", "Officials met.", "They talked.", filler, filler, filler, "In Kenya, talks."
    )
    assert classify(late).region == "unknown"
    early = page("Talks", "Officials met.", "They talked.", "In Kenya, talks.", filler)
    assert classify(early).region == "Africa"


def dateline_of(verdict: RegionVerdict) -> list[tuple[str, str | None]]:
    return [(e.place, e.country) for e in verdict.evidence if e.where == "dateline"]


def test_dateline_is_read_where_the_story_names_no_other_place() -> None:
    # Reuters-21578 #42: only the dateline says where.
    verdict = classify(
        page(
            "ICO PRODUCERS TO PRESENT NEW COFFEE PROPOSAL",
            "LONDON, Feb 26 - International Coffee Organization, ICO, producing countries will "
            "present a proposal for reintroducing export quotas for 12 months from April 1 with a "
            "firm undertaking to try to negotiate up to September 30 any future quota distribution "
            "on a new basis, ICO delegates said.",
        )
    )
    assert dateline_of(verdict) == [("LONDON", "GB")]
    assert verdict.region == "UK"


def test_dateline_qualifier_picks_the_namesake() -> None:
    # Reuters-21578 #33: San Jose is Costa Rica's capital, but "Calif." says which.
    verdict = classify(
        page(
            "EXCELAN <EXLN> MAKES INITIAL PUBLIC OFFERING",
            "SAN JOSE, Calif., Feb 26 - Excelan Inc said it is making an initial public offering "
            "of 2,129,300 shares of common stock at 12 dlrs per share.",
        )
    )
    assert dateline_of(verdict) == [("SAN JOSE", "US")]
    assert verdict.region == "Americas"


@pytest.mark.parametrize(
    ("lead", "place", "country"),
    [
        # An AP story (Scrapinghub benchmark), and Reuters-21578 #40 and #5148 in other cases.
        (
            "LONDON (AP) — Britain's Conservative Party was accused Wednesday of trying to "
            "deceive voters",
            "LONDON",
            "GB",
        ),
        ("Toronto, Feb 26 - Standard Trustco said it expects earnings", "Toronto", "CA"),
        ("****BELGRADE, March 14 - Yugoslavian steel output will rise", "BELGRADE", "RS"),
        # Reuters-21578 #4562 (no comma) and #510 (a hyphen in the place).
        ("JOHANNESBURG March 13 - Shr 516 cts vs 347", "JOHANNESBURG", "ZA"),
        ("WINSTON-SALEM, N.C., March 2 - R.J. Reynolds Tobacco Co", "WINSTON-SALEM", "US"),
    ],
)
def test_dateline_forms(lead: str, place: str, country: str) -> None:
    assert dateline_of(classify(page("", lead))) == [(place, country)]


def test_a_sentence_with_a_dash_is_not_a_dateline() -> None:
    # Reuters-21578 #7684 (a place in ordinary case needs a date or an agency's name after it).
    verdict = classify(
        page("", "Gulf Canada Corp - which drills in the Beaufort Sea - said a discharge was safe.")
    )
    assert dateline_of(verdict) == []


def test_northern_ireland_is_uk() -> None:
    # A CBS Sports report (Scrapinghub benchmark).
    verdict = classify(
        page(
            "",
            "The Netherlands clinched despite drawing with Northern Ireland, while Austria "
            "punched its ticket by beating North Macedonia.",
        )
    )
    assert ("Northern Ireland", "GB") in places(verdict)
    assert ("Ireland", "IE") not in places(verdict)


def test_a_language_tag_in_the_url_names_the_edition_not_the_place() -> None:
    # msn.com's US edition carrying a story from Aberdeenshire: "/en-us/" is the edition.
    text = page(
        "The man whose duvet nearly killed him: How this medical mystery was solved",
        "The 60-year-old from Aberdeenshire in Scotland developed a cough.",
    )
    url = "https://www.msn.com/en-us/health/other/the-man-whose-duvet-nearly-killed-him/ar-BBWXwNX"
    verdict = classify(text, url=url)
    assert "url" not in [e.where for e in verdict.evidence]
    assert verdict.region == "UK"
    # A section named in the path still counts beside the tag.
    assert classify(page("Talks resume"), url="https://www.msn.com/en-gb/news/us/x").region == (
        "Americas"
    )


@pytest.mark.parametrize(
    ("headline", "lead"),
    [
        # BBC English regions and counties ISO 3166-2 does not list.
        ("Flood warnings across the Midlands", "Rivers burst their banks overnight."),
        ("Man charged after Merseyside stabbing", "Police were called on Friday."),
        ("Kelly Osbourne blasts Prince Harry", "The Duke of Sussex spoke on Tuesday."),
        ("Buses cut in West Yorkshire", "Operators blamed a shortage of drivers."),
    ],
)
def test_english_regions_and_counties_outside_iso_are_uk(headline: str, lead: str) -> None:
    assert classify(page(headline, lead)).region == "UK"


def test_a_region_shared_with_another_country_follows_the_article() -> None:
    # Zimbabwe's Midlands province, in a story that names Zimbabwe.
    text = page("Drought in the Midlands", "Farmers in Zimbabwe's Midlands province lost crops.")
    assert classify(text).region == "Africa"


def test_home_country_reads_a_namesake_as_its_own() -> None:
    # A Sunday Times headline (2019): on a British site, Boston is the Lincolnshire town.
    text = page("Get on with it, says Boston — the town with highest leave vote")
    assert classify(text).region == "Americas"
    verdict = classify(text, url="https://www.thetimes.co.uk/article/get-on-with-it")
    assert places(verdict) == [("Boston", "GB")]
    assert verdict.region == "UK"
    # A brand domain says nothing of a home.
    assert classify(text, url="https://www.example.tv/news/").region == "Americas"


def test_home_country_supports_small_towns() -> None:
    # A PA story on dailymail.co.uk: Salisbury and Swindon need their country or a home.
    text = page(
        "Man charged after poppy wreaths thrown from war memorial",
        "The man, of no fixed address in Swindon, will appear at Salisbury Magistrates Court on "
        "Tuesday.",
    )
    assert classify(text).region == "unknown"
    url = "https://www.dailymail.co.uk/wires/pa/article-6590789/Man-charged.html"
    verdict = classify(text, url=url)
    assert ("Swindon", "GB") in places(verdict)
    assert verdict.region == "UK"


def test_a_county_and_a_town_support_each_other() -> None:
    # ITV News West Country: no country named, but a county and a town in it.
    verdict = classify(
        page(
            "E-fit appeal after sexual assault in Swindon",
            "Wiltshire Police have released an e-fit of a man they want to speak to following a "
            "sexual assault in Swindon town centre.",
        )
    )
    assert {("Wiltshire", "GB"), ("Swindon", "GB")} <= set(places(verdict))
    assert verdict.region == "UK"


def test_a_county_after_a_town_picks_its_namesake() -> None:
    # An Irish Times headline (2018).
    verdict = classify(page("In Boston, Lincolnshire, Brexit still means Brexit"))
    assert ("Boston", "GB") in places(verdict)
    assert verdict.region == "UK"


def test_a_county_alone_is_not_read() -> None:
    # Reuters-21578 #2732: an Irish county's name is a Texan firm's.
    verdict = classify(
        page(
            "TIPPERARY NEGOTIATING WALKER <WEP> INVESTMENT",
            "HOUSTON, March 6 - Walker Energy Partners said restructuring of the partnership is "
            "being negotiated with <Tipperary Corp> which is considering a capital infusion into "
            "the partnership. Walker Energy said Tipperary's investment will be conditioned upon "
            "restructuring of the partnership's debt.",
        )
    )
    assert "IE" not in countries(verdict)
    assert verdict.region == "Americas"


def test_dateline_reads_the_biggest_town_of_a_name() -> None:
    # Reuters-21578 #536: Cleveland is also an English district's name.
    verdict = classify(
        page(
            "TRANZONIC COS <TNZ> SETS QUARTERLY",
            "CLEVELAND, March 2 - Qtly div 11 cts vs 11 cts prior Pay April 17 Record March 20",
        )
    )
    assert dateline_of(verdict) == [("CLEVELAND", "US")]
    assert verdict.region == "Americas"


def test_places_outweigh_currency_and_company_cues() -> None:
    # Reuters-21578 #1886: a Californian firm's South African sale is South African news.
    verdict = classify(
        page(
            "WTC INTERNATIONAL <WAF> SETS SOUTH AFRICA TRUST",
            "TORRANCE, Calif., March 4 - WTC International N.V. said it has sold its affiliates in "
            "South Africa to an independent trust, created to continue the operations in that "
            "country. The purchase price was about 8.4 mln dlrs, represented by a ten-year "
            "interest-bearing note, payable annually at 11 pct, to be paid by the trust out of "
            "proceeds from the South African operations, the company said.",
            "WTC said its board concluded in view of the social, political and economic situatin "
            "in South Africa, it was best to separate the company from its interests there.",
        )
    )
    assert verdict.region == "Africa"
    cues = [e for e in verdict.evidence if e.place == "dlrs"]
    assert cues
    assert all(e.weight < 1.0 for e in cues)


def test_dateline_reads_an_older_name_of_a_capital() -> None:
    # Reuters-21578 #2990 and #945: GeoNames' other names of capitals and the biggest cities.
    berne = classify(
        page("", "BERNE, March 9 - Swiss industrial output rose nine pct in the fourth quarter")
    )
    assert dateline_of(berne) == [("BERNE", "CH")]
    peking = classify(page("", "PEKING, March 3 - Mobil Corp said it will open an office"))
    assert dateline_of(peking) == [("PEKING", "CN")]


def test_gazetteer_towns_and_subdivisions() -> None:
    names = load_gazetteer().names
    # A county (ISO 3166-2 "Two-tier county" or "Unitary authority") and a town under 100,000.
    wiltshire = names["wiltshire"].readings[0]
    assert (wiltshire.country, wiltshire.kind) == ("GB", "district")
    assert any(r.country == "GB" for r in names["boston"].namesakes)
    # GeoNames' short name of "Newcastle upon Tyne".
    assert "GB" in {r.country for r in names["newcastle"].readings}
    # A city of 100,000 or more is read before a district of its name elsewhere (Jamaica's
    # Manchester parish), a state before a city ("Victoria").
    assert names["manchester"].readings[0].country == "GB"
    assert names["victoria"].readings[1].kind == "subdivision"
    # Small towns named like frequent words are left out.
    assert "march" not in names
    assert "street" not in names


def test_small_towns_are_not_read_in_capitals() -> None:
    # Reuters-21578 #5382: Cocoa is a Florida town, and MAIZE one in Kansas (#1952).
    for headline in ("COCOA CONSUMERS NARROW GAP ON BUFFER STOCK ISSUE", "TAIWAN BUYS U.S. MAIZE"):
        verdict = classify(page(headline, "Delegates met in the U.S. on Monday."))
        assert [e.place for e in verdict.evidence if e.where == "headline"] in (
            [],
            ["TAIWAN", "U.S."],
        )


def test_direction_words_are_not_towns() -> None:
    # Reuters-21578 #3690: "West" names a Texan town, and is dropped as a word.
    verdict = classify(
        page("", "West German beet plantings are expected to rise, the Licht report said.")
    )
    assert places(verdict) == [("West German", "DE")]


def test_a_county_shared_with_a_foreign_city_goes_with_its_towns() -> None:
    # BBC News, "Elmbridge trees" (2021): Surrey is also a Canadian city of half a million.
    verdict = classify(
        page(
            "Elmbridge trees: Police make arrest over Surrey tree felling",
            "Police investigating the felling of dozens of trees in Surrey have arrested a "
            "24-year-old man on suspicion of criminal damage.",
            "Most of the felled trees were along a stretch of the River Thames between Weybridge "
            "and Walton.",
        )
    )
    assert ("Surrey", "GB") in places(verdict)
    assert "CA" not in countries(verdict)
    assert verdict.region == "UK"


@pytest.mark.parametrize(
    ("text", "word", "gap"),
    [
        ("Exports went to the U.S., ", "U.S.", ", "),
        ("Barley   n.a.   ", "n.a.", "   "),
        ("said Mr O'Brien ", "O'Brien", " "),
        ("Zola's ", "Zola's", " "),
        ("", "", ""),
        ("  12.5 - ", "", "  12.5 - "),
    ],
)
def test_the_word_before_a_name(text: str, word: str, gap: str) -> None:
    # Reuters-21578 phrasings; the look-back reads the reversed text.
    from worker.pipeline.classify import _before

    assert _before(text, len(text)) == (word, gap)


def test_names_with_a_lower_case_word_and_names_before_one() -> None:
    # Reuters-21578 #4647: "Isle of Man" is written with "of"; after "New" or "The", a word in
    # lower case ends the look-up for a longer name.
    verdict = classify(
        page(
            "",
            "Fiji gold miner <Emperor Mines Ltd> said it will float a gold investment company in "
            "the Isle of Man to be known as <Odin Mining and Investment Co Ltd>.",
        )
    )
    assert ("Isle of Man", "IM") in places(verdict)
