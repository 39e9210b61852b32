"""Mermaid xychart blocks (README activity, weekly review): well-formed by Mermaid's documented
grammar, and by Mermaid's own parser when it is installed (see `mermaid_parse`), for hostile
topic names, topics with no papers, a single week, more topics than colours."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
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


# --- Mermaid's own parser (Node + `npm install mermaid jsdom`), when available --------------

_PARSE_JS = r"""
import { createRequire } from 'module';
import { pathToFileURL } from 'url';
import fs from 'fs';
const dir = process.argv[2];
const require = createRequire(dir + '/package.json');
const { JSDOM } = require('jsdom');
const dom = new JSDOM('<!DOCTYPE html><body></body>');
globalThis.window = dom.window; globalThis.document = dom.window.document;
globalThis.DOMParser = dom.window.DOMParser; globalThis.Element = dom.window.Element;
const entry = require.resolve('mermaid').replace(/mermaid\.js$|mermaid\.core\.mjs$|[^/]*$/, 'mermaid.core.mjs');
const { default: mermaid } = await import(pathToFileURL(entry).href);
mermaid.initialize({ startOnLoad: false });
const out = [];
for (const source of JSON.parse(fs.readFileSync(0, 'utf8'))) {
  try { const r = await mermaid.parse(source); out.push({ ok: true, type: r.diagramType }); }
  catch (e) { out.push({ ok: false, error: String((e && e.message) || e).slice(0, 300) }); }
}
console.log(JSON.stringify(out));
"""


def mermaid_dir() -> Path | None:
    """A folder where `npm install mermaid jsdom` ran (TRACKER_MERMAID_DIR), if Node is here too."""
    folder = os.environ.get("TRACKER_MERMAID_DIR")
    if not folder or not shutil.which("node"):
        return None
    path = Path(folder)
    return path if (path / "node_modules" / "mermaid").is_dir() and (path / "node_modules" / "jsdom").is_dir() else None


def mermaid_parse(sources: list[str], tmp_path: Path) -> list[dict]:
    script = tmp_path / "parse.mjs"
    script.write_text(_PARSE_JS, encoding="utf-8")
    done = subprocess.run(["node", str(script), str(mermaid_dir())], input=json.dumps(sources), text=True,
                          capture_output=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


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
    return charts


def test_every_chart_is_well_formed_by_the_documented_grammar():
    for block in hostile_charts():
        chart = parse_xychart(block)
        assert chart["init"]["themeVariables"]["xyChart"]["plotColorPalette"]
        assert chart["y"][0] == 0 and chart["y"][1] >= 1


def test_every_chart_parses_with_mermaids_own_parser(tmp_path):
    if mermaid_dir() is None:
        pytest.skip("Mermaid's parser needs Node and TRACKER_MERMAID_DIR (a folder where `npm install mermaid jsdom` ran)")
    results = mermaid_parse([source_of(block) for block in hostile_charts()], tmp_path)
    assert results and all(r == {"ok": True, "type": "xychart"} for r in results), results
    # and the parser is really checking: an unescaped quote is refused
    (bad,) = mermaid_parse(['xychart-beta\n    title "a "b" c"\n    x-axis [a]\n    line [1]\n'], tmp_path)
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
