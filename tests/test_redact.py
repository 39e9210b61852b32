"""Credentials never survive redact(): URL userinfo, tokens, secret query params, headers."""
import logging

import pytest

from tracker.redact import RedactFilter, redact, url_secrets

TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


@pytest.mark.parametrize("text, secret", [
    ("GET http://user:hunter22@export.arxiv.org/api/query failed", "hunter22"),
    ("proxy https://bob:s3cr%40t@proxy.lab:3128 refused", "s3cr%40t"),
    ("raw at-sign http://u:p@ss@host/x", "p@ss"),
    ("any scheme socks5h://alice:wonderland@10.0.0.1:1080", "wonderland"),
    ("(url='ftp://anon:guestpw@h/')", "guestpw"),
    ("user only http://just-a-user@host/x", "just-a-user"),
    (f"token {TOKEN} in text", TOKEN),
    ("fine-grained github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "github_pat_11ABCDEFG"),
    ("https://h/q?search_query=x&api_key=K3Y-VALUE&start=0", "K3Y-VALUE"),
    ("https://h/q?access_token=abc.def&x=1", "abc.def"),
    ("https://s3/x?X-Amz-Signature=deadbeef00&X-Amz-Credential=AKIAXX", "deadbeef00"),
    ("https://h/?password=pw123456", "pw123456"),
    ("https://h/?sig=zzzz9999", "zzzz9999"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc", "eyJhbGciOiJIUzI1NiJ9"),
    ("{'Authorization': 'token sekrit-value-1'}", "sekrit-value-1"),
    ('"authorization":"Basic dXNlcjpwYXNz"', "dXNlcjpwYXNz"),
])
def test_secret_is_removed(text, secret):
    clean = redact(text)
    assert secret not in clean
    assert "***" in clean


def test_structure_around_the_secret_is_kept():
    assert redact("GET http://user:pw@host:8080/api/query?x=1 -> 503") == "GET http://***@host:8080/api/query?x=1 -> 503"
    assert redact("Authorization: Bearer abc") == "Authorization: Bearer ***"
    assert redact("https://h/q?search_query=x&token=t0k&start=0") == "https://h/q?search_query=x&token=***&start=0"


def test_explicit_and_environment_secrets(monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "plain-env-token-value")
    monkeypatch.delenv("GH_TOKEN", raising=False)
    assert redact("sent plain-env-token-value to x") == "sent *** to x"
    assert redact("password is correct-horse", ["correct-horse"]) == "password is ***"
    # the percent-encoded spelling of an explicit secret goes too
    assert "p@ss word" not in redact("http://h/?q=p%40ss%20word", ["p@ss word"])
    assert "%40" not in redact("q=p%40ss%20word", ["p@ss word"])


def test_short_explicit_values_do_not_blank_ordinary_text():
    assert redact("a paper about tables", ["a"]) == "a paper about tables"


def test_ordinary_text_is_untouched():
    for text in ["mail a@b.org about http://example.org/@handle", "key ideas; sort_key=3",
                 "Retry-After 120 s for export.arxiv.org", "", "12 pages, 9 figures"]:
        assert redact(text) == text


def test_redaction_is_idempotent():
    once = redact(f"http://u:p@h/?token=abc Authorization: token {TOKEN}")
    assert redact(once) == once


def test_url_secrets_gives_raw_and_decoded_password():
    assert set(url_secrets("http://me:p%40ss@host/")) == {"p%40ss", "p@ss"}
    assert url_secrets("http://host/") == [] and url_secrets("not a url") == []


def test_log_filter_redacts_message_arguments_and_tracebacks(caplog):
    logger = logging.getLogger("tests.redact")
    handler_filter = RedactFilter(["extra-secret"])
    caplog.handler.addFilter(handler_filter)
    try:
        logger.warning("fetch %s failed (%s)", "http://u:topsecret@h/x", "extra-secret")
        try:
            raise RuntimeError("boom http://u:tracebacksecret@h/")
        except RuntimeError:
            logger.exception("crashed")
    finally:
        caplog.handler.removeFilter(handler_filter)
    text = caplog.text
    assert "topsecret" not in text and "extra-secret" not in text and "tracebacksecret" not in text
    assert "http://***@h/x" in text
