"""Mermaid xychart blocks (README activity, weekly review): well-formed by Mermaid's documented
grammar, and drawn by Mermaid itself in headless Chromium (see `mermaid_page`), for hostile
topic names, topics with no papers, a single week, more topics than colours; honest about time:
no unfinished week drawn as complete, no week before tracking as zero, whole-number y ticks."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.hostile import render_gfm
from tracker.render.charts import MAX_SERIES, PALETTE, Series, activity_chart, chart_text, topic_activity, xychart

# --- Mermaid's documented xychart grammar (https://mermaid.js.org/syntax/xyChart.html) ------

_STRING = r'"[^"\n]*"'
_TITLE = rf'(?:{_STRING}|[^\s"\[\]]+)'
_NUMBER = r"-?\d+(?:\.\d+)?"
_INIT = re.compile(r"%%\{init: (?P<json>.*)\}%%")
_STATEMENTS = {
    "title": re.compile(rf"title (?P<text>{_STRING}|[^\s\"]+)"),
    "x-axis": re.compile(rf"x-axis(?: (?P<title>{_TITLE}))?(?: \[(?P<labels>[^\]\n]*)\]| (?P<min>{_NUMBER}) --> (?P<max>{_NUMBER}))"),
    "y-axis": re.compile(rf"y-axis(?: (?P<title>{_TITLE}))?(?: (?P<min>{_NUMBER}) --> (?P<max>{_NUMBER}))?"),
    "line": re.compile(rf"line(?: (?P<title>{_TITLE}))? \[(?P<values>[^\]\n]*)\]"),
    "bar": re.compile(rf"bar(?: (?P<title>{_TITLE}))? \[(?P<values>[^\]\n]*)\]"),
}


def parse_xychart(markdown: str) -> dict:
    """The one ```mermaid block in `markdown`, checked against the grammar; raises AssertionError."""
    blocks = re.findall(r"^```mermaid\n(.*?)^```$", markdown, re.S | re.M)
    assert len(blocks) == 1, f"expected one mermaid block, found {len(blocks)}"
    lines = [line.strip() for line in blocks[0].splitlines() if line.strip()]
    chart: dict = {"series": [], "init": None}
    if lines and lines[0].startswith("%%"):
        found = _INIT.fullmatch(lines.pop(0))
        assert found, "a %% line that is not an init directive"
        chart["init"] = json.loads(found.group("json"))
    assert lines and lines[0] in ("xychart-beta", "xychart-beta horizontal"), f"not an xychart: {lines[:1]}"
    for line in lines[1:]:
        keyword = line.split(" ", 1)[0]
        assert keyword in _STATEMENTS, f"unknown statement: {line!r}"
        found = _STATEMENTS[keyword].fullmatch(line)
        assert found, f"malformed {keyword}: {line!r}"
        if keyword == "title":
            chart["title"] = found.group("text").strip('"')
        elif keyword == "x-axis":
            chart["x"] = [_item(x) for x in _split(found.group("labels"))] if found.group("labels") is not None else None
        elif keyword == "y-axis":
            chart["y"] = (float(found.group("min")), float(found.group("max"))) if found.group("min") else None
        else:
            values = [float(v) for v in _split(found.group("values"))]
            assert all(re.fullmatch(_NUMBER, v) for v in _split(found.group("values"))), line
            chart["series"].append((keyword, values))
    assert chart["series"], "no line or bar"
    for _, values in chart["series"]:
        assert chart.get("x") is None or len(values) == len(chart["x"]), "a series and the x-axis differ in length"
        if chart.get("y"):
            low, high = chart["y"]
            assert low < high and all(low <= v <= high for v in values), f"values outside {chart['y']}"
    return chart


def _split(items: str) -> list[str]:
    return [item.strip() for item in re.findall(rf'{_STRING}|[^,]+', items) if item.strip()]


def _item(item: str) -> str:
    assert re.fullmatch(rf"{_STRING}|[^\s\",\[\]][^\",\[\]]*", item), f"bad x-axis label {item!r}"
    return item.strip('"')


# --- Mermaid itself, drawing in headless Chromium --------------------------------------------
# tests/js holds a pinned mermaid (`npm ci` there; .ci/run does it). The page loads its browser
# build and draws each chart; the SVG's axis labels are read back. Skipped when Chromium or the
# npm folder is missing, unless TRACKER_CHART_BROWSER=required (CI), where a skip would hide it.

MERMAID_JS = Path(__file__).parent / "js" / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
CHROMIUM = os.environ.get("TRACKER_CHROMIUM", "/usr/bin/chromium")
_DRAW_JS = """async (sources) => {
  mermaid.initialize({ startOnLoad: false });
  const out = [];
  for (const [k, source] of sources.entries()) {
    try {
      const { svg } = await mermaid.render('chart' + k, source);
      const box = document.getElementById('box'); box.innerHTML = svg;
      const texts = (selector) => [...box.querySelectorAll(selector)].map((t) => t.textContent);
      out.push({ ok: true, title: texts('g.chart-title text')[0], x: texts('g.bottom-axis g.label text'),
                 y: texts('g.left-axis g.label text'), series: box.querySelectorAll('g.plot > g').length });
    } catch (e) { out.push({ ok: false, error: String((e && e.message) || e).slice(0, 300) }); }
  }
  return out;
}"""


@pytest.fixture(scope="module")
def mermaid_page():
    missing = [str(path) for path in (MERMAID_JS, Path(CHROMIUM)) if not path.exists()]
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing.append("the playwright package")
    if missing:
        if os.environ.get("TRACKER_CHART_BROWSER") == "required":
            pytest.fail(f"the chart check needs {', '.join(missing)}")
        pytest.skip(f"the chart check needs {', '.join(missing)} (`npm ci` in tests/js, Chromium, playwright)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page()
        page.set_content("<!DOCTYPE html><html><body><div id='box'></div></body></html>")
        page.add_script_tag(path=str(MERMAID_JS))
        yield page
        browser.close()


def mermaid_draw(page, sources: list[str]) -> list[dict]:
    """What Mermaid drew for each source: {ok, title, x (labels), y (tick labels), series} or {ok, error}."""
    return page.evaluate(_DRAW_JS, sources)


def source_of(block: str) -> str:
    return re.search(r"^```mermaid\n(.*?)^```$", block, re.S | re.M).group(1)


# --- the charts -----------------------------------------------------------------------------

HOSTILE = ['Say "hi" [now]', "C++ `code` | x", "%% not a comment", "a\nb\tc", "#quot; & <b>", "$x_1$ ;", ""]


def hostile_charts() -> list[str]:
    dated = [((name,), f"2026-03-{day:02d}") for day, name in zip(range(2, 30, 4), HOSTILE)]
    charts = [activity_chart(HOSTILE, dated).mermaid]
    charts.append(activity_chart(["Busy", "Empty"], [(("Busy",), "2026-03-04")]).mermaid)  # one week, one empty topic
    charts.append(xychart("Nothing", ["Mar 2"], [Series("None", (0,))]).mermaid)
    charts.append(xychart("No series", ["a", "b"], []).mermaid)
    charts.append(xychart('Bars "x"', ["w1", "w2"], [Series("s", (3, 1000))], kind="bar").mermaid)
    charts.append(activity_chart(["A"], [(("A",), "2026-03-17")], today="2026-03-18").mermaid)  # a week so far
    charts.append(xychart("Busy", ["w1", "w2", "w3"], [Series("s", (7, 13, 41)), Series("t", (1, 2, 5))]).mermaid)
    return charts


def test_every_chart_is_well_formed_by_the_documented_grammar():
    for block in hostile_charts():
        chart = parse_xychart(block)
        assert chart["init"]["themeVariables"]["xyChart"]["plotColorPalette"]
        assert chart["y"][0] == 0 and chart["y"][1] >= 1


def test_every_chart_is_drawn_by_mermaid_with_whole_number_ticks(mermaid_page):
    blocks = hostile_charts()
    drawn = mermaid_draw(mermaid_page, [source_of(block) for block in blocks])
    for block, result in zip(blocks, drawn):
        assert result["ok"], (block, result)
        parsed = parse_xychart(block)
        assert result["title"] == parsed["title"] and result["x"] == parsed["x"]
        assert result["series"] == max(1, len(parsed["series"]))
        assert result["y"] and all(re.fullmatch(r"\d+", tick) for tick in result["y"]), result["y"]
    # and Mermaid is really checking: an unescaped quote is refused
    (bad,) = mermaid_draw(mermaid_page, ['xychart-beta\n    title "a "b" c"\n    x-axis [a]\n    line [1]\n'])
    assert not bad["ok"]


def test_hostile_names_are_kept_readable_in_titles_and_escaped_in_the_legend():
    assert chart_text('Say "hi" [now]') == "\"Say 'hi' [now]\""
    assert chart_text("a\nb\tc  d") == '"a b c d"'
    assert chart_text("x" * 100, limit=10) == '"xxxxxxxxx…"'
    chart = activity_chart(HOSTILE[:3], [((HOSTILE[0],), "2026-03-02"), ((HOSTILE[1],), "2026-03-03")])
    html = render_gfm(chart.legend)
    assert "Say &quot;hi&quot; [now]" in html and "C++ <code>" not in html and "`code`" in html
    assert PALETTE[0][1] in chart.legend and PALETTE[2][1] in chart.legend


def test_topic_activity_counts_papers_per_week_from_the_latest_topic_start():
    topics = ["A", "B", "C"]
    dated = [(("A",), "2026-01-05"), (("A", "B"), "2026-03-03"), (("A",), "2026-03-08"), (("B",), "2026-02-24"),
             (("A",), "2026-03-10"), (("X",), "2026-03-30"), ((), "2026-04-30"), (("A",), ""), (("A",), "not a date")]
    mondays, series = topic_activity(topics, dated, weeks=12)
    # B's papers start in the week of Feb 23, so the chart starts there (A alone reaches back to January)
    assert [m.isoformat() for m in mondays] == ["2026-02-23", "2026-03-02", "2026-03-09"]
    assert [s.values for s in series] == [(0, 2, 1), (1, 1, 0), (0, 0, 0)]  # C: no papers, still a series


def test_at_most_twelve_weeks_and_the_busiest_topics_get_the_colours():
    names = [f"T{k}" for k in range(MAX_SERIES + 2)]
    dated = [((name,), f"2025-{month:02d}-10") for k, name in enumerate(names) for month in range(1, 13)
             for _ in range(k + 1)]
    chart = activity_chart(names, dated)
    parsed = parse_xychart(chart.mermaid)
    assert len(parsed["x"]) == 12 and len(parsed["series"]) == MAX_SERIES and chart.left_out == 2
    assert "T0 " not in chart.legend + " " and "T1 " not in chart.legend + " "  # the two quietest left out


def test_no_dated_paper_gives_no_chart():
    assert activity_chart(["A"], []) is None
    assert activity_chart(["A"], [(("A",), "")]) is None


def test_a_chart_survives_githubs_markdown_as_one_mermaid_code_block():
    block = activity_chart(HOSTILE, [((HOSTILE[0],), "2026-03-02")]).mermaid
    html = render_gfm(block)
    assert html.count("<pre") == 1 and 'class="language-mermaid"' in html
    import html as html_lib

    assert html_lib.unescape(re.search(r"<code[^>]*>(.*)</code>", html, re.S).group(1)) == source_of(block)


# --- honest about time -----------------------------------------------------------------------

WEEKS_OF_MARCH = [(("A",), f"2026-03-{day:02d}") for day in (3, 4, 10, 16, 17, 17, 25)] + [(("B",), "2026-03-05")]


def test_the_week_under_way_is_left_out_and_the_title_ends_by_the_run_date():
    chart = parse_xychart(activity_chart(["A", "B"], WEEKS_OF_MARCH, today="2026-03-18").mermaid)  # a Wednesday
    assert chart["x"] == ["Mar 2", "Mar 9"] and chart["series"] == [("line", [2, 1]), ("line", [1, 0])]
    assert chart["title"].endswith("to 2026-03-15")
    # on the week's Sunday it is complete; a paper dated after the run date is not counted
    chart = parse_xychart(activity_chart(["A", "B"], WEEKS_OF_MARCH, today="2026-03-22").mermaid)
    assert chart["x"] == ["Mar 2", "Mar 9", "Mar 16"] and chart["series"][0] == ("line", [2, 1, 3])
    assert chart["title"].endswith("to 2026-03-22")


def test_a_tracker_in_its_first_week_shows_that_week_as_so_far():
    chart = parse_xychart(activity_chart(["A"], [(("A",), "2026-03-16"), (("A",), "2026-03-17")],
                                         today="2026-03-17").mermaid)
    assert chart["x"] == ["Mar 16 (so far)"] and chart["series"] == [("line", [2])]
    assert chart["title"] == "Papers per week, 2026-03-16 to 2026-03-17"


def test_quiet_weeks_since_the_last_paper_are_drawn_as_the_zeros_they_are():
    chart = parse_xychart(activity_chart(["A"], [(("A",), "2026-03-03")], today="2026-03-29").mermaid)
    assert chart["x"] == ["Mar 2", "Mar 9", "Mar 16", "Mar 23"] and chart["series"] == [("line", [1, 0, 0, 0])]


def test_y_axes_run_to_a_whole_number_high_enough_for_whole_ticks():
    for values in [(0,), (1,), (7,), (8,), (13,), (999,)]:
        low, high = parse_xychart(xychart("t", ["w"], [Series("s", values)]).mermaid)["y"]
        assert low == 0 and high == int(high) and high >= max(8, values[0] + 1)
