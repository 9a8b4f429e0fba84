"""tag_themes: the documented CRS mapping of the White Paper themes."""
from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

import oda_data
from oda_data.crs import themes as crs_themes

from crs_testlib import FIXTURES


def tag(purpose_codes, titles, descriptions=None):
    frame = pd.DataFrame({
        "purpose_code": pd.array(purpose_codes, dtype=pd.ArrowDtype(pa.int32())),
        "project_title": pd.array(titles, dtype=pd.ArrowDtype(pa.string())),
    })
    if descriptions is not None:
        frame["long_description"] = pd.array(descriptions, dtype=pd.ArrowDtype(pa.string()))
    return oda_data.tag_themes(frame)


@pytest.mark.parametrize("purpose,title,theme,rule", [
    (16063, "Support to UNODC", "drug_trafficking", "purpose:16063"),
    (15210, "Security sector reform", "police_capacity", "purpose:15210"),
    (21040, "Patrol vessels for the Viet Nam Coast Guard", "maritime_security",
     "keyword:patrol vessels+purpose:21040"),
    (21040, "Ferry terminal in the Mekong delta", None, None),
    (22040, "Rural internet access", None, None),
    (22040, "National CYBERSECURITY strategy", "cyberspace", "keyword:cybersecurity+purpose:22040"),
    (22040, "Cybernetics laboratory", None, None),  # word boundary: not "cyber"
    (15130, "Judicial reform", None, None),
    (15130, "Community policing in Indonesia", "police_capacity", "keyword:policing+purpose:15130"),
    (15130, "Lutte contre le terrorisme au Sahel", "counter_terrorism", "keyword:terrorisme+purpose:15130"),
    (15210, "Programme de sécurité maritime", "maritime_security", "keyword:sécurité maritime+purpose:15210"),
    (15190, "Combating trafficking in persons (IOM)", "trafficking_in_persons",
     "keyword:trafficking in persons+purpose:15190"),
    (15190, "Border management and migration", None, None),
    (16063, "Anti-money laundering and narcotics", "money_laundering", "keyword:anti-money laundering+purpose:16063"),
    (11110, "Police academy curriculum", None, None),  # police needs a security purpose code
    (11110, "Counter-terrorism training for teachers", "counter_terrorism",
     "keyword:counter-terrorism+purpose:11110"),  # unambiguous phrases count anywhere
    (15230, "Peacekeeping training centre", None, None),
    (15110, "Space law for new space actors", "outer_space", "keyword:space law+purpose:15110"),
    (15240, "Small arms control", "transnational_organized_crime", "keyword:small arms+purpose:15240"),
])
def test_rules(purpose, title, theme, rule):
    tagged = tag([purpose], [title])
    expected_theme = tagged["theme"].iloc[0]
    assert (None if pd.isna(expected_theme) else expected_theme) == theme
    got_rule = tagged["theme_rule"].iloc[0]
    assert (None if pd.isna(got_rule) else got_rule) == rule


def test_keywords_in_descriptions_and_line_breaks_count():
    tagged = tag([21040, 21040], ["Vessels", "Vessels"], ["for the coast\nguard of the Philippines", None])
    assert tagged["theme"].tolist()[0] == "maritime_security"
    assert tagged["theme_rule"].tolist()[0] == "keyword:coast guard+purpose:21040"
    assert pd.isna(tagged["theme"].iloc[1])


def test_nulls_and_empty_frames():
    tagged = tag([None, 16063], [None, None])
    assert pd.isna(tagged["theme"].iloc[0]) and tagged["theme"].iloc[1] == "drug_trafficking"
    empty = tag([], [])
    assert list(empty.columns) == ["purpose_code", "project_title", "theme", "theme_rule"]
    assert len(empty) == 0


def test_tag_themes_needs_purpose_code():
    with pytest.raises(ValueError, match="needs a 'purpose_code' column"):
        oda_data.tag_themes(pd.DataFrame({"project_title": ["x"]}))


def test_input_frame_is_not_modified_and_dtype_is_arrow_string():
    frame = pd.DataFrame({"purpose_code": [16063]})
    tagged = oda_data.tag_themes(frame)
    assert list(frame.columns) == ["purpose_code"]
    assert tagged["theme"].dtype == pd.ArrowDtype(pa.string())


def test_every_theme_of_the_mapping_is_a_white_paper_theme():
    rules = crs_themes.load_rules()
    assert rules.version == crs_themes.RULES_VERSION >= 1
    used = {rule.theme for rule in rules.keyword_rules} | set(rules.specific.values())
    assert used == set(oda_data.THEMES)  # every theme is reachable
    assert rules.specific == {16063: "drug_trafficking", 15210: "police_capacity"}
    assert {15130, 21040, 22040} <= rules.broad
    assert not ({15230, 15250, 15261} & rules.security_codes)


def test_fixture_tags_end_to_end():
    tagged = oda_data.tag_themes(oda_data.read_crs(FIXTURES / "bulk_2018_pipe_utf8.txt"))
    by_title = dict(zip(tagged["project_title"], tagged["theme"].astype(object).where(tagged["theme"].notna(), None)))
    assert by_title["ASEAN-Japan Cybersecurity Capacity Building Centre"] == "cyberspace"
    assert by_title["Appui à la lutte contre le terrorisme et la criminalité organisée"] == "counter_terrorism"
    assert by_title["Serious and Organised Crime programme"] == "transnational_organized_crime"
    assert by_title["Ending violence against women, including trafficking of women and girls"] == "trafficking_in_persons"
    assert by_title["Humanitarian demining in Sri Lanka"] is None
    assert by_title["Education policy support"] is None


def _tag_both_ways(frame: pd.DataFrame) -> tuple[list, list]:
    """(theme, theme_rule) rows with the prefilter (as the cache tags) and with the ordered rules alone."""
    import duckdb

    texts = [name for name in ("project_title", "short_description", "long_description") if name in frame]
    table = pa.table({"purpose_code": pa.array(frame["purpose_code"].astype("Int64"), pa.int64(), from_pandas=True),
                      **{name: pa.array(frame[name].astype(object), pa.string(), from_pandas=True)
                         for name in texts}})
    results = []
    with duckdb.connect() as connection:
        connection.register("rows", table)
        for prefilter in (True, False):
            sql = crs_themes.tagged_sql("SELECT * FROM rows", [], texts=texts, prefilter=prefilter)
            results.append(connection.execute(sql).fetchall())
    return results[0], results[1]


_PREFILTER_EDGES = pd.DataFrame({
    "purpose_code": [11110, 15130, 21040, 16063, 15210, None, 22040, 15240, 11110, 15190],
    "project_title": ["Police academy", "Community POLICING", "Port works: drug", "Narcotics control",
                      "Security sector reform", "Counter-Terrorism", None, "Small  arms\ncontrol",
                      "Cybernetics", "Migration"],
    "short_description": [None, "", "trafficking routes", "money laundering", "law enforcement", None,
                          "cyber-attacks", None, "SMUGGLING", "smuggling of migrants"],
    "long_description": ["trafficking", None, "Coast guard", "", "garde-côtes", "terroriste", None,
                         "criminalité organisée", "trafic", "trafficking"],
})


@pytest.mark.parametrize("source", ["edges", *sorted(p.name for p in FIXTURES.glob("bulk_*")), "demo"])
def test_prefilter_gives_the_themes_of_the_ordered_rules(source):
    if source == "edges":
        frame = _PREFILTER_EDGES
    elif source == "demo":
        from oda_data.crs.demo import DEMO_PATH

        frame = oda_data.read_crs(DEMO_PATH)
    else:
        frame = oda_data.read_crs(FIXTURES / source)
    prefiltered, ordered = _tag_both_ways(frame)
    assert prefiltered == ordered
    assert sum(theme is not None for theme, _ in ordered) > 0
