import textwrap

import pytest
from click.testing import CliRunner

from tracker.cli.main import cli
from tracker.config import build_query, load_settings, parse_settings, query_warnings
from tracker.errors import ConfigError


def parse(text: str):
    return parse_settings(textwrap.dedent(text), source="k.yaml")


@pytest.mark.parametrize(
    "text, message",
    [
        ("topics:\n  - name: A\n    keywords: [x]\n    colour: red\n", "k.yaml:4: unknown key `topics[A].colour`"),
        ("topics:\n  - name: A\n    keywords: x\n", "k.yaml:3: `topics[A].keywords`: Input should be a valid list"),
        ("topics:\n  - name: A\n    keywords: [x]\n  - name: B\n", "k.yaml:4: `topics[B]`: topic 'B' is empty"),
        ("topics:\n  - name: A\n    query: 'ti:\"x'\n", "k.yaml:3: `topics[A].query`: unbalanced double quote"),
        ("topics:\n  - name: A\n    query: 'ti:x and abs:y'\n", "uses 'and': arXiv operators are uppercase"),
        ("topics:\n  - name: A\n    query: 'ti:x or abs:y'\n", "uses 'or'"),
        ("topics:\n  - name: A\n    query: '(ti:x OR abs:y'\n", "unbalanced parentheses"),
        ("topics:\n  - name: A\n    keywords: ['say \"hi\"']\n", "contains a double quote"),
        ("topics:\n  - name: A\n    keywords: [x]\n  - name: a\n    keywords: [y]\n", "appears twice"),
        ("topics:\n  - name: '  '\n    keywords: [x]\n", "topic name is empty"),
        ("topics: []\n", "`topics`: List should have at least 1 item"),
        ("output:\n  readme_rows: lots\ntopics:\n  - name: A\n    keywords: [x]\n", "k.yaml:2: `output.readme_rows`"),
        ("arxiv:\n  page_size: 5000\ntopics:\n  - name: A\n    keywords: [x]\n", "k.yaml:2: `arxiv.page_size`"),
        ("topics:\n  - name: A\n    keywords: [x]\n    query: ti:x\n", "has both `keywords` and `query`"),
        ("topics:\n  - name: A\n    source: rss\n    keywords: [x]\n", "needs `keywords` and `categories`"),
        ("topics: [\n", "k.yaml:2: invalid YAML"),
        ("- just a list\n", "expected a mapping"),
    ],
)
def test_config_errors_are_one_line_naming_key_and_line(text, message):
    with pytest.raises(ConfigError) as info:
        parse_settings(text, source="k.yaml")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.yaml")


def test_keywords_become_quoted_title_or_abstract_phrases():
    settings = parse(
        """
        topics:
          - name: Reward Model
            keywords: [reward model, RLHF]
            categories: [cs.CL, cs.LG]
            exclude: [survey]
        """
    )
    assert build_query(settings.topics[0]) == (
        '(ti:"reward model" OR abs:"reward model" OR ti:"RLHF" OR abs:"RLHF")'
        ' AND (cat:cs.CL OR cat:cs.LG) ANDNOT (ti:"survey" OR abs:"survey")'
    )


def test_single_keyword_matches_dailyarxiv_query():
    settings = parse("topics:\n  - name: Hallucination\n    keywords: [Hallucination]\n")
    assert build_query(settings.topics[0]) == '(ti:"Hallucination" OR abs:"Hallucination")'


def test_raw_query_is_kept_and_grouped():
    settings = parse("topics:\n  - name: A\n    query: 'au:del_maestro ANDNOT ti:checkerboard'\n    categories: [cond-mat]\n")
    assert build_query(settings.topics[0]) == "(au:del_maestro ANDNOT ti:checkerboard) AND cat:cond-mat"


def test_unquoted_multiword_term_is_warned():
    assert query_warnings('abs:reward model') and not query_warnings('abs:"reward model"')


def test_paths_resolve_relative_to_the_config_file(tmp_path):
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "keywords.yaml"
    path.write_text("topics:\n  - name: A\n    keywords: [x]\n")
    settings = load_settings(path)
    assert settings.path(settings.output.data_dir) == (tmp_path / "conf" / "data").resolve()


def test_env_overrides_endpoints(monkeypatch):
    settings = parse("topics:\n  - name: A\n    keywords: [x]\n")
    monkeypatch.setenv("TRACKER_ARXIV_API_URL", "http://127.0.0.1:9/api/query")
    monkeypatch.setenv("TRACKER_ARXIV_RSS_URL", "http://127.0.0.1:9/rss")
    assert settings.api_url == "http://127.0.0.1:9/api/query"
    assert settings.rss_url == "http://127.0.0.1:9/rss"


def test_shipped_keywords_yaml_is_valid_and_has_the_default_topics():
    from pathlib import Path

    settings = load_settings(Path(__file__).parent.parent / "keywords.yaml")
    assert [t.name for t in settings.topics] == ["Hallucination", "MLLM", "Reasoning", "Reward Model"]


def test_check_command_prints_queries_and_warnings(tmp_path):
    path = tmp_path / "k.yaml"
    path.write_text("topics:\n  - name: A\n    query: 'abs:reward model'\n  - name: B\n    keywords: [x]\n")
    result = CliRunner().invoke(cli, ["check", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert "query: (abs:reward model)" in result.output
    assert "warning: unquoted multi-word term" in result.output
    assert 'query: (ti:"x" OR abs:"x")' in result.output


def test_check_command_reports_bad_config_in_one_line(tmp_path):
    path = tmp_path / "k.yaml"
    path.write_text("topics:\n  - name: A\n    query: 'ti:x and ti:y'\n")
    result = CliRunner().invoke(cli, ["check", "--config", str(path)])
    assert result.exit_code == 2
    lines = [l for l in result.output.splitlines() if l]
    assert len(lines) == 1 and lines[0].startswith("error: ") and ":3:" in lines[0]


def test_unquoted_arxiv_ids_keep_their_trailing_zero_and_floats_still_work():
    settings = parse("profile:\n  papers: [2305.18290, 2401.01234]\narxiv:\n  delay_seconds: 3.5\ntopics:\n  - name: A\n    keywords: [x]\n")
    assert settings.profile.papers == ["2305.18290", "2401.01234"]
    assert settings.arxiv.delay_seconds == 3.5
