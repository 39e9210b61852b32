"""Who "the bot" is on GitHub: the login whose issues and comments the tracker may edit or close.

The tracker touches only issues it opened, so it must know its own login. In order:
1. TRACKER_GITHUB_LOGIN, when set (a GitHub App other than Actions' own, or to be explicit);
2. `GET /user`: the token's user, for a personal access token;
3. an installation token (Actions' GITHUB_TOKEN, a GitHub App) may not call `GET /user`
   (403/404): its issues are authored by `github-actions[bot]`, the default for that case.
An issue the bot opens reports its real author; if that differs from the login assumed, the
author opened by this very run wins for the rest of the run (and a warning says what to set).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

ACTIONS_BOT = "github-actions[bot]"
LOGIN_ENV = "TRACKER_GITHUB_LOGIN"
_ATTRIBUTE = "_tracker_bot_login"  # cached on the Repository object the client built


def bot_login(repo: Any, environ: Mapping[str, str] | None = None) -> str:
    """The login whose issues are the tracker's, resolved once per repository object."""
    known = getattr(repo, _ATTRIBUTE, None)
    if known:
        return known
    env = os.environ if environ is None else environ
    login = (env.get(LOGIN_ENV) or "").strip() or _token_user(repo) or ACTIONS_BOT
    remember(repo, login)
    return login


def remember(repo: Any, login: str) -> None:
    setattr(repo, _ATTRIBUTE, login)


def learn_from_created(repo: Any, created: Any) -> None:
    """After opening an issue: its author IS the bot; correct a wrong guess (and say so)."""
    author = getattr(getattr(created, "user", None), "login", None)
    assumed = getattr(repo, _ATTRIBUTE, None)
    if author and author != assumed:
        log.warning("the tracker's issues are authored by %r, not %r: set %s=%s", author, assumed, LOGIN_ENV, author)
        remember(repo, author)


def _token_user(repo: Any) -> str | None:
    """`GET /user`'s login, or None where the token may not ask (an installation token)."""
    from github.GithubException import GithubException

    from tracker.publish.client import Api

    def whoami() -> str | None:
        try:
            _, data = repo.requester.requestJsonAndCheck("GET", "/user")
        except GithubException as exc:
            if exc.status in (403, 404):  # "Resource not accessible by integration"
                return None
            raise
        return data.get("login") if isinstance(data, dict) else None

    return Api(repo).call("asking GitHub who the token belongs to", whoami)
