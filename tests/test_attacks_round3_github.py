"""Attack round 3 on publishing, against the loopback GitHub fake with the real PyGithub client."""
from __future__ import annotations

from tests.fake_github import fake_github as fake  # noqa: F401 - pytest fixture
from tests.test_publish import connect, publish_day
from tests.test_publish_cli import fixed_today, workdir  # noqa: F401 - fixtures (fixed_today: autouse)
from tracker.publish import identity


def test_a_configured_login_in_another_case_still_finds_the_bots_own_issue(fake, monkeypatch):
    first = publish_day(connect(fake))  # opened by "bot", the token's user
    monkeypatch.setenv(identity.LOGIN_ENV, "BOT")  # GitHub logins ignore case
    again = publish_day(connect(fake), new=4)
    assert again.number == first.number and again.action != "created"
    assert len([i for i in fake.issues.values() if i["state"] == "open" and i["user"] == "bot"]) == 1


def test_the_login_record_is_never_written_through_a_link(workdir, fake, tmp_path):
    from click.testing import CliRunner

    from tests.test_publish_cli import github_env, write_summary
    from tracker.cli.main import cli

    fake.installation, fake.app_login = True, "lab-bot[bot]"
    write_summary(workdir)
    outside = tmp_path / "someone-elses-file.txt"
    outside.write_text("keep me\n")
    record = workdir / ".tracker" / identity.RECORD
    record.parent.mkdir(parents=True, exist_ok=True)
    record.symlink_to(outside)
    result = CliRunner().invoke(cli, ["publish", "--config", str(workdir / "keywords.yaml")], env=github_env(fake))
    assert result.exit_code == 0, result.output
    assert outside.read_text() == "keep me\n"
    assert not record.is_symlink() and record.read_text().strip() == "lab-bot[bot]"
