"""Who "the bot" is on GitHub: the login whose issues and comments the tracker may edit or close.

The tracker touches only issues it opened, so it must know its own login. In order:
1. TRACKER_GITHUB_LOGIN, when set (a GitHub App other than Actions' own, or to be explicit);
2. `GET /user`: the token's user, for a personal access token;
3. an installation token (Actions' GITHUB_TOKEN, a GitHub App) may not call `GET /user`
   (403/404): the `[bot]` login its earlier issues were authored by, as recorded in the state
   folder (`.tracker/github-login`), else `github-actions[bot]`, Actions' own.
An issue the bot opens reports its real author; if that differs from the login assumed, the
author wins for the rest of the run and is recorded (and a warning says what to set). Only a
`[bot]` login is taken from the record: no member's account can be one, so a tampered cache
cannot make the tracker take a member's issues for its own.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tracker.publish.client import Api
from tracker.store.journal import write_atomic

log = logging.getLogger(__name__)

ACTIONS_BOT = "github-actions[bot]"
LOGIN_ENV = "TRACKER_GITHUB_LOGIN"
RECORD = "github-login"  # in the state folder
_ATTRIBUTE = "_tracker_bot_login"  # cached on the Repository object the client built
_RECORD_ATTRIBUTE = "_tracker_login_record"


def bot_login(repo: Any, environ: Mapping[str, str] | None = None) -> str:
    """The login whose issues are the tracker's, resolved once per repository object."""
    known = getattr(repo, _ATTRIBUTE, None)
    if known:
        return known
    env = os.environ if environ is None else environ
    login = (env.get(LOGIN_ENV) or "").strip() or _token_user(repo) or _recorded(repo) or ACTIONS_BOT
    remember(repo, login)
    return login


def remember(repo: Any, login: str) -> None:
    setattr(repo, _ATTRIBUTE, login)


def record_in(repo: Any, state_dir: Path) -> None:
    """Where a learned `[bot]` login is kept between runs (the publisher passes its state folder)."""
    setattr(repo, _RECORD_ATTRIBUTE, Path(state_dir) / RECORD)


def _recorded(repo: Any) -> str | None:
    path = getattr(repo, _RECORD_ATTRIBUTE, None)
    try:
        login = path.read_text(encoding="utf-8").strip() if path else ""
    except (OSError, UnicodeDecodeError):  # a cache: missing or damaged is no record
        return None
    return login if login.endswith("[bot]") and len(login) <= 100 else None


def _record(repo: Any, login: str) -> None:
    path = getattr(repo, _RECORD_ATTRIBUTE, None)
    if path is None or not login.endswith("[bot]"):
        return
    try:
        write_atomic(path, login + "\n")  # replaces a link there, never writes through it
    except OSError as exc:
        log.warning("cannot record the tracker's login in %s: %s", path, exc)


def same_login(one: str | None, other: str | None) -> bool:
    """GitHub logins ignore case: TRACKER_GITHUB_LOGIN=Lab-Bot names the account shown as lab-bot."""
    if not one or not other:
        return False
    return one.casefold() == other.casefold()


def learn_from_created(repo: Any, created: Any) -> None:
    """After opening an issue: its author IS the bot; correct a wrong guess (and say so)."""
    author = getattr(getattr(created, "user", None), "login", None)
    assumed = getattr(repo, _ATTRIBUTE, None)
    if author and not same_login(author, assumed):
        log.warning("the tracker's issues are authored by %r, not %r: set %s=%s", author, assumed, LOGIN_ENV, author)
        remember(repo, author)
        _record(repo, author)


def _token_user(repo: Any) -> str | None:
    """`GET /user`'s login, or None where the token may not ask (an installation token)."""
    from github.GithubException import GithubException

    def whoami() -> str | None:
        try:
            _, data = repo.requester.requestJsonAndCheck("GET", "/user")
        except GithubException as exc:
            if exc.status in (403, 404):  # "Resource not accessible by integration"
                return None
            raise
        return data.get("login") if isinstance(data, dict) else None

    return Api(repo).call("asking GitHub who the token belongs to", whoami)
