import math
import textwrap
import time
import typing

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from pydantic import BaseModel

from tracker.arxiv_taxonomy import CATEGORIES
from tracker.cli.main import cli
from tracker.arxiv_query import build_query, query_warnings
from tracker.config import Settings, load_settings, parse_settings, require_topic
from tracker.config_yaml import MAX_CONFIG_BYTES
from tracker.errors import ConfigError
from tracker.slugs import topic_slug


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
        ("topics:\n  - name: A\n    keywords: [x]\n  - name: a\n    keywords: [y]\n", "k.yaml:4: `topics[a].name`: topic name 'a' appears twice (first at line 2)"),
        ("topics:\n  - name: '  '\n    keywords: [x]\n", "topic name is empty"),
        ("topics: []\n", "k.yaml:1: `topics` is empty: add at least one topic"),
        ("output:\n  readme_rows: lots\ntopics:\n  - name: A\n    keywords: [x]\n", "k.yaml:2: `output.readme_rows`"),
        ("arxiv:\n  page_size: 5000\ntopics:\n  - name: A\n    keywords: [x]\n", "k.yaml:2: `arxiv.page_size`"),
        ("topics:\n  - name: A\n    keywords: [x]\n    query: ti:x\n", "has both `keywords` and `query`"),
        ("topics:\n  - name: A\n    source: rss\n    keywords: [x]\n", "needs `keywords` and `categories`"),
        ("topics: [\n", "k.yaml:2: invalid YAML"),
        ("- just a list\n", "k.yaml: expected a mapping with a `topics` list at the top level, found a list"),
        ("just words\n", "found a single value"),
        ("", "k.yaml: the config is empty"),
        ("# only a comment\n", "k.yaml: the config is empty"),
        ("topics:\n  - name: A\n    keywords: [x]\n    categories: [cs.XX]\n",
         "k.yaml:4: `topics[A].categories[0]`: 'cs.XX' is not an arXiv category; did you mean"),
        ("topics:\n  - name: A\n    keywords: [x]\n    categories:\n      - cs.CL\n      - CS.LG\n",
         "k.yaml:6: `topics[A].categories[1]`: 'CS.LG' is not an arXiv category; did you mean 'cs.LG'?"),
        ("exclude_categories: [physic.*]\ntopics:\n  - name: A\n    keywords: [x]\n",
         "k.yaml:1: `exclude_categories[0]`: 'physic.*' matches no arXiv category"),
        ("topics:\n  - name: A\n    keywords: [x]\n    categories: [cs]\n", "'cs' is an archive, not a category"),
        ("topics:\n  - name: \"A\\u2028B\"\n    keywords: [x]\n", "k.yaml:2: `topics[A\\u2028B].name`: contains the invisible control character U+2028"),
        ("topics:\n  - name: \"\\u202eevil\"\n    keywords: [x]\n", "contains the invisible control character U+202E"),
        ("topics:\n  - name: A\n    keywords: [\"a\\nb\"]\n", "k.yaml:3: `topics[A].keywords[0]`: contains the invisible control character U+000A"),
        ("topics:\n  - name: A\n    keywords: [x]\ntopics:\n  - name: B\n    keywords: [y]\n",
         "k.yaml:4: key `topics` appears twice in one mapping (also at line 1)"),
        ("a: &x 1\nb: *x\ntopics: []\n", "k.yaml:2: invalid YAML: YAML aliases (*x) are not allowed"),
        ("topics: " + "[" * 200 + "]" * 200 + "\n", "k.yaml:1: invalid YAML: nested more than 32 levels deep"),
        ("retries: " + "9" * 5000 + "\ntopics: []\n", "k.yaml:1: invalid YAML: integer too long"),
        ("topics: !!python/object:os.system {}\n", "k.yaml:1: invalid YAML"),
    ],
)
def test_config_errors_are_one_line_naming_key_and_line(text, message):
    with pytest.raises(ConfigError) as info:
        parse_settings(text, source="k.yaml")
    problems = getattr(info.value, "problems", [str(info.value)])
    assert any(message in problem for problem in problems), problems
    assert all("\n" not in problem and "\u2028" not in problem for problem in problems)


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


# --- hostile files ---------------------------------------------------------------------------

BILLION_LAUGHS = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]\n"
    for prev, name in zip([None, *"abcdefgh"], "abcdefghi")
) + "topics: [*i]\n"


def load_text(tmp_path, data: bytes):
    path = tmp_path / "keywords.yaml"
    path.write_bytes(data)
    return load_settings(path)


def test_an_alias_bomb_is_refused_at_once(tmp_path):
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"keywords.yaml:2: invalid YAML: YAML aliases \(\*a\) are not allowed"):
        load_text(tmp_path, BILLION_LAUGHS.encode())
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("data, message", [
    (b"topics:\n  - name: caf\xe9\n", "keywords.yaml:2: not UTF-8 text: byte 0xe9 at offset 21"),
    ("topics: []\n".encode("utf-16"), "keywords.yaml: encoded as UTF-16; save the file as UTF-8"),
    ("topics: []\n".encode("utf-32-be"), "keywords.yaml: binary file (NUL byte at offset 0)"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "keywords.yaml: binary file (NUL byte at offset 8)"),
    (b"", "keywords.yaml: the config is empty"),
    (b"\n\n   \n", "keywords.yaml: the config is empty"),
    (b"topics: [\x07]\n", "keywords.yaml:1: invalid YAML: character U+0007 is not allowed"),
    (b"# x\n" * (MAX_CONFIG_BYTES // 4 + 1), "is too large for a config"),
])
def test_unreadable_files_are_one_line_naming_the_file(tmp_path, data, message):
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, data)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_utf8_bom_is_fine(tmp_path):
    settings = load_text(tmp_path, "\ufefftopics:\n  - name: Café\n    keywords: [x]\n".encode())
    assert settings.topics[0].name == "Café"


def test_a_folder_as_config_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="is a folder"):
        load_settings(tmp_path)


# --- numbers: every numeric field is bounded and finite -------------------------------------

def numeric_fields(model: type[BaseModel] = Settings, prefix: tuple = ()):
    for name, field in model.model_fields.items():
        annotation = field.annotation
        args = [typing.get_args(a)[0] if typing.get_origin(a) is typing.Annotated else a
                for a in (typing.get_args(annotation) or (annotation,))]
        nested = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        if nested:
            yield from numeric_fields(nested[0], prefix + (name,))
        elif any(a in (int, float) for a in args):
            yield prefix + (name,), field


NUMERIC = [path for path, _ in numeric_fields()]


def test_the_numeric_fields_are_found():
    assert {("output", "readme_rows"), ("arxiv", "timeout_seconds"), ("dedup", "threshold")} <= set(NUMERIC)


@pytest.mark.parametrize("path, field", list(numeric_fields()), ids=[".".join(p) for p in NUMERIC])
def test_every_numeric_field_has_a_lower_and_an_upper_bound(path, field):
    bounds = {type(m).__name__ for m in field.metadata}
    assert bounds & {"Ge", "Gt"} and bounds & {"Le", "Lt"}, f"{'.'.join(path)} is unbounded: {field.metadata}"


SECTION_NEEDS = {("summaries", "llm"): ["base_url: https://llm.example.org/v1", "model: m"]}  # required keys


def config_with(path: tuple, value: str) -> str:
    """A config setting `path` (key on line len(path)) to `value`."""
    if path[0] == "notify":  # a list of channels: the number sits in the first channel
        channel = "{smtp_host: h.example.org, from: a@example.org, to: [b@example.org], %s: %s}" % (path[2], value)
        return f"notify:\n  - {path[1]}: {channel}\ntopics:\n  - name: A\n    keywords: [x]\n"
    *sections, key = path
    lines = [f"{'  ' * depth}{section}:" for depth, section in enumerate(sections)]
    lines += ["  " * len(sections) + line for line in [f"{key}: {value}", *SECTION_NEEDS.get(tuple(sections), [])]]
    return "\n".join(lines) + "\ntopics:\n  - name: A\n    keywords: [x]\n"


@pytest.mark.parametrize("value", ["1e20", "-1e20", "1e308", "1e400", ".inf", "-.inf", ".nan", "NaN", "true",
                                   "100000000000000000000000000000", "-5", "[1]", "'lots'"])
@pytest.mark.parametrize("path", NUMERIC, ids=[".".join(p) for p in NUMERIC])
def test_nonsense_numbers_are_one_line_naming_key_and_line(path, value):
    with pytest.raises(ConfigError) as info:
        parse_settings(config_with(path, value), source="k.yaml")
    line = 2 if path[0] == "notify" else len(path)
    key = f"notify[0].{'.'.join(path[1:])}" if path[0] == "notify" else ".".join(path)
    assert str(info.value).startswith(f"k.yaml:{line}: `{key}`"), str(info.value)
    assert "\n" not in str(info.value)


def test_whole_numbers_written_as_floats_are_accepted():
    settings = parse("output:\n  readme_rows: 100.0\ntopics:\n  - name: A\n    keywords: [x]\n")
    assert settings.output.readme_rows == 100 and isinstance(settings.output.readme_rows, int)


# --- topics across the file: names, archive folders, categories ------------------------------

@pytest.mark.parametrize("first, second", [("Reward Model", "reward-model"), ("A B", "A-B"), ("C-3PO Robots", "c 3po robots")])
def test_topics_sharing_an_archive_folder_are_refused_naming_both_and_their_lines(first, second):
    text = f"topics:\n  - name: {first}\n    keywords: [x]\n  - name: {second}\n    keywords: [y]\n"
    with pytest.raises(ConfigError) as info:
        parse(text)
    message = str(info.value)
    assert message.startswith(f"k.yaml:4: `topics[{second}].name`:")
    assert repr(first) in message and "(line 2)" in message and repr(second) in message
    assert topic_slug(first) == topic_slug(second) and f"{topic_slug(first)!r}" in message


@pytest.mark.parametrize("names", [["C++", "C", "C#"], ["🧠", "🤖", "🦾"], ["幻觉", "推理"], ["A/B", "A B"], ["α", "β"]])
def test_distinct_names_get_distinct_folders(names):
    text = "topics:\n" + "".join(f"  - name: \"{n}\"\n    keywords: [k{i}]\n" for i, n in enumerate(names))
    settings = parse(text)
    assert len({topic_slug(t.name) for t in settings.topics}) == len(names)


def test_names_that_differ_only_in_invisible_characters_are_duplicates():
    text = 'topics:\n  - name: AB\n    keywords: [x]\n  - name: "A\\u200bB"\n    keywords: [y]\n'
    with pytest.raises(ConfigError, match=r"^k.yaml:4: `topics\[AB\].name`: topic name 'AB' appears twice \(first at line 2\)$"):
        parse(text)


def test_a_duplicate_topic_is_reported_at_its_own_line():
    text = "topics:\n  - name: A\n    keywords: [x]\n  - name: B\n    keywords: [y]\n  - name: ' a '\n    keywords: [z]\n"
    with pytest.raises(ConfigError, match=r"^k.yaml:6: `topics\[a\].name`: topic name 'a' appears twice \(first at line 2\)$"):
        parse(text)


def test_every_problem_is_reported_in_file_order():
    text = ("output:\n  readme_rows: 0\ntopics:\n  - name: A\n    keywords: [x]\n    categories: [cs.XX]\n"
            "  - name: A\n    keywords: [y]\n    colour: red\n")
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert [p.split(":")[1] for p in info.value.problems] == ["2", "6", "7", "9"]


def test_the_taxonomy_holds_every_current_category_and_nothing_else():
    assert len(CATEGORIES) == 157
    for category in ("cs.CL", "cs.LG", "stat.ML", "math.OC", "eess.AS", "q-fin.TR", "physics.optics", "hep-th",
                     "cond-mat.str-el", "astro-ph.CO", "nlin.CD", "q-bio.NC", "econ.EM", "quant-ph", "cond-mat"):
        assert category in CATEGORIES
    for wrong in ("cs.XX", "CS.CL", "cs.cl", "cs", "cs.*", "math.ph", "hep_th", ""):
        assert wrong not in CATEGORIES


def test_exclude_categories_take_globs_and_archives():
    settings = parse("exclude_categories: ['physics.*', 'hep-*', math, CS.LG]\ntopics:\n  - name: A\n    keywords: [x]\n")
    assert settings.exclude_categories == ["physics.*", "hep-*", "math", "CS.LG"]


def test_require_topic_finds_any_case_and_names_the_known_topics():
    settings = parse("topics:\n  - name: MLLM\n    keywords: [x]\n  - name: Reward Model\n    keywords: [y]\n")
    assert require_topic(settings, " reward model ").name == "Reward Model"
    with pytest.raises(ConfigError, match=r"^no topic named 'Nope' in the config; the topics are: 'MLLM', 'Reward Model'$"):
        require_topic(settings, "Nope")


# --- no input ends in a traceback ------------------------------------------------------------

YAML_PIECES = ["topics:", "\n", "  - name: ", "keywords: ", "[", "]", "{", "}", ": ", "- ", "&a ", "*a", "<<: ", "!!binary ",
               "!!python/name:os.system", "? ", "'", '"', "\\u2028", "1e400", ".inf", "9" * 50, "\t", "#", "%YAML 1.1\n",
               "---\n", "...\n", "|\n", "output:\n  readme_rows: ", "arxiv:\n  timeout_seconds: ", "cs.CL", "C++"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=20), st.binary(max_size=10))
SCHEMA_KEYS = st.sampled_from(["name", "keywords", "query", "categories", "exclude", "source", "topics", "output",
                               "readme_rows", "arxiv", "timeout_seconds", "page_size", "exclude_categories", "profile"])
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(SCHEMA_KEYS, inner, max_size=4),
                      max_leaves=8)


def only_config_errors(load) -> None:
    try:
        load()
    except ConfigError as exc:
        problems = getattr(exc, "problems", [str(exc)])
        assert problems and all(p and "\n" not in p for p in problems), problems


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_give_settings_or_a_config_error(tmp_path, data):
    only_config_errors(lambda: load_text(tmp_path, data))


@hsettings(max_examples=300, deadline=None)
@given(text=st.lists(st.sampled_from(YAML_PIECES) | st.text(max_size=6), max_size=25).map("".join))
def test_arbitrary_yaml_gives_settings_or_a_config_error(text):
    only_config_errors(lambda: parse_settings(text, source="k.yaml"))


@hsettings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topics=st.lists(st.dictionaries(SCHEMA_KEYS, VALUES, max_size=4), max_size=3), top=st.dictionaries(SCHEMA_KEYS, VALUES, max_size=3))
def test_arbitrary_values_in_a_config_shape_give_settings_or_a_config_error(topics, top):
    text = yaml.safe_dump({**top, "topics": topics}, allow_unicode=True)
    only_config_errors(lambda: parse_settings(text, source="k.yaml"))


@pytest.mark.parametrize("setting, complaint", [
    ('readme: ""', "non-empty path"),
    ("readme: data/papers/2026-11.jsonl", "Markdown file"),
    ("readme: keywords.yaml", "Markdown file"),
    ('archive_dir: "a\\0b"', "control characters"),
    ("readme: data/README.md", "inside data_dir"),
    ("archive_dir: /etc", "inside the project"),
    ("data_dir: ../elsewhere", "inside the project"),
    ("digest_dir: data/digests", "overlap"),
    ("archive_dir: digests", "overlap"),
])
def test_output_paths_that_would_overwrite_or_escape_are_one_line(tmp_path, setting, complaint):
    config = tmp_path / "keywords.yaml"
    config.write_text(f"topics:\n  - name: A\n    keywords: [a]\noutput:\n  {setting}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert complaint in str(caught.value) and "\n" not in str(caught.value).strip()
