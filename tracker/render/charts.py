"""Charts GitHub draws itself: Mermaid `xychart-beta` blocks in Markdown (no image files, no plotting library).

The grammar (https://mermaid.js.org/syntax/xyChart.html):

    xychart-beta
        title "Papers per week"
        x-axis ["Mar 2", "Mar 9"]
        y-axis "papers" 0 --> 12
        line [3, 7]

Text goes inside double quotes, which Mermaid cannot escape: `chart_text` replaces `"` (and the
backtick, which Mermaid reads as Markdown in labels) with a single quote, and flattens the text
to one line. xychart has no legend, so each series gets a colour from PALETTE (set through an
init directive) and the Markdown line under the chart names the series with a square of that
colour (`legend`). The y axis runs from 0 to a whole number of at least MIN_Y_TOP, so its ticks are
whole papers, also for a chart with no data.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tracker.render.escape import display_line, md_text

# Colours of the emoji squares used in the legend (GitHub's emoji images), in series order.
PALETTE = (
    ("#3b88c3", "🟦"),
    ("#f4900c", "🟧"),
    ("#77b255", "🟩"),
    ("#dd2e44", "🟥"),
    ("#aa8ed6", "🟪"),
    ("#fdcb58", "🟨"),
    ("#c1694f", "🟫"),
    ("#31373d", "⬛"),
)
MAX_SERIES = len(PALETTE)
# Mermaid draws about ten y ticks (d3's `ticks()`); below a top of 8 they fall between whole numbers
# (0.2 papers, 0.5 papers), so a quiet chart's axis still runs to 8. tests/test_charts.py reads the ticks.
MIN_Y_TOP = 8
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[int, ...]


@dataclass(frozen=True)
class Chart:
    """A chart and its legend, ready for a template: `{{ chart.mermaid }}` then `{{ chart.legend }}`."""

    mermaid: str  # the fenced ```mermaid block
    legend: str  # Markdown: one coloured square and name per series ("" for one unnamed series)
    left_out: int = 0  # series not drawn (more than MAX_SERIES)


def chart_text(text: object, limit: int = 80) -> str:
    """`text` as a double-quoted xychart string: one line, no `"` or backtick, at most `limit` chars."""
    line = display_line(text).replace('"', "'").replace("`", "'")
    if len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return f'"{line}"'


def xychart(
    title: str, x_labels: Sequence[str], series: Sequence[Series], *, y_title: str = "papers", kind: str = "line"
) -> Chart:
    """A line (or bar) chart of up to MAX_SERIES series over `x_labels`."""
    if kind not in ("line", "bar"):
        raise ValueError(f"kind must be 'line' or 'bar', not {kind!r}")
    drawn = list(series)[:MAX_SERIES]
    for s in drawn:
        if len(s.values) != len(x_labels):
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for {len(x_labels)} labels")
    top = max([v for s in drawn for v in s.values] + [0])
    palette = ", ".join(colour for colour, _ in PALETTE[: max(1, len(drawn))])
    init = json.dumps({"themeVariables": {"xyChart": {"plotColorPalette": palette}}})
    lines = [
        f"%%{{init: {init}}}%%",
        "xychart-beta",
        f"    title {chart_text(title)}",
        f"    x-axis [{', '.join(chart_text(x, 24) for x in x_labels)}]",
        f"    y-axis {chart_text(y_title)} 0 --> {_nice_top(top)}",
    ]
    lines += [f"    {kind} [{', '.join(str(int(v)) for v in s.values)}]" for s in drawn]
    if not drawn:
        lines.append(f"    {kind} [{', '.join('0' for _ in x_labels)}]")
    legend = " · ".join(f"{PALETTE[k][1]} {md_text(s.name)}" for k, s in enumerate(drawn)) if drawn else ""
    block = "```mermaid\n" + "\n".join(lines) + "\n```"
    return Chart(block, legend, max(0, len(series) - MAX_SERIES))


def _nice_top(value: int) -> int:
    """A round y maximum a little above `value`, at least MIN_Y_TOP (see there)."""
    if value < MIN_Y_TOP:
        return MIN_Y_TOP
    step = 10 ** (len(str(value)) - 1) // 2 or 1
    return (value // step + 1) * step


# --- weeks ---------------------------------------------------------------------------------


def week_start(day: dt.date) -> dt.date:
    """The Monday of `day`'s ISO week."""
    return day - dt.timedelta(days=day.weekday())


def week_label(monday: dt.date) -> str:
    return f"{_MONTHS[monday.month - 1]} {monday.day}"


def topic_activity(
    topics: Sequence[str], dated: Iterable[tuple[Sequence[str], str]], weeks: int = 12, today: dt.date | None = None
) -> tuple[list[dt.date], list[Series]]:
    """Papers per ISO week per topic, for up to `weeks` weeks ending with `today`'s week (or, with
    no `today`, the newest paper's).

    `dated`: (topics, date) of each paper, the date as its table row shows it (YYYY-MM-DD...;
    undated papers, and papers dated after `today`, are skipped). The chart starts no earlier than
    the latest week from which every topic's papers are on record (a topic's first fetch reaches
    back only so far): an empty early week would read as "no papers" when it means "not fetched
    yet". So a new tracker's chart shows a week or two, then grows to `weeks`. The week of `today`
    is left out unless it is over (`today` is its Sunday) or it is the only week: a line falling
    to a week's first days' count reads as a collapse.
    """
    days: dict[str, list[dt.date]] = {name: [] for name in topics}
    for paper_topics, date in dated:
        try:
            day = dt.date.fromisoformat((date or "")[:10])
        except ValueError:
            continue
        for name in paper_topics:
            if name in days and (today is None or day <= today):
                days[name].append(day)
    every = [d for ds in days.values() for d in ds]
    if not every:
        return [], [Series(name, ()) for name in topics]
    last = week_start(today or max(every))
    first = max([last - dt.timedelta(weeks=weeks - 1)] + [week_start(min(ds)) for ds in days.values() if ds])
    if today is not None and unfinished(last, today) and first < last:
        last -= dt.timedelta(weeks=1)
    mondays = [first + dt.timedelta(weeks=k) for k in range((last - first).days // 7 + 1)]
    index = {monday: k for k, monday in enumerate(mondays)}
    series = []
    for name in topics:
        counts = [0] * len(mondays)
        for day in days[name]:
            k = index.get(week_start(day))
            if k is not None:
                counts[k] += 1
        series.append(Series(name, tuple(counts)))
    return mondays, series


def unfinished(monday: dt.date, today: dt.date) -> bool:
    """Whether the week starting `monday` still has days after `today`."""
    return today < monday + dt.timedelta(days=6)


def activity_chart(
    topics: Sequence[str], dated: Iterable[tuple[Sequence[str], str]], weeks: int = 12, today: str | None = None
) -> Chart | None:
    """The README's chart: papers per week per topic (None when no paper has a date yet).

    `today`: the run date (ISO); the title's range ends there at the latest, and a week still
    under way is drawn only when it is the only one, labelled "so far". With more topics than
    colours, the busiest MAX_SERIES are drawn (`left_out` counts the rest)."""
    day = dt.date.fromisoformat(today[:10]) if today else None
    mondays, series = topic_activity(topics, dated, weeks, day)
    if not mondays:
        return None
    busiest = {s.name for s in sorted(series, key=lambda s: -sum(s.values))[:MAX_SERIES]}
    shown = [s for s in series if s.name in busiest]
    end = mondays[-1] + dt.timedelta(days=6)
    labels = [week_label(m) for m in mondays]
    if day is not None and unfinished(mondays[-1], day):
        end, labels[-1] = day, f"{labels[-1]} (so far)"
    chart = xychart(f"Papers per week, {mondays[0].isoformat()} to {end.isoformat()}", labels, shown)
    return Chart(chart.mermaid, chart.legend, len(series) - len(shown))
