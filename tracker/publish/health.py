"""The run-health issue: one open `tracker-health` issue while runs fail, closed by a clean run.

Error texts come from arXiv and the network, so they are redacted (a URL's password, a token)
and escaped for a Markdown table cell (no live @mention or #reference) before they are sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from tracker.publish.client import Api
from tracker.publish.identity import learn_from_created
from tracker.publish.issues import ensure_label, loaded, own_issues
from tracker.redact import redact
from tracker.render.escape import md_cell, md_link

HEALTH_MARK = "<!-- paper-tracker:health -->"
_CELL_CHARS = 500


@dataclass(frozen=True)
class HealthResult:
    """What `report_health` did. action: opened | updated | unchanged | closed | none."""

    action: str
    number: int | None = None


def health_problems(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(topic or "run", redacted error) pairs for a failed or partial run; [] for a clean run."""
    topics = _topics(summary)
    problems = [
        (redact(str(t.get("name"))), redact(str(t.get("error"))))
        for t in topics
        if isinstance(t, Mapping) and t.get("error")
    ]
    if summary.get("error"):
        problems.insert(0, ("run", redact(str(summary["error"]))))
    llm = summary.get("llm")  # optional LLM TL;DRs (tracker.enrich.tldr_llm): failures fell back to extractive lines
    if isinstance(llm, Mapping) and isinstance(llm.get("problems"), list):
        problems += [("LLM TL;DRs", redact(str(problem))) for problem in llm["problems"]]
    backlog = summary.get("backlog")
    backlog = backlog if isinstance(backlog, Mapping) else {}
    problems += [
        (
            redact(str(name)),
            f"{count} more papers still to fetch (arxiv.max_results_per_run was reached); the next runs catch up",
        )
        for name, count in backlog.items()
    ]
    return problems


def _topics(summary: Mapping[str, Any]) -> list[Any]:
    """The summary's topic entries (it is a file on disk: anything may be there)."""
    topics = summary.get("topics")
    return topics if isinstance(topics, list) else []


def summary_date(summary: Mapping[str, Any]) -> str:
    """The run's date as written in the summary, if it is a date; else "an unknown day"."""
    value = summary.get("date")
    try:
        return dt.date.fromisoformat(value).isoformat() if isinstance(value, str) else "an unknown day"
    except ValueError:
        return "an unknown day"


def render_health_body(summary: Mapping[str, Any], run_url: str | None = None) -> str:
    problems = health_problems(summary)
    topics = _topics(summary)
    failed = sum(1 for t in topics if isinstance(t, Mapping) and t.get("error"))
    kind = (
        "failed"
        if summary.get("error") or (topics and failed == len(topics))
        else "was partial"
        if failed
        else "had problems"
    )
    lines = [
        HEALTH_MARK,
        f"The tracker run of **{summary_date(summary)}** {kind}: {failed} of {len(topics)} topics failed.",
        "",
        "| Topic | Error |",
        "|---|---|",
    ]
    lines += [f"| {md_cell(name[:_CELL_CHARS])} | {md_cell(error[:_CELL_CHARS])} |" for name, error in problems]
    if run_url:
        lines += ["", "Run: " + md_link(redact(run_url), redact(run_url))]  # md_link escapes its text
    lines += ["", "This issue is updated while runs keep failing and closed by the next clean run."]
    return "\n".join(lines) + "\n"


def report_health(
    repo: Any, summary: Mapping[str, Any], *, label: str = "tracker-health", run_url: str | None = None
) -> HealthResult:
    """Keep one open `tracker-health` issue while runs fail; close it after a clean run."""
    api = Api(repo)
    date = summary_date(summary)
    mine = api.call("listing health issues", lambda: list(own_issues(repo, "open", label)))
    existing = [i for i in mine if (i.body or "").startswith(HEALTH_MARK)]  # ours: the bot's, and marked
    if not health_problems(summary):
        for issue in existing:
            api.call(
                f"commenting on #{issue.number}",
                partial(issue.create_comment, f"The run of {date} completed cleanly; closing."),
            )
            api.call(f"closing health issue #{issue.number}", partial(issue.edit, state="closed"))
        return HealthResult("closed", existing[0].number) if existing else HealthResult("none")
    body = render_health_body(summary, run_url)
    title = f"Tracker health: run of {date} had errors"
    if not existing:
        ensure_label(repo, label, api)
        issue = api.call(
            "opening the health issue", lambda: loaded(repo.create_issue(title=title, body=body, labels=[label]))
        )
        learn_from_created(repo, issue)
        return HealthResult("opened", issue.number)
    issue = existing[0]
    labels = {lab.name for lab in issue.labels}
    if issue.body == body and issue.title == title and label in labels:
        return HealthResult("unchanged", issue.number)
    ensure_label(repo, label, api)  # a member may have deleted it: put it back
    api.call(
        f"updating health issue #{issue.number}",
        lambda: issue.edit(title=title, body=body, labels=sorted(labels | {label})),
    )
    return HealthResult("updated", issue.number)
