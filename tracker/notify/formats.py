"""Each platform's message format, limits and escaping. Pure: news in, payloads out.

Paper text is hostile: on every platform a mention written in a title (`<!channel>`, `<@U123>`,
`@everyone`, `<at>`) must show as text and ping nobody, and only http(s) links are made.
Long days are split between lines into a few messages; what still does not fit is cut with a
line pointing to the full digest, never rejected by the platform.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from tracker.notify.news import Block, DayNews
from tracker.render.escape import display_line
from tracker.render.links import safe_url

ZWSP = "\u200b"
_AT_WORD = re.compile(r"@(?=\w)")  # @everyone, @here, @channel, @login
_MENTION_OPEN = re.compile(r"<(?=[@#!&:]|at\b)", re.IGNORECASE)  # <@U1>, <#C1>, <!here>, <@&role>, <:emoji:>, <at>
MAX_MESSAGES = 3  # per channel per day: a digest teaser, not a flood


@dataclass(frozen=True)
class Limits:
    chars: int  # per message (or per block, where the platform counts blocks)
    messages: int = MAX_MESSAGES


def no_mentions(text: str) -> str:
    """Text as shown, with every @word broken by an invisible space (no platform reads it as a mention)."""
    return _MENTION_OPEN.sub("<" + ZWSP, _AT_WORD.sub("@" + ZWSP, display_line(text)))


def pack(
    lines: list[str], limit: int, max_parts: int, cut_line: Callable[[int], str], size: Callable[[str], int] = len
) -> list[str]:
    """Lines joined into at most `max_parts` parts of at most `limit` (as `size` measures: chars by
    default); the rest cut with `cut_line(n)`."""
    parts: list[str] = []
    current = ""
    for index, line in enumerate(lines):
        line = _fit(line, limit, size)  # one line can never exceed a part on its own
        if current and size(f"{current}\n{line}") > limit:
            parts.append(current)
            current = ""
        if len(parts) == max_parts:
            return _cut(parts, cut_line(len(lines) - index), limit, size)
        current = f"{current}\n{line}" if current else line
    return parts + [current] if current else parts


def _fit(line: str, limit: int, size: Callable[[str], int]) -> str:
    line = line[:limit]
    while size(line) > limit:  # wide characters: more bytes than chars
        line = line[: len(line) * limit // size(line)]
    return line


def _cut(parts: list[str], note: str, limit: int, size: Callable[[str], int] = len) -> list[str]:
    last = parts[-1]
    while last and size(f"{last}\n{note}") > limit:
        last = last.rsplit("\n", 1)[0] if "\n" in last else ""
    parts[-1] = f"{last}\n{note}" if last else note
    return parts


def _cut_note(news: DayNews, link_markup: Callable[[str, str], str]) -> Callable[[int], str]:
    def note(count: int) -> str:
        more = f"…and {count} more line(s)"
        return f"{more}: {link_markup('the full digest', news.link)}" if news.link else f"{more} in the digest"

    return note


def _line(
    block: Block, text: Callable[[str], str], link: Callable[[str, str | None], str], bold: str, bullet: str
) -> str:
    """One block as a line of a platform's markup: `text` escapes, `link` makes a safe link."""
    if block.kind == "heading":
        return f"{bold}{text(block.text)}{bold}"
    if block.kind == "paper":
        tail = f" — {text(block.detail)}" if block.detail else ""
        return f"{bullet} {link(block.text, block.url)}{tail}"
    return f"{bullet} {text(block.text)}"


# --- Slack: mrkdwn sections in blocks ---------------------------------------------------------

SLACK = Limits(chars=3000)  # a section's text; a message holds at most 50 blocks


def slack_text(text: str) -> str:
    # &, <, > are the only characters Slack's mrkdwn needs escaped; with them escaped, no
    # <!channel>, <@U123> or <url|label> can come from paper text.
    return no_mentions(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(label: str, url: str | None) -> str:
    target = safe_url(url)
    return f"<{target}|{slack_text(label).replace('|', '¦')}>" if target else slack_text(label)


def slack_payloads(news: DayNews) -> list[dict[str, Any]]:
    lines = [f"*{slack_text(news.headline)}*", *(_line(b, slack_text, _slack_link, "*", "•") for b in news.blocks)]
    if news.link:
        lines.append(_slack_link("Full digest", news.link))
    sections = pack(lines, SLACK.chars, SLACK.messages * 40, _cut_note(news, _slack_link))
    messages = [sections[i : i + 40] for i in range(0, len(sections), 40)][: SLACK.messages]
    return [
        {
            "text": slack_text(news.headline),
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": s}} for s in chunk],
        }
        for chunk in messages
    ]


# --- Discord: plain messages of at most 2,000 characters ---------------------------------------

DISCORD = Limits(chars=2000)
_DISCORD_MARKUP = re.compile(r"([\\*_~`|>#\-\[\]()<:])")


def discord_text(text: str) -> str:
    # Backslash-escape Markdown (and `<`, which opens <@id>, <#id>, <:emoji:> and <url>).
    return _DISCORD_MARKUP.sub(r"\\\1", no_mentions(text))


def _discord_link(label: str, url: str | None) -> str:
    target = safe_url(url)
    return f"[{discord_text(label)}](<{target}>)" if target else discord_text(label)  # <…>: no embed preview


def discord_payloads(news: DayNews) -> list[dict[str, Any]]:
    lines = [
        f"**{discord_text(news.headline)}**",
        *(_line(b, discord_text, _discord_link, "**", "•") for b in news.blocks),
    ]
    if news.link:
        lines.append(_discord_link("Full digest", news.link))
    parts = pack(lines, DISCORD.chars, DISCORD.messages, _cut_note(news, _discord_link))
    # allowed_mentions with no parse list: Discord pings nobody, whatever the text says.
    return [{"content": part, "allowed_mentions": {"parse": []}} for part in parts]


# --- Microsoft Teams: an Adaptive Card per message ---------------------------------------------

# Teams refuses payloads over ~28 KB, counted as sent: JSON with \uXXXX escapes (a CJK character is 6
# bytes, a math letter 12) and each line a TextBlock of its own. Parts are measured that way.
TEAMS = Limits(chars=20000)
_TEXT_BLOCK_BYTES = len(json.dumps({"type": "TextBlock", "text": "", "wrap": True})) + 2
_TEAMS_MARKUP = re.compile(r"([\\*_\[\]()#>`~-])")


def teams_text(text: str) -> str:
    # Adaptive Card TextBlocks read a Markdown subset; <at>…</at> is a mention only with an entity
    # we never send, and `<` is shown as text, escaped anyway so no tag survives.
    return _TEAMS_MARKUP.sub(r"\\\1", no_mentions(text)).replace("<", "&lt;").replace(">", "&gt;")


def _teams_link(label: str, url: str | None) -> str:
    target = safe_url(url)
    return f"[{teams_text(label)}]({target})" if target else teams_text(label)


def teams_payloads(news: DayNews) -> list[dict[str, Any]]:
    lines = [*(_line(b, teams_text, _teams_link, "**", "-") for b in news.blocks)]
    if news.link:
        lines.append(_teams_link("Full digest", news.link))
    parts = pack(lines, TEAMS.chars, TEAMS.messages, _cut_note(news, _teams_link), size=_teams_size) or [""]
    return [_adaptive_card(teams_text(news.headline), part) for part in parts]


def _teams_size(text: str) -> int:
    """Bytes the lines take in the card as sent (requests' JSON, ASCII-escaped)."""
    return len(json.dumps(text)) + _TEXT_BLOCK_BYTES * (text.count("\n") + 1)


def _adaptive_card(title: str, text: str) -> dict[str, Any]:
    body = [{"type": "TextBlock", "text": title, "weight": "Bolder", "wrap": True}]
    body += [{"type": "TextBlock", "text": line, "wrap": True} for line in text.split("\n") if line]
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


# --- E-mail: one multipart text + HTML message -------------------------------------------------


def email_message(news: DayNews, sender: str, recipients: list[str]) -> EmailMessage:
    """Headers come from the config only (checked addresses) and the run's counts: never paper text."""
    message = EmailMessage()
    message["Subject"] = display_line(news.headline)[:200]  # counts and topic names from the config
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message.set_content("\n".join(_text_lines(news)) + "\n")
    message.add_alternative(_html(news), subtype="html")
    return message


def _text_lines(news: DayNews) -> list[str]:
    lines = [display_line(news.headline), ""]
    for block in news.blocks:
        if block.kind == "heading":
            lines += ["", display_line(block.text), "-" * min(len(block.text), 60)]
        elif block.kind == "paper":
            lines.append(f"* {display_line(block.text)} <{safe_url(block.url) or ''}>")
            if block.detail:
                lines.append(f"  {display_line(block.detail)}")
        else:
            lines.append(f"* {display_line(block.text)}")
    if news.link:
        lines += ["", f"Full digest: {news.link}"]
    return lines


def _html(news: DayNews) -> str:
    esc = lambda text: html.escape(display_line(text), quote=True)  # noqa: E731
    parts = [f"<p><strong>{esc(news.headline)}</strong></p>"]
    for block in news.blocks:
        if block.kind == "heading":
            parts.append(f"<h3>{esc(block.text)}</h3>")
        elif block.kind == "paper":
            url = safe_url(block.url)
            title = f'<a href="{esc(url)}">{esc(block.text)}</a>' if url else esc(block.text)
            detail = f"<br>{esc(block.detail)}" if block.detail else ""
            parts.append(f"<p>{title}{detail}</p>")
        else:
            parts.append(f"<p>{esc(block.text)}</p>")
    if news.link:
        parts.append(f'<p><a href="{esc(news.link)}">Full digest</a></p>')
    return "<!doctype html><html><body>" + "\n".join(parts) + "</body></html>\n"


WEBHOOK_PAYLOADS: dict[str, Callable[[DayNews], list[dict[str, Any]]]] = {
    "slack": slack_payloads,
    "discord": discord_payloads,
    "teams": teams_payloads,
}
