"""The `tracker` command line as a user meets it: options, exit codes, one-line errors, Ctrl-C."""
from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tests.arxiv_fake import Fault, fixture
from tracker.cli.main import TrackerGroup, cli

CLI_DIR = Path(__file__).parent.parent / "tracker" / "cli"
TESTING = '(ti:"testing" OR abs:"testing")'
# A placeholder for each command's required arguments (search QUERY, similar ID, ...).
ARGUMENT_VALUES = {"query": "graph neural networks", "arxiv_id": "2401.01234", "folder": None}


def invoke(*args: str, **kwargs):
    return CliRunner().invoke(cli, list(args), **kwargs)


def required_args(command: click.Command) -> list[str]:
    return [ARGUMENT_VALUES[p.name] for p in command.params
            if isinstance(p, click.Argument) and p.required and ARGUMENT_VALUES.get(p.name)]


def test_every_command_has_help_with_an_example():
    assert set(cli.commands) >= {"run", "fetch", "render", "check", "demo", "search", "similar", "index",
                                 "publish", "schedule", "explain"}
    for name in cli.commands:
        result = invoke(name, "--help")
        assert result.exit_code == 0, name
        assert "Example:" in result.output, f"`tracker {name} --help` has no example"


def test_command_modules_never_import_the_cli_entry_point():
    """main.py imports the command modules and registers them; the reverse would be a circle."""
    for path in CLI_DIR.glob("*.py"):
        if path.name in ("main.py", "__init__.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            assert not any(n in ("tracker.cli.main", "tracker.cli") for n in names), f"{path.name} imports {names}"


def test_shared_options_are_defined_once():
    """`--config`, `--date` and the date parser live in cli/options.py only."""
    for path in CLI_DIR.glob("*.py"):
        if path.name == "options.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert '"--config"' not in text and '"--date"' not in text, f"{path.name} defines a shared option again"
        assert "fromisoformat" not in text, f"{path.name} parses dates itself"


def test_check_starts_without_importing_heavy_libraries(tmp_path):
    config = tmp_path / "k.yaml"
    config.write_text("topics:\n  - name: A\n    keywords: [x]\n")
    code = ("import sys; from tracker.cli.main import cli\n"
            f"try: cli(['check', '--config', {str(config)!r}])\n"
            "except SystemExit as exit: assert exit.code == 0, exit.code\n"
            "heavy = ('torch', 'sentence_transformers', 'sklearn', 'faiss', 'openvino', 'onnxruntime', 'arxiv')\n"
            "print([m for m in heavy if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_python_dash_m_tracker_and_the_console_script_work():
    for command in ([sys.executable, "-m", "tracker", "--version"], [str(Path(sys.executable).parent / "tracker"), "--version"]):
        out = subprocess.run(command, capture_output=True, text=True, check=True)
        assert "version" in out.stdout


# --- options -----------------------------------------------------------------------------

@pytest.mark.parametrize("args", [["-v", "check"], ["check", "-v"], ["check", "-vv"], ["-v", "check", "-v"]])
def test_verbose_is_accepted_before_and_after_the_command(tmp_path, args):
    config = tmp_path / "k.yaml"
    config.write_text("topics:\n  - name: A\n    keywords: [x]\n")
    result = invoke(*args, "--config", str(config))
    assert result.exit_code == 0, result.output


def test_verbose_after_the_command_turns_on_info_logs(arxiv_server, write_config):
    arxiv_server.add_pages(TESTING, {0: fixture("api_search_testing_page_start0_max10.xml")})
    config = write_config("- name: Testing\n  keywords: [testing]\n", extra="output:\n  readme_rows: 10\n")
    quiet = invoke("fetch", "--config", str(config), "--date", "2026-04-13")
    loud = invoke("fetch", "--config", str(config), "--date", "2026-04-14", "-v")
    assert quiet.exit_code == loud.exit_code == 0, loud.output
    assert "INFO" not in quiet.stderr
    assert "INFO tracker.fetching: topic Testing" in loud.stderr


def _options(command: click.Command, *names: str) -> list[str]:
    return [opt for p in command.params if isinstance(p, click.Option) for opt in p.opts if opt in names]


DATED = [(name, opt) for name, command in sorted(cli.commands.items())
         for opt in _options(command, "--date", "--since", "--until")]


def test_the_date_options_are_discovered():
    assert {("run", "--date"), ("render", "--date"), ("fetch", "--date"), ("search", "--since")} <= set(DATED)


@pytest.mark.parametrize("name, option", DATED)
@pytest.mark.parametrize("bad", ["2026-02-30", "yesterday", "2026/01/01"])
def test_a_bad_date_is_a_usage_error_in_every_command(tmp_path, name, option, bad):
    command = cli.commands[name]
    config = ["--config", str(tmp_path / "k.yaml")] if _options(command, "--config") else []  # demo writes its own
    result = invoke(name, *required_args(command), option, bad, *config)
    assert result.exit_code == 2, (name, result.output)
    assert f"{bad!r} is not a date; use YYYY-MM-DD" in result.stderr
    assert "Traceback" not in result.output


CONFIGURED = sorted(name for name, command in cli.commands.items() if _options(command, "--config"))


@pytest.mark.parametrize("name", CONFIGURED)
def test_a_missing_config_is_exit_2_with_one_line_in_every_command(tmp_path, name, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "t")  # publish would otherwise stop at the missing token first
    result = invoke(name, *required_args(cli.commands[name]), "--config", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2, (name, result.output)
    lines = result.stderr.strip().splitlines()
    assert lines == [f"error: {tmp_path / 'nope.yaml'}: config file not found (create it, or pass --config PATH)"]


# --- check -------------------------------------------------------------------------------

def test_check_prints_queries_and_warnings(tmp_path):
    path = tmp_path / "k.yaml"
    path.write_text("topics:\n  - name: A\n    query: 'abs:reward model'\n  - name: B\n    keywords: [x]\n")
    result = invoke("check", "--config", str(path))
    assert result.exit_code == 0, result.output
    assert "query: (abs:reward model)" in result.output
    assert "warning: unquoted multi-word term" in result.output
    assert 'query: (ti:"x" OR abs:"x")' in result.output


def test_check_lists_every_problem_on_its_own_line_in_file_order(tmp_path):
    path = tmp_path / "k.yaml"
    path.write_text(
        "output:\n  readme_rows: 1e20\n"                        # 2
        "topics:\n"
        "  - name: A\n    keywords: [x]\n"
        "    categories: [cs.XX, CS.CL]\n"                      # 6
        "  - name: B\n    query: 'ti:x and ti:y'\n"             # 8
        "  - name: a\n    keywords: [y]\n"                      # 9
    )
    result = invoke("check", "--config", str(path))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert [line.split(":")[2] for line in lines] == ["2", "6", "6", "8", "9"], lines
    assert all(line.startswith(f"error: {path}:") for line in lines)
    assert "and 1 more" not in result.stderr and result.stdout == ""
    assert "'cs.XX' is not an arXiv category; did you mean" in lines[1]
    assert "`topics[A].categories[1]`: 'CS.CL' is not an arXiv category; did you mean 'cs.CL'?" in lines[2]
    assert "topic name 'a' appears twice (first at line 4)" in lines[4]


# --- run: exit codes and the summary -----------------------------------------------------

def test_run_json_prints_the_summary_even_when_every_topic_failed(arxiv_server, write_config):
    arxiv_server.faults = [Fault(503)] * 20
    config = write_config("- name: Testing\n  keywords: [testing]\n- name: Other\n  keywords: [other]\n")
    result = invoke("run", "--config", str(config), "--date", "2026-04-13", "--json", "--no-embed")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert [t["name"] for t in summary["topics"]] == ["Testing", "Other"]
    assert all("503" in t["error"] for t in summary["topics"])
    assert summary["totals"]["failed_topics"] == 2
    assert "every topic failed" in result.stderr


def test_run_json_help_describes_what_it_prints():
    help_text = invoke("run", "--help").output
    assert "--json" in help_text and "per-topic" in help_text


# --- Ctrl-C ------------------------------------------------------------------------------

def test_the_group_turns_ctrl_c_into_exit_130_with_one_line():
    group = TrackerGroup()

    @group.command()
    def slow() -> None:
        """Example: none."""
        raise KeyboardInterrupt

    result = CliRunner().invoke(group, ["slow"])
    assert result.exit_code == 130
    assert result.stderr.strip().splitlines() == ["interrupted: stopped before finishing (stored files are intact)"]


class _Stall(BaseHTTPRequestHandler):
    """Accepts the request and never answers (until the test ends)."""

    arrived = threading.Event()
    release = threading.Event()

    def do_GET(self) -> None:  # noqa: N802
        self.arrived.set()
        self.release.wait(30)

    def log_message(self, *args) -> None:
        pass


def test_ctrl_c_during_a_run_exits_130_with_one_line_and_changes_nothing(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stall)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = tmp_path / "keywords.yaml"
    config.write_text(f"arxiv:\n  api_url: http://127.0.0.1:{server.server_address[1]}/api/query\n"
                      "  delay_seconds: 0\n  timeout_seconds: 60\ntopics:\n  - name: A\n    keywords: [x]\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    proc = subprocess.Popen([sys.executable, "-m", "tracker", "run", "--no-embed", "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert _Stall.arrived.wait(30), "the run never reached the server"
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        _Stall.release.set()
        proc.kill()
        server.shutdown()
        server.server_close()
    assert proc.returncode == 130, err
    assert time.monotonic() - started < 10
    assert err.strip().splitlines() == ["interrupted: stopped before finishing (stored files are intact)"]
    written = [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()]
    assert [p for p in written if not p.startswith(".tracker/")] == ["keywords.yaml"]  # caches aside, nothing


# --- credentials never printed ----------------------------------------------------------

def test_a_password_in_the_endpoint_never_reaches_the_output(arxiv_server, write_config, monkeypatch):
    arxiv_server.faults = [Fault(503)] * 20
    config = write_config("- name: Testing\n  keywords: [testing]\n")
    secret_url = arxiv_server.api_url.replace("http://", "http://robot:s3cr3t-pw@")
    monkeypatch.setenv("TRACKER_ARXIV_API_URL", secret_url)
    for args in (["check"], ["run", "--json", "--no-embed", "-vv"], ["fetch"]):
        result = invoke(*args, "--config", str(config))
        assert "s3cr3t-pw" not in result.output, (args, result.output)
        assert "http://***@" in result.output or args != ["check"], result.output


def test_search_for_an_unknown_topic_names_the_known_topics(tmp_path):
    config = tmp_path / "k.yaml"
    config.write_text("topics:\n  - name: MLLM\n    keywords: [x]\n  - name: Reward Model\n    keywords: [y]\n")
    result = invoke("search", "reward hacking", "--topic", "Nope", "--config", str(config))
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: no topic named 'Nope' in the config; the topics are: 'MLLM', 'Reward Model'"]


@pytest.mark.parametrize("args, message", [
    (["search", "x", "-k", "0"], "-k must be at least 1"),
    (["search", "x", "--since", "2026-02-01", "--until", "2026-01-01"], "is after --until"),
    (["search", "   "], "the search query is empty"),
    (["search", "x", "--topic", " "], "--topic is empty"),
    (["similar", "not-an-id"], "not an arXiv identifier: 'not-an-id'"),
    (["explain", "2401.1"], "not an arXiv identifier: '2401.1'"),
    (["run", "--device", "tpu"], "'tpu' is not one of"),
    (["demo", "--bogus"], "No such option '--bogus'"),
    (["search"], "Missing argument 'QUERY'"),
])
def test_usage_errors_exit_2_with_one_error_line(tmp_path, args, message):
    config = tmp_path / "k.yaml"
    config.write_text("topics:\n  - name: A\n    keywords: [x]\n")
    result = invoke(*args, "--config", str(config))
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("error: ") and message in result.stderr
    assert "--help`)" in result.stderr and result.stdout == ""
