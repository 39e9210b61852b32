"""Attack round 3 on `tracker notify`: hostile SMTP servers, hostile records, hostile text per platform.

SMTP servers here are real sockets: aiosmtpd (via tests/test_notify.py's fixture) where a well-behaved
server is wanted, and a small scripted server for misbehaviour aiosmtpd will not produce (echoing the
credentials, dropping the line mid-DATA, a 421 greeting). Clients are the real ones (smtplib, requests).
"""
from __future__ import annotations

import base64
import json
import logging
import re
import socketserver
import threading
import time

import pytest
from click.testing import CliRunner

from tests.test_notify import DATE, SECRET, Inbox, email_yaml, free_port, hooks, notify, project, smtp_server  # noqa: F401
from tracker.cli import cli
from tracker.cli.options import configure_logging
from tracker.notify import formats
from tracker.notify.news import Block, DayNews

ENV = {"SMTP_USER": "lab-bot", "SMTP_PASSWORD": SECRET}


class ScriptedSMTP:
    """A plain-text SMTP server on loopback that misbehaves as told; it records every line it was sent."""

    def __init__(self, *, greeting: str = "220 scripted ESMTP", auth_reply: str | None = None, drop_in_data: int = 0,
                 trickle: float = 0.0):
        self.lines: list[str] = []
        self.closed = threading.Event()
        self.delivered = 0
        self.drops_left = drop_in_data
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                while trickle and not fake.closed.wait(trickle):  # a greeting that never ends, one line at a time
                    self.say("220-still here")
                self.say(greeting)
                if not greeting.startswith("220"):
                    return
                while line := self.rfile.readline():
                    text = line.decode("utf-8", "replace").rstrip("\r\n")
                    fake.lines.append(text)
                    verb = text.split(" ")[0].upper()
                    if verb == "EHLO":
                        self.say("250-scripted\r\n250 AUTH PLAIN LOGIN")
                    elif verb == "AUTH":
                        self.say(auth_reply.format(sent=text.split(" ")[-1]) if auth_reply else "235 2.7.0 ok")
                    elif verb == "DATA":
                        self.say("354 go ahead")
                        if not self.read_data():
                            return
                    elif verb == "QUIT":
                        self.say("221 bye")
                        return
                    else:
                        self.say("250 ok")

            def read_data(self) -> bool:
                if fake.drops_left:
                    fake.drops_left -= 1
                    self.rfile.readline()
                    return False  # the connection drops in the middle of the message
                while (line := self.rfile.readline()) and line not in (b".\r\n", b".\n"):
                    pass
                fake.delivered += 1
                self.say("250 queued")
                return True

            def say(self, text: str) -> None:
                self.wfile.write(text.encode() + b"\r\n")

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def close(self) -> None:
        self.closed.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted():
    made: list[ScriptedSMTP] = []

    def make(**kwargs) -> ScriptedSMTP:
        made.append(ScriptedSMTP(**kwargs))
        return made[-1]

    yield make
    for server in made:
        server.close()


def plain_email_yaml(port: int) -> str:
    return email_yaml(port).replace("starttls: true", "starttls: false")


# --- SMTP ------------------------------------------------------------------------------------

def test_a_server_that_echoes_the_credentials_in_its_refusal_leaks_them_nowhere(project, scripted, tmp_path):
    server = scripted(auth_reply="535 5.7.8 authentication failed for {sent}")
    config = project(plain_email_yaml(server.port))
    result = notify(config, env=ENV)
    assert result.exit_code == 0 and "not sent: email" in result.output and "SMTP 535" in result.output
    auth_plain = base64.b64encode(f"\0lab-bot\0{SECRET}".encode()).decode()
    assert any(auth_plain in line for line in server.lines)  # sanity: the server did get (and echo) it
    stored = "".join(p.read_text(errors="replace") for p in config.parent.rglob("*") if p.is_file())
    for leaked in (SECRET, auth_plain):
        assert leaked not in result.output and leaked not in stored


def test_no_starttls_offered_when_configured_means_not_sent_and_no_password_in_clear(project, scripted):
    server = scripted()  # offers AUTH but no STARTTLS
    config = project(email_yaml(server.port))
    result = notify(config, env=ENV)
    assert result.exit_code == 0 and "not sent: email" in result.output
    assert not any(line.upper().startswith(("AUTH", "MAIL", "DATA")) for line in server.lines)
    assert server.delivered == 0


@pytest.fixture
def tls_smtp(tmp_path, monkeypatch):
    """start(cert_name, **Controller options): an aiosmtpd server whose certificate names `cert_name`,
    signed by a CA the client trusts."""
    trustme = pytest.importorskip("trustme")
    import ssl

    from aiosmtpd.controller import Controller

    started = []

    def start(cert_name: str, **options):
        ca = trustme.CA()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(cert_name).configure_cert(context)
        ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
        inbox = Inbox()
        options = {key: context if value == "context" else value for key, value in options.items()}
        started.append(Controller(inbox, hostname="127.0.0.1", port=free_port(), **options))
        started[-1].start()
        return inbox, started[-1].port

    yield start
    for controller in started:
        controller.stop()


def test_a_certificate_for_another_host_is_refused(project, tls_smtp):
    inbox, port = tls_smtp("smtp.other-host.example", tls_context="context", require_starttls=True)  # trusted CA, wrong name
    result = notify(project(email_yaml(port)), env=ENV)
    assert result.exit_code == 0 and "not sent: email" in result.output and "TLS" in result.output
    assert not inbox.messages and SECRET not in result.output


def test_tls_from_the_first_byte_checks_the_certificate_and_delivers(project, tls_smtp):
    inbox, port = tls_smtp("127.0.0.1", ssl_context="context")
    yaml = email_yaml(port).replace("starttls: true", "starttls: false, ssl: true")
    yaml = yaml.replace("username_env: SMTP_USER,\n                     password_env: SMTP_PASSWORD, ", "")
    result = notify(project(yaml), env=ENV)
    assert result.exit_code == 0 and "sent to email" in result.output, result.output
    assert len(inbox.messages) == 1


def test_a_connection_dropped_mid_data_is_retried_and_the_day_sent_once(project, scripted):
    server = scripted(drop_in_data=1)
    config = project(plain_email_yaml(server.port))
    result = notify(config, env=ENV)
    assert result.exit_code == 0 and "sent to email" in result.output, result.output
    assert server.delivered == 1
    assert notify(config, env=ENV).exit_code == 0 and server.delivered == 1


def test_a_421_greeting_is_retried_within_the_budget_then_reported(project, scripted):
    server = scripted(greeting="421 4.3.2 too busy")
    result = notify(project(plain_email_yaml(server.port)), "--wait-budget", "3", env=ENV)
    assert result.exit_code == 0 and "not sent: email" in result.output and "421" in result.output


def test_a_server_that_trickles_forever_cannot_hold_the_run_past_its_budget(project, scripted):
    server = scripted(trickle=0.2)  # each line well within the socket timeout, and no end
    config = project(plain_email_yaml(server.port).replace("to: [", "timeout_seconds: 2, to: ["))
    started = time.monotonic()
    result = notify(config, "--wait-budget", "3", env=ENV)
    assert time.monotonic() - started < 15
    assert result.exit_code == 0 and "not sent: email" in result.output and server.delivered == 0


@pytest.mark.parametrize("host", ["smtp.example.org", "10.0.0.7"])
def test_credentials_without_tls_to_another_host_are_refused_by_the_config(write_config, host):
    config = write_config("- name: Widgets\n  keywords: [widgets]\n", extra=f"""\
        notify:
          - email: {{smtp_host: {host}, port: 25, starttls: false, username_env: SMTP_USER,
                     password_env: SMTP_PASSWORD, from: bot@lab.example.org, to: [lab@lab.example.org]}}
        """)
    result = CliRunner().invoke(cli, ["notify", "--config", str(config), "--date", DATE], env=ENV)
    assert result.exit_code == 2
    assert "in clear" in result.output and "keywords.yaml:" in result.output


# --- the record of what was sent ----------------------------------------------------------------

@pytest.mark.parametrize("content", [
    '{"sent": ' + "[" * 100_000 + "]" * 100_000 + "}",
    '<<<<<<< HEAD\n{"sent": {"slack:URL": ["2026-11-19"]}}\n=======\n{"sent": {}}\n>>>>>>> other\n',
    '{"sent": {"slack:URL": "2026-11-20"}}',
])
def test_a_damaged_record_is_one_line_and_nothing_is_sent(project, hooks, content):
    hook = hooks()
    config = project("notify:\n  - slack: {webhook_env: URL}\n")
    record = config.parent / "data" / "notify.json"
    record.write_text(content)
    result = notify(config, env={"URL": hook.url})
    assert result.exit_code != 0 and "notify.json" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert hook.bodies == [] and record.read_text() == content


def test_a_record_that_is_a_link_is_replaced_not_written_through(project, hooks, tmp_path):
    hook = hooks()
    config = project("notify:\n  - slack: {webhook_env: URL}\n")
    outside = tmp_path / "elsewhere.json"
    outside.write_text('{"sent": {}}\n')
    record = config.parent / "data" / "notify.json"
    record.symlink_to(outside)
    assert notify(config, env={"URL": hook.url}).exit_code == 0
    assert len(hook.bodies) == 1 and outside.read_text() == '{"sent": {}}\n'
    assert not record.is_symlink() and DATE in record.read_text()


# --- hostile text, per platform -----------------------------------------------------------------

PINGS = [
    "<!subteam^S0123ABC|@team>", "<!date^1392734382^{date}|x>", "<t:1700000000:R>", "<#123456789012345678>",
    "<@!123456789012345678>", "<@&123456789012345678>", "<at id=\"0\">Bob</at>", "<at\u00a0id='1'>Ann</at>",
    "@everyone", "@here", "@channel", "\uff20everyone", "@\u200beveryone", "@\u2060here", "</at>",
]


@pytest.mark.parametrize("ping", PINGS)
def test_no_platform_mention_survives_in_any_payload(ping):
    news = DayNews(DATE, f"arXiv digest {DATE}: 1 new", (
        Block("heading", f"Top picks: {ping}"),
        Block("paper", f"Title {ping}", "https://arxiv.org/abs/2611.00001", f"TL;DR {ping}"),
        Block("text", f"Theme {ping}")), None)
    slack = json.dumps(formats.slack_payloads(news), ensure_ascii=False)
    discord = json.dumps(formats.discord_payloads(news), ensure_ascii=False)
    teams = json.dumps(formats.teams_payloads(news), ensure_ascii=False)
    for payload in (slack, discord, teams):
        for live in ("<!", "<@", "<#", "<t:", "<at", "@everyone", "@here", "@channel"):
            assert live not in payload
    assert "<" not in slack.replace("<https://arxiv.org/", "") and "<" not in teams  # &lt; in mrkdwn and cards
    assert re.findall(r"(?<!\\\\)<(?!https://arxiv\.org/)", discord) == []  # Discord: `\<` shows the text
    assert all(p["allowed_mentions"] == {"parse": []} for p in formats.discord_payloads(news))
    html = formats.email_message(news, "bot@lab.example.org", ["lab@lab.example.org"]).get_body(("html",)).get_content()
    assert "<at" not in html and "<!sub" not in html and "<t:" not in html


# --- secrets in the most verbose logs -----------------------------------------------------------

@pytest.fixture
def root_level():
    """-vvv sets the root logger to DEBUG: put it back for the tests that follow."""
    root = logging.getLogger()
    level = root.level
    yield
    root.setLevel(level)
    configure_logging(0)


def test_the_webhook_secret_is_in_no_line_even_at_the_most_verbose_level(project, hooks, root_level):
    hook = hooks(script=[(500, {}, 0.0)])  # a failure first, so retry logs run too
    config = project("notify:\n  - slack: {webhook_env: URL}\n")
    result = CliRunner().invoke(cli, ["-vvv", "notify", "--config", str(config), "--date", DATE], env={"URL": hook.url})
    assert result.exit_code == 0 and len(hook.bodies) == 1
    assert "POST" in result.output  # sanity: the HTTP library's own debug lines were printed
    assert SECRET not in result.output


def test_a_folder_where_the_record_goes_is_one_line_and_nothing_is_sent(project, hooks):
    hook = hooks()
    config = project("notify:\n  - slack: {webhook_env: URL}\n")
    (config.parent / "data" / "notify.json").mkdir()
    result = notify(config, env={"URL": hook.url})
    assert result.exit_code != 0 and "notify.json" in result.output and "Traceback" not in result.output
    assert hook.bodies == []


def test_two_notifies_at_once_send_the_day_once(project, hooks, monkeypatch):
    from tracker.config import load_settings
    from tracker.notify.send import notify_day

    hook = hooks(script=[(200, {}, 1.0)])  # the first delivery is slow: the second run starts meanwhile
    config = project("notify:\n  - slack: {webhook_env: URL}\n")
    monkeypatch.setenv("URL", hook.url)
    reports = []
    runs = [threading.Thread(target=lambda: reports.append(notify_day(load_settings(config), DATE))) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(60)
    assert len(hook.paths) == 1 and len(hook.bodies) == 1
    assert sorted(len(r.sent) for r in reports) == [0, 1] and sum(len(r.skipped) for r in reports) == 1


# --- sizes as the platform counts them ----------------------------------------------------------

@pytest.mark.parametrize("unit", ["-*_[]()#\\", "\u56fe\u795e\u7ecf\u7f51\u7edc", "\U0001d4aa\U0001d53c\U0001d54f\u211d"],
                         ids=["escaped markup", "CJK", "math letters"])
def test_a_teams_card_stays_under_its_byte_limit_however_wide_the_characters(unit):
    title = (unit * 300)[:280]
    blocks = [Block("heading", "Top picks: P")] + [
        Block("paper", title, f"https://arxiv.org/abs/2611.{i:05d}", (unit * 80)[:300]) for i in range(40)]
    news = DayNews(DATE, f"arXiv digest {DATE}: 40 new", tuple(blocks), "https://github.com/lab/papers/blob/main/d.md")
    payloads = formats.teams_payloads(news)
    assert all(len(json.dumps(p).encode()) <= 28_000 for p in payloads)  # as requests sends it
    last = payloads[-1]["attachments"][0]["content"]["body"][-1]["text"]
    assert "more line(s)" in last and "https://github.com/lab/papers/blob/main/d.md" in last  # cut with a link
