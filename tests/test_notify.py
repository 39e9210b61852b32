"""`tracker notify` against loopback webhook servers and a real SMTP server (aiosmtpd), real clients.

A real `tracker run` writes the ledger and the digest data from recorded-style arXiv answers with
hostile titles; `tracker notify` sends them to Slack/Discord/Teams-shaped HTTP servers and an
SMTP server, which also answer 429 with Retry-After, 500, stall, and refuse.
"""
from __future__ import annotations

import json
import re
import socket
import ssl
import threading
import time
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.arxiv_fake import entry, feed
from tracker.cli import cli
from tracker.notify import formats
from tracker.notify.news import Block, DayNews

DATE = "2026-11-20"
SECRET = "T0KEN-s3cr3t-9f8e7d"  # lives in every webhook URL's path, as real webhook URLs do
HOSTILE_TITLE = "<!channel> @everyone <@U024BE7LH> <@&1234> <#C01> <at>Bob</at> [x](javascript:alert(1)) *bold*"
QUERY = '(ti:"widgets" OR abs:"widgets")'


class Hook:
    """A loopback webhook: records JSON bodies, answers from a script (then 200 "ok")."""

    def __init__(self, script: list[tuple[int, dict, float]] | None = None):
        self.script = list(script or [])
        self.bodies: list[dict] = []
        self.paths: list[str] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hook.paths.append(self.path)
                status, headers, delay = hook.script.pop(0) if hook.script else (200, {}, 0.0)
                time.sleep(delay)
                if status == 200:
                    hook.bodies.append(json.loads(body))
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hooks/{SECRET}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hooks():
    made: list[Hook] = []

    def make(script=None) -> Hook:
        made.append(Hook(script))
        return made[-1]

    yield make
    for hook in made:
        hook.close()


@pytest.fixture
def project(arxiv_server, write_config):
    """A run of DATE with hostile papers in the ledger and the digest data beside the digest."""
    titled = "Widgets paper {} for $\\varepsilon_1$-nets"
    papers = [entry(f"2611.{i:05d}", title=HOSTILE_TITLE if i == 7 else titled.format(i),
                    abstract=f"We propose widgets number {i} @here <!here> at $\\mathcal{{O}}(n^2)$ cost. More text.",
                    updated="2026-11-19T10:00:00Z") for i in range(1, 8)]
    arxiv_server.add_pages(QUERY, {0: feed(papers)})

    def make(notify_yaml: str) -> Path:
        config = write_config("- name: Widgets\n  keywords: [widgets]\n", extra=notify_yaml)
        result = CliRunner().invoke(cli, ["run", "--config", str(config), "--date", DATE])
        assert result.exit_code == 0, result.output
        return config

    return make


def notify(config: Path, *args: str, env: dict | None = None):
    return CliRunner().invoke(cli, ["notify", "--config", str(config), "--date", DATE, *args], env=env or {})


def all_text(*hooks: Hook) -> str:
    return json.dumps([b for h in hooks for b in h.bodies], ensure_ascii=False)


def test_each_channel_gets_the_day_exactly_once_and_force_resends(project, hooks):
    slack, discord, teams = hooks(), hooks(), hooks()
    config = project("""\
        notify:
          - slack: {webhook_env: SLACK_URL}
          - discord: {webhook_env: DISCORD_URL}
          - teams: {webhook_env: TEAMS_URL}
        """)
    env = {"SLACK_URL": slack.url, "DISCORD_URL": discord.url, "TEAMS_URL": teams.url}
    first = notify(config, env=env)
    assert first.exit_code == 0, first.output
    assert [len(h.bodies) for h in (slack, discord, teams)] == [1, 1, 1]
    assert "Widgets paper 3" in " ".join(block["text"]["text"] for block in slack.bodies[0]["blocks"])
    assert "https://arxiv.org/abs/2611.00003" in all_text(slack, discord, teams)

    again = notify(config, env=env)  # a rerun, or the workflow retried
    assert again.exit_code == 0 and "already got this day" in again.output
    assert [len(h.bodies) for h in (slack, discord, teams)] == [1, 1, 1]

    record = (config.parent / "data" / "notify.json").read_text()
    assert DATE in record and SECRET not in record and "127.0.0.1" not in record

    forced = notify(config, "--force", env=env)
    assert forced.exit_code == 0
    assert [len(h.bodies) for h in (slack, discord, teams)] == [2, 2, 2]


def test_hostile_paper_text_pings_nobody_on_any_platform(project, hooks):
    slack, discord, teams = hooks(), hooks(), hooks()
    config = project("""\
        notify:
          - slack: {webhook_env: SLACK_URL}
          - discord: {webhook_env: DISCORD_URL}
          - teams: {webhook_env: TEAMS_URL}
        """)
    result = notify(config, env={"SLACK_URL": slack.url, "DISCORD_URL": discord.url, "TEAMS_URL": teams.url})
    assert result.exit_code == 0, result.output

    slack_text = " ".join(block["text"]["text"] for block in slack.bodies[0]["blocks"]) + slack.bodies[0]["text"]
    assert "<!" not in slack_text and "<@" not in slack_text and "<#" not in slack_text
    assert "&lt;\u200b!channel&gt;" in slack_text  # shown, not acted on
    assert all(target.startswith("https://") for target in re.findall(r"<([^|>]*)\|", slack_text))  # links: ours only

    discord_body = discord.bodies[0]
    assert discord_body["allowed_mentions"] == {"parse": []}
    content = discord_body["content"]
    assert "@everyone" not in content and "@here" not in content and "<@" not in content
    assert "](javascript" not in content and "](<javascript" not in content

    card = json.dumps(teams.bodies[0])
    assert "<at>" not in card and "@everyone" not in card

    for text in (slack_text, content, card):
        assert "@\u200beveryone" in text or "@\\u200beveryone" in text  # the words are still there


def test_chat_shows_titles_and_tldrs_with_readable_math_as_the_digest_does(project, hooks):
    slack = hooks()
    config = project("notify:\n  - slack: {webhook_env: SLACK_URL}\n")
    assert notify(config, env={"SLACK_URL": slack.url}).exit_code == 0
    text = all_text(slack)
    assert "Widgets paper 3 for ε₁-nets" in text and "𝒪(n²) cost" in text
    assert "varepsilon" not in text and "mathcal" not in text


def test_a_failing_channel_is_retried_then_reported_and_the_others_still_get_the_day(project, hooks, caplog):
    slack = hooks([(429, {"Retry-After": "1"}, 0.0)])  # rate limited once, then fine
    discord = hooks([(500, {}, 0.0)] * 10)  # down for good
    teams = hooks([(200, {}, 30.0)])  # stalls
    config = project("""\
        notify:
          - slack: {webhook_env: SLACK_URL}
          - discord: {webhook_env: DISCORD_URL}
          - teams: {webhook_env: TEAMS_URL}
        """)
    env = {"SLACK_URL": slack.url, "DISCORD_URL": discord.url, "TEAMS_URL": teams.url}
    started = time.monotonic()
    result = notify(config, "--wait-budget", "4", env=env)
    elapsed = time.monotonic() - started
    assert result.exit_code == 0  # a channel never fails the run
    assert len(slack.bodies) == 1 and len(slack.paths) == 2  # retried after Retry-After
    assert len(discord.paths) >= 2 and not discord.bodies
    assert "discord (keywords.yaml:" in result.output and "HTTP 500" in result.output
    assert "teams (keywords.yaml:" in result.output
    assert elapsed < 25  # the stalling server cannot hold the run past its budget and one deadline
    everything = result.output + caplog.text + "".join(p.read_text(errors="replace") for p in config.parent.rglob("*") if p.is_file())
    assert SECRET not in everything

    sent = json.loads((config.parent / "data" / "notify.json").read_text())["sent"]
    assert list(sent) == ["slack:SLACK_URL"]  # only what really arrived counts as sent
    from tracker.config import load_settings
    from tracker.notify.record import notify_problems

    problems = notify_problems(load_settings(config), DATE)  # what `tracker publish` adds to the health issue
    assert any("discord" in p and "HTTP 500" in p for p in problems)
    assert not any(SECRET in p for p in problems)


def test_missing_variable_or_plain_http_url_is_one_line_naming_the_config_line(project, hooks):
    config = project("""\
        notify:
          - slack: {webhook_env: SLACK_URL}
          - discord: {webhook_env: DISCORD_URL}
        """)
    result = notify(config, env={"DISCORD_URL": f"http://hooks.example.org/{SECRET}"})
    assert result.exit_code == 0
    lines = [line for line in result.output.splitlines() if "not sent" in line]
    assert len(lines) == 2
    slack_line = next(line for line in lines if "slack" in line)
    assert "keywords.yaml:" in slack_line and "SLACK_URL is not set" in slack_line
    assert "DISCORD_URL does not hold an https:// URL" in result.output
    assert SECRET not in result.output


@pytest.mark.parametrize("notify_yaml, expected", [
    ("notify:\n  - slack: {webhook_env: X, channel: general}\n", "unknown key `notify[0].slack.channel`"),
    ("notify:\n  - slack: {webhook_env: X}\n    discord: {webhook_env: Y}\n", "each channel is one of"),
    ("notify:\n  - email: {smtp_host: smtp.example.org, from: bot@example.org, to: [\"a@b.org\\r\\nBcc: x@evil.org\"]}\n",
     "is not a plain e-mail address"),
    ("notify:\n  - slack: {webhook_env: https://hooks.slack.com/services/T/B/X}\n", "is not an environment variable name"),
])
def test_bad_channel_config_is_one_line_with_its_line(write_config, notify_yaml, expected):
    config = write_config("- name: Widgets\n  keywords: [widgets]\n", extra=notify_yaml)
    result = CliRunner().invoke(cli, ["notify", "--config", str(config), "--date", DATE])
    assert result.exit_code == 2
    assert expected in result.output and "keywords.yaml:1" in result.output


# --- e-mail through a real SMTP server ----------------------------------------------------------

class Inbox:
    def __init__(self, refuse: list[str] | None = None):
        self.messages: list[tuple[list[str], bytes]] = []
        self.refuse = list(refuse or [])

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        if self.refuse:
            return self.refuse.pop(0)
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server(tmp_path, monkeypatch):
    trustme = pytest.importorskip("trustme")
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # the client trusts our test CA, as it would a real one
    started = []

    def start(refuse=None):
        inbox = Inbox(refuse)

        def check(server, session, envelope, mechanism, auth_data):
            ok = auth_data.login == b"lab-bot" and auth_data.password == SECRET.encode()
            return AuthResult(success=ok)

        controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), tls_context=server_context,
                                require_starttls=True, authenticator=check, auth_require_tls=True)
        controller.start()
        started.append(controller)
        return inbox, controller.port

    yield start
    for controller in started:
        controller.stop()


def email_yaml(port: int) -> str:
    return f"""\
        notify:
          - email: {{smtp_host: 127.0.0.1, port: {port}, starttls: true, username_env: SMTP_USER,
                     password_env: SMTP_PASSWORD, from: bot@lab.example.org, to: [lab@lab.example.org, pi@lab.example.org]}}
        """


def test_email_is_one_multipart_message_with_headers_from_the_config_only(project, smtp_server):
    inbox, port = smtp_server()
    config = project(email_yaml(port))
    env = {"SMTP_USER": "lab-bot", "SMTP_PASSWORD": SECRET}
    result = notify(config, env=env)
    assert result.exit_code == 0, result.output
    assert "sent to email" in result.output
    (recipients, raw), = inbox.messages
    assert sorted(recipients) == ["lab@lab.example.org", "pi@lab.example.org"]
    message = message_from_bytes(raw, policy=policy.default)
    assert message["Subject"].startswith(f"arXiv digest {DATE}: 7 new")
    assert HOSTILE_TITLE[:10] not in message["Subject"]
    kinds = [part.get_content_type() for part in message.walk()]
    assert "text/plain" in kinds and "text/html" in kinds
    html_part = message.get_body(("html",)).get_content()
    assert "<!channel>" not in html_part and "&lt;!channel&gt;" in html_part
    assert "javascript:" not in html_part.split("[x](")[0] and 'href="javascript' not in html_part
    assert SECRET not in raw.decode("utf-8", "replace")
    assert notify(config, env=env).exit_code == 0 and len(inbox.messages) == 1  # once a day


def test_smtp_refusals_temporary_are_retried_permanent_are_reported(project, smtp_server):
    inbox, port = smtp_server(refuse=["451 4.3.0 try again later"])
    config = project(email_yaml(port))
    env = {"SMTP_USER": "lab-bot", "SMTP_PASSWORD": SECRET}
    assert notify(config, env=env).exit_code == 0
    assert len(inbox.messages) == 1

    inbox2, port2 = smtp_server(refuse=["550 5.7.1 relaying denied"] * 5)
    config.write_text(config.read_text().replace(str(port), str(port2)))
    result = notify(config, "--force", env=env)
    assert result.exit_code == 0
    assert "SMTP 550" in result.output and not inbox2.messages
    started = time.monotonic()
    wrong = notify(config, "--force", "--wait-budget", "5", env={"SMTP_USER": "lab-bot", "SMTP_PASSWORD": "wrong-password"})
    assert time.monotonic() - started < 20
    assert "not sent: email" in wrong.output and "wrong-password" not in wrong.output


# --- limits: split or cut with a link, never rejected ------------------------------------------

def long_day(papers: int) -> DayNews:
    blocks = [Block("heading", "Top picks")]
    blocks += [Block("paper", f"Paper {i} " + "word " * 40, f"https://arxiv.org/abs/2611.{i:05d}", "tl;dr " * 45)
               for i in range(papers)]
    return DayNews(DATE, f"arXiv digest {DATE}: {papers} new", tuple(blocks), "https://github.com/lab/papers/blob/main/d.md")


@pytest.mark.parametrize("papers", [1, 3, 12, 40, 400])
def test_every_platform_stays_within_its_limits_and_cuts_with_a_link(papers):
    news = long_day(papers)
    discord = formats.discord_payloads(news)
    assert 1 <= len(discord) <= formats.MAX_MESSAGES
    assert all(len(p["content"]) <= 2000 for p in discord)
    slack = formats.slack_payloads(news)
    assert 1 <= len(slack) <= formats.MAX_MESSAGES
    assert all(len(m["blocks"]) <= 50 and all(len(b["text"]["text"]) <= 3000 for b in m["blocks"]) for m in slack)
    teams = formats.teams_payloads(news)
    assert all(len(json.dumps(card)) < 28_000 for card in teams)
    shown = json.dumps([discord, slack, teams])
    if papers >= 40:
        assert "more line(s)" in shown and news.link in shown  # cut, with the way to the rest
    elif papers <= 3:
        assert "more line(s)" not in shown and f"Paper {papers - 1} " in discord[-1]["content"]


def test_a_dry_run_prints_every_payload_and_sends_nothing(project, hooks):
    slack = hooks()
    config = project("notify:\n  - slack: {webhook_env: SLACK_URL}\n")
    result = notify(config, "--dry-run", env={"SLACK_URL": slack.url})
    assert result.exit_code == 0, result.output
    assert not slack.paths and "--- slack (keywords.yaml:" in result.output and '"blocks"' in result.output
    assert not (config.parent / "data" / "notify.json").exists()
    assert SECRET not in result.output
