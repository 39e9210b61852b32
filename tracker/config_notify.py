"""`notify:` in keywords.yaml: the chat and email channels that get each day's top picks.

Secrets never live in the file: every channel names the environment variables that hold them
(`webhook_env`, `username_env`, `password_env`). Whether those variables are set, and whether a
webhook URL is https, is checked when `tracker notify` runs (a run without the secrets is normal),
and reported with the channel's config line, which `attach_lines` records here.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, PrivateAttr, model_validator

from tracker.config_types import ENV_NAME, Float, Int, StrictModel, full_match

# One plain address: no display name, no list, nothing that could end a header line (CR/LF).
_ADDRESS = re.compile(r"[^@\s<>,;:\"'()\[\]\\]{1,64}@[A-Za-z0-9.\-]{1,253}")
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})  # a local relay may take a password in clear
_HOST = re.compile(r"[A-Za-z0-9.\-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]")


EnvName = Annotated[str, full_match(ENV_NAME, "an environment variable name (letters, digits, _)")]
Address = Annotated[str, full_match(_ADDRESS, "a plain e-mail address (name@example.org)")]
Host = Annotated[str, full_match(_HOST, "a host name")]


class WebhookChannel(StrictModel):
    """Slack, Discord and Teams: an incoming-webhook URL, read from an environment variable."""

    webhook_env: EnvName


class EmailChannel(StrictModel):
    smtp_host: Host
    port: Int = Field(587, ge=1, le=65535)
    starttls: bool = True  # STARTTLS on a plain connection (port 587)
    ssl: bool = False  # TLS from the first byte (port 465)
    username_env: EnvName | None = None
    password_env: EnvName | None = None
    from_: Address = Field(alias="from")
    to: list[Address] = Field(min_length=1, max_length=100)
    timeout_seconds: Float = Field(30.0, gt=0, le=600)

    @model_validator(mode="after")
    def _consistent(self) -> EmailChannel:
        if self.ssl and self.starttls:
            raise ValueError("choose `ssl: true` (port 465) or `starttls: true` (port 587), not both")
        if bool(self.username_env) != bool(self.password_env):
            raise ValueError("give both `username_env` and `password_env`, or neither")
        if self.username_env and not (self.ssl or self.starttls) and self.smtp_host.lower() not in LOOPBACK_HOSTS:
            raise ValueError(f"the password would go to {self.smtp_host} in clear: set `starttls: true` or `ssl: true`")
        return self


KINDS = ("slack", "discord", "teams", "email")


class NotifyChannel(StrictModel):
    """One list item of `notify:`: exactly one of `slack`, `discord`, `teams`, `email`."""

    slack: WebhookChannel | None = None
    discord: WebhookChannel | None = None
    teams: WebhookChannel | None = None
    email: EmailChannel | None = None
    _line: int = PrivateAttr(0)

    @model_validator(mode="after")
    def _one_kind(self) -> NotifyChannel:
        given = [kind for kind in KINDS if getattr(self, kind) is not None]
        if len(given) != 1:
            raise ValueError(f"each channel is one of {', '.join(KINDS)} (got {', '.join(given) or 'none'})")
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in KINDS if getattr(self, kind) is not None)

    @property
    def options(self) -> WebhookChannel | EmailChannel:
        return getattr(self, self.kind)

    @property
    def line(self) -> int:
        return self._line

    @property
    def key(self) -> str:
        """A stable name for the channel that holds no secret: kind and where its secret comes from."""
        options = self.options
        if isinstance(options, EmailChannel):
            return f"email:{options.smtp_host}:{','.join(sorted(options.to))}"
        return f"{self.kind}:{options.webhook_env}"


def attach_lines(channels: list[NotifyChannel], lines: dict[tuple, int]) -> None:
    """Remember each channel's line in the config, for messages about it at `tracker notify` time."""
    for index, channel in enumerate(channels):
        channel._line = lines.get(("notify", index), 0)
