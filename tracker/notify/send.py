"""`tracker notify`: the day's picks to every configured channel, once a day each, failures reported.

A channel that fails is retried within the run's wait budget, then named in the report (and,
through `.tracker/notify/DATE.json`, in the health issue); it never stops the other channels.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

from tracker.config_notify import LOOPBACK_HOSTS, EmailChannel, NotifyChannel
from tracker.notify import formats
from tracker.notify.deliver import DeliveryFailed, SmtpLogin, post_json, send_email, with_retries
from tracker.notify.news import DayNews, gather_news
from tracker.notify.record import load_sent, mark_sent, save_failures, sent_path
from tracker.redact import register_secret
from tracker.render.links import safe_url
from tracker.retry import Deadline
from tracker.store.lock import run_lock

if TYPE_CHECKING:
    from tracker.config import Settings

log = logging.getLogger(__name__)
MIN_WEBHOOK_PATH = 16  # a real webhook's path holds its token; a short one ("/hook") would mask common text


@dataclass
class NotifyReport:
    sent: list[str] = field(default_factory=list)  # channel names
    skipped: list[str] = field(default_factory=list)  # already sent today
    failed: list[str] = field(default_factory=list)  # "name: why", safe to show
    previews: list[str] = field(default_factory=list)  # dry run: what would be sent


class ChannelProblem(DeliveryFailed):
    """The channel's configuration cannot work (missing variable, bad URL): no point retrying."""


def channel_name(channel: NotifyChannel, config_name: str) -> str:
    return f"{channel.kind} ({config_name}:{channel.line})" if channel.line else channel.kind


def notify_day(
    settings: Settings,
    date: str,
    *,
    config_name: str = "keywords.yaml",
    dry_run: bool = False,
    force: bool = False,
    budget_seconds: float = 120.0,
) -> NotifyReport:
    report = NotifyReport()
    if not settings.notify:
        return report
    news = gather_news(settings, date)
    if dry_run:
        report.previews = [preview(channel, news, channel_name(channel, config_name)) for channel in settings.notify]
        return report
    with run_lock(settings.project.state_dir, command="tracker notify"):
        _send_all(settings, news, report, config_name=config_name, force=force, budget=Deadline(budget_seconds))
    save_failures(settings, date, report.failed)
    return report


def _send_all(
    settings: Settings, news: DayNews, report: NotifyReport, *, config_name: str, force: bool, budget: Deadline
) -> None:
    record = sent_path(settings)
    sent = load_sent(record)
    for channel in settings.notify:
        name = channel_name(channel, config_name)
        if not force and news.date in sent.get(channel.key, []):
            report.skipped.append(name)
            continue
        try:
            send_channel(channel, news, budget)
        except DeliveryFailed as exc:
            log.warning("notify: %s failed: %s", name, exc)
            report.failed.append(f"{name}: {exc}")
            continue
        mark_sent(record, channel.key, news.date)  # at once: a crash later must not resend this one
        report.sent.append(name)


def send_channel(channel: NotifyChannel, news: DayNews, budget: Deadline) -> None:
    options = channel.options
    if isinstance(options, EmailChannel):
        message = formats.email_message(news, options.from_, options.to)
        login = smtp_login(options)
        with_retries(lambda: send_email(login, message, budget), budget)
        return
    url = webhook_url(options.webhook_env)
    for payload in formats.WEBHOOK_PAYLOADS[channel.kind](news):
        with_retries(lambda p=payload: post_json(url, p, budget), budget)


def webhook_url(variable: str) -> str:
    value = os.environ.get(variable, "").strip()
    if not value:
        raise ChannelProblem(f"environment variable {variable} is not set (it must hold the webhook URL)")
    parts = urlsplit(value)
    loopback = parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS
    if not (parts.scheme == "https" and safe_url(value)) and not loopback:
        raise ChannelProblem(f"environment variable {variable} does not hold an https:// URL")
    _mask_everywhere(value, parts)
    return value


def _mask_everywhere(url: str, parts: SplitResult) -> None:
    """The URL is the secret: masked in every later log line, including the HTTP library's debug
    lines, which print only its path ("POST /services/T0/B0/XXXX")."""
    register_secret(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    if len(target) >= MIN_WEBHOOK_PATH:
        register_secret(target)


def smtp_login(options: EmailChannel) -> SmtpLogin:
    username = password = None
    if options.username_env and options.password_env:
        username, password = os.environ.get(options.username_env), os.environ.get(options.password_env)
        if not username or not password:
            missing = [v for v, val in ((options.username_env, username), (options.password_env, password)) if not val]
            raise ChannelProblem(f"environment variable(s) {', '.join(missing)} not set")
        register_secret(password)
    return SmtpLogin(
        options.smtp_host, options.port, options.starttls, options.ssl, options.timeout_seconds, username, password
    )


def preview(channel: NotifyChannel, news: DayNews, name: str) -> str:
    options = channel.options
    if isinstance(options, EmailChannel):
        body = formats.email_message(news, options.from_, options.to).as_string()
    else:
        body = "\n".join(
            json.dumps(p, ensure_ascii=False, indent=1) for p in formats.WEBHOOK_PAYLOADS[channel.kind](news)
        )
    return f"--- {name} ---\n{body}"
