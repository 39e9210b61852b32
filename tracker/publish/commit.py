"""`publish --commit`: make the repository on GitHub hold the tracker's files, without a checkout.

What to send is decided by comparing with the REMOTE, not with what this run happened to write:
each file's git blob SHA is compared with the one GitHub lists for it (one contents-API listing
per folder), so a rerun against a repository that lacks the files commits them, and a file
already there unchanged costs nothing. The README is shared with people: only the tracker's
marked section is replaced in the README GitHub has, so an edit made on GitHub is kept.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from tracker.errors import TrackerError
from tracker.publish.client import Api

log = logging.getLogger(__name__)
_LISTING_CAP = 1000  # the contents API lists at most this many entries of a folder


@dataclass
class CommitResult:
    changed: list[str] = field(default_factory=list)  # created or updated, repository paths
    deleted: list[str] = field(default_factory=list)
    remote: dict[str, str] = field(default_factory=dict)  # path -> blob SHA GitHub now has


def git_blob_sha(data: bytes) -> str:
    """The SHA git (and the contents API) gives a file's bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def commit_files(
    repo: Any,
    files: Mapping[str, bytes],
    *,
    message: str,
    branch: str | None = None,
    deleted: Iterable[str] = (),
    readme: str | None = None,
) -> CommitResult:
    """Create or update every file GitHub lacks or holds differently; delete `deleted` ones it has.

    Each change is one commit (the contents API has no multi-file commit); a run interrupted
    midway is finished by the next, since only the remaining differences are sent.
    """
    from github.GithubObject import NotSet

    api = Api(repo)
    ref = branch or NotSet
    gone = sorted(set(deleted) - set(files))
    remote = remote_shas(repo, [*files, *gone], ref=ref, api=api)
    result = CommitResult(remote={p: s for p, s in remote.items() if s})
    for path in sorted(files):
        data = files[path]
        if path == readme and (sha := remote.get(path)):
            data = _merged_readme(api, repo, path, data, sha)
        if remote.get(path) == git_blob_sha(data):
            continue
        if remote.get(path) is None:
            api.call(f"creating {path}", partial(repo.create_file, path, message, data, branch=ref))
        else:
            api.call(f"updating {path}", partial(repo.update_file, path, message, data, remote[path], branch=ref))
        result.changed.append(path)
        result.remote[path] = git_blob_sha(data)
    for path in gone:
        if remote.get(path):
            api.call(f"deleting {path}", partial(repo.delete_file, path, message, remote[path], branch=ref))
            result.deleted.append(path)
            result.remote.pop(path, None)
    log.info(
        "committed %d and deleted %d of %d files via the contents API",
        len(result.changed),
        len(result.deleted),
        len(files),
    )
    return result


def remote_shas(repo: Any, paths: Iterable[str], *, ref: Any, api: Api | None = None) -> dict[str, str | None]:
    """path -> the blob SHA GitHub has for it (None when it has no such file)."""
    api = api or Api(repo)
    by_folder: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        by_folder[path.rpartition("/")[0]].append(path)
    out: dict[str, str | None] = {}
    for folder, wanted in sorted(by_folder.items()):
        listing = api.call(
            f"listing {folder or 'the repository root'}",
            partial(repo.get_contents, folder, ref=ref),
            missing_ok=True,
        )
        if listing is not None and not isinstance(listing, list):
            raise TrackerError(f"cannot commit into {folder}: it is a file in {repo.full_name}")
        entries = {e.path: e for e in listing or []}
        for path in wanted:
            entry = entries.get(path)
            if entry is None and listing is not None and len(listing) >= _LISTING_CAP:
                entry = api.call(f"reading {path}", partial(repo.get_contents, path, ref=ref), missing_ok=True)
            if entry is not None and (isinstance(entry, list) or entry.type != "file"):
                raise TrackerError(
                    f"cannot commit {path}: it is a {getattr(entry, 'type', 'directory')} in {repo.full_name}"
                )
            out[path] = entry.sha if entry is not None else None
    return out


def remote_has(repo: Any, path: str, data: bytes, *, ref: Any) -> bool:
    """Whether GitHub holds exactly `data` at `path` on `ref` (before linking to it)."""
    return remote_shas(repo, [path], ref=ref).get(path) == git_blob_sha(data)


def _merged_readme(api: Api, repo: Any, path: str, local: bytes, sha: str) -> bytes:
    """The README GitHub has, with the tracker's section replaced by ours (edits on GitHub kept)."""
    from tracker.render.markdown import END_MARKER, START_MARKER, splice

    text = local.decode("utf-8")
    section = _section(text, START_MARKER, END_MARKER)
    if section is None:
        return local
    try:
        remote_text = read_blob(api, repo, path, sha).decode("utf-8")
    except UnicodeDecodeError:
        raise TrackerError(f"{path} on GitHub is not UTF-8 text; cannot update its tracker section") from None
    return splice(remote_text, section).encode("utf-8")


def read_blob(api: Api, repo: Any, path: str, sha: str) -> bytes:
    """A file's bytes by its blob SHA, through the git data API.

    Not the contents API: for a file over 1 MB it answers `"encoding": "none"` with no content
    (PyGithub's `decoded_content` then fails an assertion); blobs are served up to 100 MB."""
    blob = api.call(f"reading {path} (blob {sha[:12]})", lambda: repo.get_git_blob(sha))
    try:
        data = (
            base64.b64decode(blob.content or "") if blob.encoding == "base64" else (blob.content or "").encode("utf-8")
        )
    except (ValueError, TypeError):
        data = None
    if data is None or git_blob_sha(data) != sha:  # a proxy or a damaged answer: never splice into it
        raise TrackerError(
            f"GitHub sent {path} (blob {sha[:12]}) damaged or in an unknown encoding {blob.encoding!r}; rerun later"
        )
    return data


def _section(text: str, start: str, end: str) -> str | None:
    """The lines between the marker lines (None without exactly one pair, in order), by the
    splice's own rule of what a marker line is (not a marker quoted in code or a comment)."""
    from tracker.render.splice import find_markers

    found = find_markers(text)
    starts, ends = found[start], found[end]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        return None
    return "\n".join(text.split("\n")[starts[0] : ends[0] - 1])
