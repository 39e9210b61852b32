"""`tracker demo`: the whole pipeline, offline, in a scratch folder, showing every feature.

A loopback arXiv (tracker.demo_server) serves recorded and SciTLDR papers dated into the five
weeks before the demo day; the demo runs the tracker once a week over those weeks, as a lab's
daily job would, so the folder ends with a ledger, README, digests, weekly reviews, themes, a
profile's top picks and a rising theme (`tracker trends`). The config points the tracker at the
server through TRACKER_ARXIV_API_URL / TRACKER_ARXIV_RSS_URL, exactly as a test would.

The demo never touches a file it did not create, nor one changed since it wrote it. It takes a
folder that is new or empty and claims it in `.tracker-demo.json` (the demo day, the paths its
runs write, and a hash of every file written); a rerun refuses a folder holding other files, or
files of its own that someone edited (a user's keywords.yaml is theirs from then on).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tracker.demo_server import demo_papers, replay_server
from tracker.errors import TrackerError
from tracker.text import counted

CLAIM_FILE = ".tracker-demo.json"
SHOWN_FILES = 15  # files listed by name; the rest are counted
RUN_DAYS_BEFORE = (28, 21, 14, 7, 0)  # one run a week, the last on the demo day
DEMO_CONFIG = """\
# A demo config. Its arXiv is a loopback server replaying recorded and SciTLDR papers
# (see tracker/demo_data/ATTRIBUTION.md). Copy what you like into your own keywords.yaml.
topics:
  - name: Software Testing
    keywords: [testing]
  - name: Reinforcement Learning
    keywords: [reinforcement learning]
  - name: Graph Neural Networks
    keywords: [graph neural network]
  - name: Adversarial Robustness
    keywords: [adversarial]
  - name: Language Models
    keywords: [language model]
  - name: Language Models (feed)
    source: rss
    categories: [cs.CL]
    keywords: [language, retrieval, benchmark, transformers]
profile:  # what the group works on: top picks in each digest, `tracker explain ID`
  interests:
    - robustness of image classifiers to adversarial examples
    - graph neural networks for molecules and proteins
notify:  # `tracker notify --dry-run` shows the message; a real run reads the webhook from this variable
  - slack:
      webhook_env: DEMO_SLACK_WEBHOOK_URL
publish:
  repo: your-lab/papers  # `tracker publish --dry-run` shows the issue it would open there
arxiv:
  page_size: 50
  delay_seconds: 0
  backoff_seconds: 0
output:
  readme_rows: 25
  digest_max_papers: 20
"""


class DemoFolderError(TrackerError):
    """The folder holds files the demo did not create, or that changed since: a usage error."""

    exit_code = 2


def run_demo(folder: Path, *, embed: bool = True, day: str | None = None, encoder=None) -> list[str]:
    """Run the demo into `folder`; the lines to print (results, files written, what to try next).

    `day`: the demo day (default: today, UTC; a rerun keeps the folder's own day). `encoder`: a
    ready encoder (tests); else the configured model, loaded once for every run."""
    from tracker import pipeline
    from tracker.config import load_settings
    from tracker.enrich.stage import LazyEncoder

    claimed = claimed_paths_of_demo()
    check_folder(folder, claimed)
    manifest = read_manifest(folder)
    check_unchanged(folder, manifest)
    day = _day_of(manifest, folder) or day or pipeline.today_utc()
    config = folder / "keywords.yaml"
    files, done = dict(manifest.get("files") or {}), list(manifest.get("runs") or [])
    _write_claim(folder, claimed, day, files, done)
    _write(config, DEMO_CONFIG)
    files.update(hashes(folder, [config]))
    settings = load_settings(config)
    encoder = LazyEncoder(settings, encoder) if embed else None  # loaded once, for every run
    summaries = []
    with replay_server(demo_papers(day)) as server, _endpoints(f"{server.url}/api/query", f"{server.url}/rss"):
        for run_day in runs_to_do(day, done):
            server.day = run_day
            summaries.append(
                pipeline.run_daily(
                    settings, sources=pipeline.make_sources(settings), today=run_day, embed=embed, encoder=encoder
                )
            )
            files.update(hashes(folder, summaries[-1].outputs))
            done = sorted({*done, run_day})
            _write_claim(folder, claimed, day, files, done)  # after each run: an interrupted demo resumes here
    written = sorted({config.resolve(), *(Path(p).resolve() for s in summaries for p in s.outputs)})
    return _report(folder, settings, day, summaries, written)


def _day_of(manifest: dict, folder: Path) -> str | None:
    """The demo day an earlier demo recorded in the folder (its papers' dates and ids depend on it)."""
    day = manifest.get("day")
    if day is None:
        return None
    try:
        return dt.date.fromisoformat(str(day)).isoformat()
    except ValueError:
        raise DemoFolderError(
            f"{folder / CLAIM_FILE}: `day` {str(day)[:40]!r} is not a date; give the demo a new folder"
        ) from None


def run_days(day: str) -> list[str]:
    end = dt.date.fromisoformat(day)
    return [(end - dt.timedelta(days=before)).isoformat() for before in RUN_DAYS_BEFORE]


def runs_to_do(day: str, done: list[str]) -> list[str]:
    """The weekly runs not done yet; once all are, the demo day's again (an earlier day rerun
    with later papers in the ledger would rewrite its digest: history is left as it was)."""
    days = run_days(day)
    return [d for d in days if d not in done] or days[-1:]


# --- the folder: claimed, and never an edited file overwritten ---------------------------


def read_manifest(folder: Path) -> dict:
    try:
        data = json.loads((folder / CLAIM_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def hashes(folder: Path, paths: Sequence[str | Path]) -> dict[str, str]:
    """sha256 of each file (relative name → hash); files that are gone are left out."""
    root = folder.resolve()
    found = {}
    for path in paths:
        try:
            found[_relative(path, root)] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            continue
    return found


def check_unchanged(folder: Path, manifest: dict) -> None:
    """Refuse to rerun over a file of the demo's that changed since it wrote it (a user's edit)."""
    recorded = manifest.get("files") or {}
    if not isinstance(recorded, dict):
        return
    claimed = claimed_paths_of_demo()
    ours = [name for name in recorded if isinstance(name, str) and _is_claimed(name, claimed) and ".." not in name]
    now = hashes(folder, [folder / name for name in ours if (folder / name).is_file()])
    changed = sorted(name for name, digest in now.items() if recorded.get(name) != digest)
    if changed:
        raise DemoFolderError(
            f"{folder}: {_names([(n, False) for n in changed])} changed since the demo wrote "
            f"{'it' if len(changed) == 1 else 'them'}; the demo never overwrites your edits: run the tracker "
            f"on it (tracker run --config {folder / 'keywords.yaml'}) or give the demo a new folder"
        )


def _write_claim(folder: Path, claimed: list[str], day: str, files: dict[str, str], runs: list[str]) -> None:
    claim = {
        "created_by": "tracker demo",
        "day": day,
        "runs": runs,
        "paths": claimed,
        "files": dict(sorted(files.items())),
    }
    _write(folder / CLAIM_FILE, json.dumps(claim, indent=2) + "\n")


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise DemoFolderError(f"cannot write the demo into {path.parent}: {exc.strerror or exc}") from None


def claimed_paths_of_demo() -> list[str]:
    from tracker.config import parse_settings

    return claimed_paths(parse_settings(DEMO_CONFIG))


def claimed_paths(settings) -> list[str]:
    """What a demo folder holds: the config, the claim itself, and where the run writes (folders end in /)."""
    out = settings.output
    folders = [
        f"{Path(p).as_posix().strip('/')}/" for p in (out.data_dir, out.digest_dir, out.archive_dir, out.state_dir)
    ]
    return sorted({"keywords.yaml", CLAIM_FILE, Path(out.readme).as_posix(), *folders})


def check_folder(folder: Path, claimed: list[str]) -> None:
    """Refuse a folder holding anything the demo would not have created (symlinks count as foreign)."""
    if not folder.exists():
        return
    if not folder.is_dir() or folder.is_symlink():
        raise DemoFolderError(f"{folder} is not a folder; give a new or empty folder for the demo")
    entries = _files(folder)
    if not entries:
        return
    if not (folder / CLAIM_FILE).is_file():
        raise DemoFolderError(
            f"{folder} is not empty ({_names(entries)}) and was not made by `tracker demo`; "
            f"give a new or empty folder, e.g. {folder / 'tracker-demo'}"
        )
    foreign = [name for name, is_link in entries if is_link or not _is_claimed(name, claimed)]
    if foreign:
        raise DemoFolderError(
            f"{folder} holds files the demo did not create ({_names([(n, False) for n in foreign])}); "
            "move them, or give a new or empty folder"
        )


def _files(folder: Path) -> list[tuple[str, bool]]:
    """(path relative to folder, is a symlink) for every file and link below it; links are not followed."""
    found = []
    for root, dirs, files in os.walk(folder):
        base = Path(root)
        links = [d for d in dirs if (base / d).is_symlink()]
        dirs[:] = sorted(d for d in dirs if d not in links)
        for name in sorted(files) + links:
            path = base / name
            found.append((path.relative_to(folder).as_posix(), path.is_symlink()))
    return found


def _is_claimed(name: str, claimed: list[str]) -> bool:
    return any(name == path or (path.endswith("/") and name.startswith(path)) for path in claimed)


def _names(entries: list[tuple[str, bool]], shown: int = 3) -> str:
    names = [name for name, _ in entries]
    more = f", and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


@contextmanager
def _endpoints(api_url: str, rss_url: str) -> Iterator[None]:
    """Point the tracker at the replay server for the demo only; restore the caller's environment."""
    keys = {"TRACKER_ARXIV_API_URL": api_url, "TRACKER_ARXIV_RSS_URL": rss_url}
    saved = {key: os.environ.get(key) for key in keys}
    os.environ.update(keys)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _report(folder: Path, settings, day: str, summaries: list, written: list[Path]) -> list[str]:
    from tracker.render.markdown import digest_path

    lines = [
        f"{s.date}: {counted(s.new_papers, 'new paper')}"
        + "".join(f"; {t.name}: error {t.error}" for t in s.topics if t.error)
        for s in summaries
    ]
    extra = summaries[-1].extra
    if "embedded" in extra:
        lines.append(
            f"{day}: {counted(extra.get('near_duplicates', 0), 'near-duplicate')}, "
            f"{counted(extra.get('clusters', 0), 'theme')} in the digest"
        )
    root = folder.resolve()
    digest = digest_path(settings.path(settings.output.digest_dir), day)
    readme = settings.path(settings.output.readme)
    first = {"keywords.yaml": 0, _relative(readme, root): 1, _relative(digest, root): 2}  # what to open first
    names = sorted(dict.fromkeys(_relative(path, root) for path in written), key=lambda n: (first.get(n, 3), n))
    lines.append(f"wrote {counted(len(names), 'file')} in {folder}:")
    lines += [f"  {name}" for name in names[:SHOWN_FILES]]
    if len(names) > SHOWN_FILES:
        lines.append(f"  and {len(names) - SHOWN_FILES} more")
    if digest.is_file():
        lines.append(f"today's digest: {digest}")
    lines.append(f"the tables: {readme}")
    weekly = sorted(settings.path(settings.output.digest_dir).glob("*/week-*.md"))
    if weekly:
        lines.append(f"the weekly review: {weekly[-1]}")
    return lines + try_next(folder, settings, day)


def try_next(folder: Path, settings, day: str) -> list[str]:
    """The commands that show the rest, on one of the day's top picks (else one of its papers)."""
    from tracker.render.digest_data import digest_data_path, read_digest_data

    data = read_digest_data(digest_data_path(settings.path(settings.output.digest_dir), day)) or {}
    picks = [p["id"] for group in data.get("picks", []) for p in group.get("papers", [])]
    paper = (picks or data.get("new") or ["2202.12139"])[0]
    config = f"--config {folder / 'keywords.yaml'}"
    dated = "" if day == dt.datetime.now(dt.timezone.utc).date().isoformat() else f" --date {day}"
    return [
        "",
        "try next:",
        f'  tracker search "adversarial robustness" {config}',
        f"  tracker similar {paper} {config}",
        f"  tracker explain {paper} {config}",
        f"  tracker trends{dated} {config}",
        f"  tracker notify --dry-run{dated} {config}",
        f"  tracker publish --dry-run{dated} {config}",
    ]


def _relative(path: str | Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)
