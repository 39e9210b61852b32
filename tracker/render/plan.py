"""Render only what can change: the README and archive pages a run's ledger changes can reach.

A page's rows are a function of the ledger, the templates and the output settings. So a run
renders every page only when it cannot know what the last render saw: no render state, other
templates / render code / settings (the `fingerprint`), or ledger shards that differ from the
ones the last render committed (`tracker fetch`, a hand edit, `git revert`, a crash between the
commit and the state). Otherwise it renders the pages whose row ids changed, or that hold a
paper whose record changed, plus any page or README that was edited or deleted since, and the
README only when some record changed; records are read only for the rows rendered, and a day
that changed nothing renders nothing. The state lives in `<state_dir>/render-state.json`: a
cache, like the ledger index; without it the run simply renders everything.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import jinja2
import jinja2.meta

from tracker.config import Settings
from tracker.models import Paper
from tracker.render import paths
from tracker.render.charts import activity_chart
from tracker.render.markdown import environment, layout, render_tables, splice
from tracker.render.splice import read_readme
from tracker.store.ledger import Ledger
from tracker.store.ledger_index import Entry, digest

log = logging.getLogger(__name__)
STATE_FILE = "render-state.json"
FORMAT = 1
TEMPLATES = ("readme.md.j2", "archive.md.j2")


def environment_for(settings: Settings) -> jinja2.Environment:
    """The project's templates (its overrides first): README, digest and weekly review alike."""
    return environment(settings.project.templates_dir)


def fingerprint(settings: Settings, env: jinja2.Environment) -> str:
    """Everything besides the ledger that shapes the README and archive pages."""
    out = settings.output
    shape = [
        out.readme,
        out.readme_rows,
        out.archive_dir,
        out.digest_dir,
        out.templates_dir,
        [t.name for t in settings.topics],
    ]
    parts: list[bytes] = [str(FORMAT).encode(), json.dumps(shape).encode()]
    assert env.loader is not None  # environment_for always gives one
    for name in TEMPLATES:
        parts.append(env.loader.get_source(env, name)[0].encode("utf-8", "surrogatepass"))
    code = Path(__file__).resolve().parents[1]
    for source in sorted([*(code / "render").glob("*.py"), code / "models.py", code / "digest.py", code / "slugs.py"]):
        parts.append(source.read_bytes())
    return hashlib.blake2b(b"\0".join(parts), digest_size=16).hexdigest()


def uses_run_date(env: jinja2.Environment, name: str) -> bool:
    """A (user) template that shows the run date changes every run: it is always rendered."""
    assert env.loader is not None  # environment_for always gives one
    source = env.loader.get_source(env, name)[0]
    return "date" in jinja2.meta.find_undeclared_variables(env.parse(source))


# --- state --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderState:
    fingerprint: str
    shards: dict[str, str]  # ledger shard (month) -> digest, as the render committed them
    files: dict[str, str]  # README and archive pages (relative to the project) -> digest as written


def state_path(settings: Settings) -> Path:
    return settings.project.state_dir / STATE_FILE


def read_state(path: Path) -> RenderState | None:
    try:
        data = json.loads(path.read_bytes())
        if data.get("format") != FORMAT:
            return None
        return RenderState(str(data["fingerprint"]), dict(data["shards"]), dict(data["files"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        log.info("render state %s unusable (%s): every page is rendered", path, exc)
        return None


def save_render_state(settings: Settings, ledger: Ledger, files: dict[Path, str | None]) -> None:
    """After the commit: what this render wrote (pages it did not render keep their earlier digests)."""
    if not ledger.indexed:
        return
    path = state_path(settings)
    old = read_state(path)
    known = dict(old.files) if old else {}
    outputs = {settings.path(settings.output.readme)} | set(_archive_files(settings, files))
    for file in outputs & set(files):
        content = files[file]
        if content is None:
            known.pop(_key(settings, file), None)
        else:
            known[_key(settings, file)] = digest(content.encode("utf-8"))
    known = {key: value for key, value in known.items() if settings.path(key).is_file()}  # gone: forget it
    shards = ledger.shard_digests()
    state = {
        "format": FORMAT,
        "fingerprint": fingerprint(settings, environment_for(settings)),
        "shards": dict(sorted(shards.items())),
        "files": dict(sorted(known.items())),
    }
    from tracker.store.journal import write_atomic

    try:
        write_atomic(path, json.dumps(state, indent=0, ensure_ascii=False))
    except OSError as exc:
        log.warning("could not save %s (%s); the next run renders every page", path, exc)


def _archive_files(settings: Settings, files: Iterable[Path]) -> list[Path]:
    archive = settings.path(settings.output.archive_dir)
    return [f for f in files if archive in f.parents]


def _key(settings: Settings, path: Path) -> str:
    try:
        return path.resolve().relative_to(settings.base_dir.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


# --- what to render -----------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    every_page: bool
    readme: bool
    before: dict[str, Entry | None]  # papers that may have changed since the last render (see Ledger.changed_since)
    edited: frozenset[tuple[str, str]]  # pages edited or deleted since the last render
    why: str  # for the log

    @property
    def nothing(self) -> bool:
        return not (self.every_page or self.readme or self.before or self.edited)


def plan(settings: Settings, env: jinja2.Environment, ledger: Ledger, full: bool = False) -> Plan:
    state = read_state(state_path(settings))
    reason = (
        "asked to"
        if full
        else "ledger read without an index"
        if not ledger.indexed
        else "no render state"
        if state is None
        else "templates, render code or output settings changed"
        if state.fingerprint != fingerprint(settings, env)
        else "archive.md.j2 shows the run date"
        if uses_run_date(env, "archive.md.j2")
        else ""
    )
    before = None if reason or state is None else ledger.changed_since(state.shards)
    if before is None or state is None:  # (no state: a reason was given)
        reason = reason or "the ledger changed in a way its index cannot trace"
        return Plan(True, True, {}, frozenset(), f"every page ({reason})")
    edited = _edited(settings, state)
    slugs = {paths.topic_slug(t.name): t.name for t in settings.topics}
    archive = PurePosixPath(_key(settings, settings.path(settings.output.archive_dir)))
    pages = frozenset(
        (slugs[f.parent.name], f.stem)
        for f in map(PurePosixPath, edited)
        if f.parent.parent == archive and f.parent.name in slugs
    )
    readme = (
        bool(before)
        or _key(settings, settings.path(settings.output.readme)) in edited
        or uses_run_date(env, "readme.md.j2")
    )
    return Plan(
        False,
        readme,
        before,
        pages,
        f"{len(before)} changed papers, {len(pages)} edited pages, README {'too' if readme else 'unchanged'}",
    )


def _changed_pages(
    topics: list[str], placed, ledger: Ledger, before: dict[str, Entry | None], cap: int
) -> set[tuple[str, str]]:
    """Pages whose row ids differ from the last render's, or that show a record changed since."""
    if not before:
        return set()
    now = {pid: ledger.entry(pid) for pid in before}
    then = layout(topics, _keys(ledger.entries(), replace=before), cap)
    touched = set()
    for name in topics:
        old, new = then[name].months, placed[name].months
        touched |= {(name, m) for m in set(old) | set(new) if old.get(m) != new.get(m)}
        for entry in [*before.values(), *now.values()]:
            if entry is not None and name in entry.topics:
                touched.add((name, entry.month))
    return touched


def _keys(entries: Iterable[tuple[str, Entry]], replace: dict[str, Entry | None] | None = None):
    """Layout keys of `entries`, or of the ledger as it was, with `replace` (id -> entry then)."""
    replace = replace or {}
    seen = set()
    for pid, entry in entries:
        seen.add(pid)
        if pid in replace:
            then = replace[pid]
            if then is None:
                continue  # not in the ledger then
            entry = then
        yield pid, entry.topics, entry.updated, entry.date
    for pid, old in replace.items():
        if pid not in seen and old is not None:  # in the ledger then, gone now
            yield pid, old.topics, old.updated, old.date


def _edited(settings: Settings, state: RenderState) -> set[str]:
    """Outputs the last render wrote that are now different or gone (edited by hand, deleted)."""
    edited = set()
    for key, known in state.files.items():
        try:
            current = digest(settings.path(key).read_bytes())
        except OSError:
            current = None
        if current != known:
            edited.add(key)
    return edited


def _page_files(settings: Settings, placed) -> dict[tuple[str, str], Path]:
    archive = settings.path(settings.output.archive_dir)
    return {
        (name, month): paths.archive_page(archive, name, month) for name, lay in placed.items() for month in lay.months
    }


# --- the run's README and archive pages -----------------------------------------------------


def render_tables_of_run(
    settings: Settings, env: jinja2.Environment, ledger: Ledger, today: str, *, full: bool = False
) -> dict[Path, str | None]:
    """The README (when it can change), the archive pages that can change, and stale pages (None)."""
    out = settings.output
    topics = [t.name for t in settings.topics]
    chosen = plan(settings, env, ledger, full)
    log.info("rendering: %s", chosen.why)
    if chosen.nothing:
        return {}  # nothing changed since the last render: no page or README can differ, none is stale
    entries = list(ledger.entries())
    placed = layout(topics, _keys(entries), out.readme_rows)
    pages = (
        None
        if chosen.every_page
        else chosen.edited | _changed_pages(topics, placed, ledger, chosen.before, out.readme_rows)
    )
    readme_path = settings.path(out.readme)
    section, rendered = render_tables(
        env,
        topics,
        placed,
        lambda ids: [ledger.papers[i] for i in ids],
        total=sum(1 for _, e in entries if e.topics),
        date=today,
        cap=out.readme_rows,
        readme_path=readme_path,
        archive_dir=settings.path(out.archive_dir),
        digest_dir=settings.path(out.digest_dir),
        pages=pages,
        readme=chosen.readme,
        activity=activity_chart(topics, ((e.topics, e.date) for _, e in entries), today=today)
        if chosen.readme
        else None,
    )
    files: dict[Path, str | None] = dict(rendered)
    if section is not None:
        existing = read_readme(readme_path)  # one line for a folder, FIFO, link or non-UTF-8 README
        files[readme_path] = splice(existing, section, readme_path)
    keep = set(_page_files(settings, placed).values())
    stale = paths.stale_archive_pages(settings.path(out.archive_dir), topics, keep, settings.base_dir)
    files.update({page: None for page in stale})
    return files


def digest_papers(settings: Settings, ledger: Ledger, today: str) -> list[Paper]:
    """The records the day's digest needs, and no more: build_digest gives the same digest from these
    as from every paper. The day's papers; and when some must be left out (more than the digest
    holds), every README row too, to say where the left-out ones are shown."""
    names = {t.name for t in settings.topics}
    day = {pid for pid, entry in ledger.entries() if entry.topics and today in (entry.first_seen, entry.revised_on)}
    wanted = set(day)
    if len(day) > settings.output.digest_max_papers:
        by_topic: dict[str, list[tuple[str, str]]] = {}
        for pid, entry in ledger.entries():
            for name in set(entry.topics) & names:
                by_topic.setdefault(name, []).append((entry.updated, pid))
        for items in by_topic.values():
            wanted.update(pid for _, pid in heapq.nlargest(settings.output.readme_rows, items))
    return [ledger.papers[pid] for pid in sorted(wanted)]
