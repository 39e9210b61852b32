import subprocess
import sys

from click.testing import CliRunner

from tracker.cli.main import cli


def test_every_command_has_help_with_an_example():
    runner = CliRunner()
    assert set(cli.commands) >= {"run", "fetch", "render", "check", "demo", "search", "similar", "index",
                                 "publish", "schedule", "explain"}
    for name in cli.commands:
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Example:" in result.output, f"`tracker {name} --help` has no example"


def test_cli_starts_without_importing_heavy_libraries():
    code = ("import sys; from tracker.cli.main import cli; "
            "heavy = [m for m in ('torch', 'sentence_transformers', 'sklearn', 'faiss', 'onnxruntime', 'arxiv') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_bad_date_is_one_clear_line(tmp_path):
    result = CliRunner().invoke(cli, ["run", "--date", "2026-02-30", "--config", str(tmp_path / "k.yaml")])
    assert result.exit_code == 2 and "is not a date; use YYYY-MM-DD" in result.output


def test_python_dash_m_tracker_works():
    out = subprocess.run([sys.executable, "-m", "tracker", "--version"], capture_output=True, text=True, check=True)
    assert "version" in out.stdout
