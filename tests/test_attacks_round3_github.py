"""Attack round 3 on publishing, against the loopback GitHub fake with the real PyGithub client."""
from __future__ import annotations

from tests.fake_github import fake_github as fake  # noqa: F401 - pytest fixture
from tests.test_publish import connect, publish_day
from tests.test_publish_cli import fixed_today  # noqa: F401 - autouse fixture
from tracker.publish import identity


def test_a_configured_login_in_another_case_still_finds_the_bots_own_issue(fake, monkeypatch):
    first = publish_day(connect(fake))  # opened by "bot", the token's user
    monkeypatch.setenv(identity.LOGIN_ENV, "BOT")  # GitHub logins ignore case
    again = publish_day(connect(fake), new=4)
    assert again.number == first.number and again.action != "created"
    assert len([i for i in fake.issues.values() if i["state"] == "open" and i["user"] == "bot"]) == 1
