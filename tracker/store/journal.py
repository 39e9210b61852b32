"""Crash-safe file writes.

`write_atomic` replaces one file (temp file + rename). `commit` replaces many files as one
unit through a small journal: new contents are staged beside their targets, the journal
listing them is written atomically, then each stage is renamed into place. A run killed
before the journal exists changed nothing; a run killed after it is rolled forward by
`recover` at the start of the next run. Either way the next run behaves as if the killed
one had finished or never started. A write that fails (disk full, read-only folder) removes
what it staged and raises `WriteError`: the old files are intact.

The journal is a state file on disk, so it is trusted no further than it can be checked:
paths in it are relative to the project root (found from the journal's own recorded
location, so a journal copied with its folder applies inside the copy), never absolute,
never `..`, never resolving outside the root; it may delete only Markdown pages. A journal
that fails any check is discarded with a warning, its staged files removed, nothing applied.
Recovery trusts the disk no further: the journal and each stage must be regular files (a link
could lead into another project), it deletes only archive pages carrying the tracker's marker,
and a step that can never succeed (its target became a folder) is skipped with a warning.

Test hook: TRACKER_TEST_COMMIT_PAUSE=<seconds> sleeps before each step of applying a journal,
so tests/test_run_e2e.py can kill a run inside that window.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
import tempfile
import time
from functools import partial
from pathlib import Path, PurePosixPath

from tracker.errors import TrackerError

log = logging.getLogger(__name__)
STAGE_SUFFIX = ".staged"
FORMAT = 2
DELETABLE_SUFFIXES = (".md",)  # a commit deletes only pages the tracker renders, never ledger shards
# The first line of every archive page (tracker.render.paths.ARCHIVE_MARKER): recovery deletes nothing else.
RECOVERABLE_DELETE_HEAD = b"<!-- paper-tracker:archive topic="
_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
# A rename that fails with one of these fails the same way on every later try.
_PERMANENT = {errno.EISDIR, errno.ENOTDIR, errno.ENAMETOOLONG, errno.ENOTEMPTY, errno.EEXIST, errno.ELOOP, errno.EINVAL}


class WriteError(TrackerError, OSError):
    """A file could not be written; what was staged is removed, the old files are intact.

    Also an OSError, so code treating a cache write as best-effort (`except OSError`) still does.
    """

    @classmethod
    def of(cls, exc: OSError, path: Path, outcome: str = "nothing was changed") -> WriteError:
        if isinstance(exc, WriteError):
            return exc  # already says which file and what it left behind
        reason = "disk full" if exc.errno in _FULL else (exc.strerror or type(exc).__name__)
        return cls(exc.errno, f"{reason[:1].lower()}{reason[1:]} while writing {path}: {outcome}")

    def __str__(self) -> str:
        return self.strerror or super().__str__()


class UnsafeJournal(ValueError):
    """A journal that does not pass the checks above."""


def _encode(content: str | bytes) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else content


def regular_file(path: Path) -> bool:
    """True for a regular file that is not a link (a FIFO would block a read; a link may lead anywhere)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except (OSError, ValueError):
        return False


def _unchanged(path: Path, data: bytes) -> bool:
    if not regular_file(path):
        return False
    try:
        return path.read_bytes() == data
    except OSError:
        return False


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _make_parents(path: Path, created: list[Path]) -> None:
    """mkdir -p, remembering the folders it made so a failed commit can take them away again."""
    missing = [p for p in [path.parent, *path.parent.parents] if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)
        created.append(folder)


def write_atomic(path: Path, content: str | bytes) -> bool:
    """Write `content` to `path` via a temp file + rename. Returns False when it was already there."""
    data = _encode(content)
    if _unchanged(path, data):
        return False
    created: list[Path] = []
    tmp = None
    try:
        _make_parents(path, created)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        _write_synced(Path(tmp), data)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        _remove_folders(created)
        if isinstance(exc, OSError) and not isinstance(exc, WriteError):
            raise WriteError.of(exc, path) from exc
        raise
    return True


def commit(files: dict[Path, str | bytes | None], journal: Path, *, root: Path | None = None) -> list[Path]:
    """Replace (or delete, for None) all `files` as one unit. Returns the paths that changed.

    `root` (default: the folder holding the journal and every file) is what journal paths are
    relative to; every file must lie inside it."""
    recover(journal)
    journal = _real(journal)
    changes = {_real(p): (None if c is None else _encode(c)) for p, c in files.items()}
    gone = {p for p, d in changes.items() if d is None and (p.is_symlink() or p.is_file())}
    changes = {p: d for p, d in changes.items() if p in gone or (d is not None and not _unchanged(p, d))}
    if not changes:
        return []
    root = (root or Path(os.path.commonpath([journal.parent, *changes]))).resolve()
    plan: dict = {"format": FORMAT, "journal": _relative(journal, root), "replace": [], "delete": []}
    _check_targets(changes, journal)
    for path, data in sorted(changes.items()):
        plan["replace" if data is not None else "delete"].append(_relative(path, root))
    try:
        _check(plan, root)  # what recovery would refuse, commit refuses to promise
    except UnsafeJournal as exc:
        raise TrackerError(f"refusing to write: {exc}; nothing was changed") from None
    _stage_all(root, {p: d for p, d in changes.items() if d is not None}, journal, plan)
    _apply_steps(_check(plan, root))
    journal.unlink(missing_ok=True)
    return sorted(changes)


def _check_targets(changes: dict[Path, bytes | None], journal: Path) -> None:
    """Refuse, before anything is staged, targets no rename could ever put in place."""
    folders = {parent: path for path in changes for parent in path.parents}
    for path in sorted(changes):
        if path == journal or path == stage_of(journal):
            problem = "it is the commit journal; point that output elsewhere"
        elif path in folders:
            problem = f"it would also be the folder of {folders[path]}; give the outputs distinct paths"
        elif path.is_dir() and not path.is_symlink():
            problem = "it is a folder"
        else:
            continue
        raise TrackerError(f"cannot write {path}: {problem}; nothing was changed")


def _real(path: Path) -> Path:
    """Absolute, with links in its folders resolved (a link at the path itself is replaced, not followed)."""
    path = Path(os.path.abspath(path))
    return path.parent.resolve() / path.name


def _stage_all(root: Path, data_by_path: dict[Path, bytes], journal: Path, plan: dict) -> None:
    """Write every stage, then the journal; on any failure remove them all and raise WriteError."""
    staged: list[Path] = []
    created: list[Path] = []
    current = journal
    try:
        for path, data in sorted(data_by_path.items()):
            current = path
            _make_parents(path, created)
            stage = stage_of(path)
            if os.path.lexists(stage) and not regular_file(stage):
                current = stage  # a leftover folder or link of our stage's name: never written through
                stage.unlink() if stage.is_symlink() or not stage.is_dir() else stage.rmdir()
            staged.append(stage)
            _write_synced(stage, data)
        current = journal
        write_atomic(journal, json.dumps(plan, indent=1, ensure_ascii=True))
    except OSError as exc:  # (write_atomic's WriteError passes through WriteError.of unchanged)
        for stage in staged:
            if regular_file(stage):
                stage.unlink()
        _remove_folders(created)
        raise WriteError.of(exc, current) from exc


def _remove_folders(created: list[Path]) -> None:
    for folder in reversed(created):
        try:
            folder.rmdir()
        except OSError:
            pass  # not empty after all: something else wrote there


def stage_of(path: Path) -> Path:
    return path.with_name(f".{path.name}{STAGE_SUFFIX}")


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        raise TrackerError(f"{path} is outside the project folder {root}; keep every output inside it") from None


def _root_of(journal: Path, recorded: object) -> Path:
    """The project root: the journal's location minus the location it recorded relative to the root."""
    parts = _safe_parts(recorded)
    if journal.parts[-len(parts) :] != parts:
        raise UnsafeJournal(f"it records its own location as {recorded!r}, but it is at {journal}")
    return Path(*journal.parts[: -len(parts)])


def _safe_parts(recorded: object) -> tuple[str, ...]:
    if not isinstance(recorded, str) or not recorded or "\\" in recorded or "\x00" in recorded:
        raise UnsafeJournal(f"{recorded!r} is not a relative path")
    path = PurePosixPath(recorded)
    if path.is_absolute() or any(part in ("..", ".") for part in recorded.split("/")) or not path.parts:
        raise UnsafeJournal(f"{recorded!r} is absolute or leaves the project folder")
    return path.parts


def _target(root: Path, recorded: object) -> Path:
    target = root.joinpath(*_safe_parts(recorded))
    if not target.parent.resolve().is_relative_to(root.resolve()):
        raise UnsafeJournal(f"{recorded!r} resolves outside the project folder (through a link)")
    return target


def _check(plan: object, root: Path) -> dict[str, list[Path]]:
    """The journal's steps as absolute paths, or UnsafeJournal naming the first problem."""
    if not isinstance(plan, dict) or plan.get("format") != FORMAT:
        raise UnsafeJournal("not a journal this version wrote")
    steps: dict[str, list[Path]] = {}
    for kind in ("replace", "delete"):
        entries = plan.get(kind)
        if not isinstance(entries, list):
            raise UnsafeJournal(f"`{kind}` is not a list")
        steps[kind] = [_target(root, entry) for entry in entries]
    for target in steps["delete"]:
        if target.suffix not in DELETABLE_SUFFIXES:
            raise UnsafeJournal(f"it would delete {target}, which a run never deletes")
    return steps


def _read(journal: Path) -> tuple[Path, dict[str, list[Path]]]:
    """The root and checked steps of the journal at `journal` (which exists)."""
    root = _root_of(journal, (plan := _load_plan(journal)).get("journal"))
    return root, _check(plan, root)


def _load_plan(journal: Path) -> dict:
    try:
        plan = json.loads(journal.read_bytes().decode("utf-8"))
    except (ValueError, RecursionError):  # written atomically, so this is damage from outside
        raise UnsafeJournal("unreadable") from None
    except OSError as exc:
        raise UnsafeJournal(f"unreadable ({exc.strerror or exc})") from None
    if not isinstance(plan, dict):
        raise UnsafeJournal("not a journal this version wrote")
    return plan


def recover(journal: Path) -> None:
    """Finish a commit a killed run had promised (journal present), or do nothing."""
    journal = _real(journal)  # its folders resolved, but a journal that is itself a link is not followed
    if not _usable_journal(journal):
        return
    try:
        root, steps = _read(journal)
    except UnsafeJournal as exc:
        _discard(journal, exc)
        return
    count = len(steps["replace"]) + len(steps["delete"])
    log.warning("completing the file updates of an interrupted run (%d files)", count)
    _apply_steps(steps, recovering=True)
    journal.unlink(missing_ok=True)


def _usable_journal(journal: Path) -> bool:
    """True for a journal to read; anything else at its path that a commit could not replace is cleared."""
    if regular_file(journal) or not os.path.lexists(journal):
        return os.path.lexists(journal)
    if journal.is_dir() and not journal.is_symlink():
        try:
            journal.rmdir()
        except OSError:
            raise TrackerError(f"{journal} is a folder where the tracker keeps its commit journal; remove it") from None
    else:  # a link (it could lead into another project) or a FIFO/socket (a read would block)
        journal.unlink()
    log.warning("removed %s: not a commit journal (a link, folder or special file); nothing in it was applied", journal)
    return False


def pending(journal: Path) -> dict[Path, Path | None]:
    """What a pending journal would change, without changing anything (for read-only runs).

    Maps each target to the file holding its promised content (its stage, or the target itself
    when the stage was already renamed), or to None for a page it deletes."""
    journal = _real(journal)
    if not regular_file(journal):
        return {}
    try:
        _, steps = _read(journal)
    except UnsafeJournal as exc:
        log.warning("ignoring commit journal %s: %s", journal, exc)
        return {}
    view: dict[Path, Path | None] = {t: (stage_of(t) if regular_file(stage_of(t)) else t) for t in steps["replace"]}
    view.update({t: None for t in steps["delete"] if _ours_to_delete(t)})
    return view


def _discard(journal: Path, problem: Exception) -> None:
    log.warning("discarding commit journal %s (%s): nothing in it was applied", journal, problem)
    try:
        plan = _load_plan(journal)
        entries, root = plan.get("replace"), _root_of(journal, plan.get("journal"))
    except UnsafeJournal:
        entries, root = None, journal.parent
    for entry in entries if isinstance(entries, list) else []:
        try:
            stage_of(_target(root, entry)).unlink(missing_ok=True)
        except (UnsafeJournal, OSError):
            continue  # only stages we can place safely are removed
    journal.unlink(missing_ok=True)


def _apply_steps(steps: dict[str, list[Path]], *, recovering: bool = False) -> None:
    """Rename each stage into place, then delete. When `recovering`, the steps come from a file on
    disk: only a regular stage is moved and only our archive pages deleted, and a step that can
    never succeed is skipped (warned) so that it cannot fail every later run."""
    pause = _test_pause()
    for target in steps["replace"]:
        time.sleep(pause)
        stage = stage_of(target)
        if recovering and os.path.lexists(stage) and not regular_file(stage):
            log.warning("not moving %s into place: it is not a regular file (left as it is)", stage)
            continue
        _step(target, partial(os.replace, stage, target), recovering, stage)
    for target in steps["delete"]:
        time.sleep(pause)
        if recovering and os.path.lexists(target) and not _ours_to_delete(target):
            log.warning("not deleting %s: it is not an archive page the tracker wrote", target)
            continue
        _step(target, partial(target.unlink, missing_ok=True), recovering)


def _ours_to_delete(target: Path) -> bool:
    """An archive page carrying the tracker's marker line (what a journal on disk may delete)."""
    if not regular_file(target):
        return False
    try:
        with open(target, "rb") as handle:
            return handle.read(len(RECOVERABLE_DELETE_HEAD)) == RECOVERABLE_DELETE_HEAD
    except OSError:
        return False


def _step(target: Path, action, recovering: bool = False, stage: Path | None = None) -> None:
    try:
        action()
    except FileNotFoundError:
        pass  # stage already renamed (by the killed run, or a concurrent recovery)
    except OSError as exc:
        if recovering and exc.errno in _PERMANENT:
            log.warning("could not complete the update of %s (%s); skipped", target, exc.strerror or exc)
            if stage is not None and regular_file(stage):
                stage.unlink(missing_ok=True)
            return
        raise WriteError.of(exc, target, "the next run completes the update") from exc


def _test_pause() -> float:
    try:
        return max(0.0, float(os.environ.get("TRACKER_TEST_COMMIT_PAUSE") or 0))
    except ValueError:
        return 0.0


def remove_stale_stages(folder: Path) -> None:
    """Staged or temp files with no journal are leftovers of a run killed before it committed."""
    if folder.is_dir():
        for leftover in [*folder.rglob(f".*{STAGE_SUFFIX}"), *folder.rglob(".*.tmp")]:
            if regular_file(leftover) or leftover.is_symlink():  # never a folder of that name
                leftover.unlink(missing_ok=True)
