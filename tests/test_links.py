from __future__ import annotations

import pytest

from tracker.render.links import find_code_links

CASES = [
    # Real abstracts and comments from the recorded arXiv responses.
    ("reducing reliance on continuous human annotation. Code and results are available at "
     "https://opendatalab.github.io/REST.", ["https://opendatalab.github.io/REST"]),
    ("Final version, 6 figures, Python code and Jupyter notebook available at "
     "https://github.com/ydecastro/super-resolution-testing", ["https://github.com/ydecastro/super-resolution-testing"]),
    ("A video demonstrating model-based testing with Whisker is available at the following URL: "
     "https://youtu.be/edgCNbGSGEY", []),
    ("Lists are at http://www.astronomy.ohio-state.edu/~gould/ogle_hot_jupiters.ps.gz", []),
    # Realistic abstract/comment endings, as arXiv shows them.
    ("Our code is available at https://github.com/fmohr/metamorphic-ml.",
     ["https://github.com/fmohr/metamorphic-ml"]),
    ("The dataset and tool are publicly released (https://github.com/org/tool), see Sec. 5.",
     ["https://github.com/org/tool"]),
    ("Accepted at ICSE 2024. Code: https://gitlab.com/group/sub/project; models: "
     "https://huggingface.co/org/model-7b, data at https://hf.co/datasets/org/d.",
     ["https://gitlab.com/group/sub/project", "https://huggingface.co/org/model-7b",
      "https://hf.co/datasets/org/d"]),
    ("Project page: https://example-lab.github.io/deep-test/ . 12 pages, 4 figures",
     ["https://example-lab.github.io/deep-test/"]),
    (r"Code is at \url{https://bitbucket.org/team/repo}.", ["https://bitbucket.org/team/repo"]),
    (r"See \href{https://github.com/a/b}{our repository} and \url{https://github.com/a/b/}",
     ["https://github.com/a/b"]),
    ("Implementation: github.com/user/repo_name, and www.github.com/user/other.",
     ["https://github.com/user/repo_name", "https://www.github.com/user/other"]),  # made absolute
    ("Wiki-style https://github.com/a/b/blob/main/x_(y).md) end",
     ["https://github.com/a/b/blob/main/x_(y).md"]),
    ("Demo website: https://deeptest.ai/demo!", ["https://deeptest.ai/demo"]),
    ("Results compare with arXiv:2401.01234 and https://doi.org/10.1000/xyz and https://www.acm.org/about.", []),
    ("Published in IEEE TSE; see also https://github.com for hosting.", []),
    ("", []),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_find_code_links(text, expected):
    assert find_code_links(text) == expected


def test_none_text():
    assert find_code_links(None) == []


# --- only well-formed http(s) URLs become links ---------------------------------------------

from tracker.render.links import link_target, safe_url  # noqa: E402

REFUSED = [
    "javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "data:text/html,<b>x</b>", "vbscript:x",
    "file:///etc/passwd", "ftp://files.example.org/x", "//evil.example/x", "/relative/path", "mailto:a@b.org",
    'https://a.org/x"onmouseover="alert(1)', "https://a.org/x'y", "https://a.org/<script>", "https://a.org/a>b",
    "https://a.org/`x`", "https://a.org/x y", "https://a.org/x\ty", "https://a.org/x\ny", "https://a.org/\u2028",
    "https://a.org/\u00a0x", "https://a.org/\u200bx", "https://a.org/\\x", "https://x/a)<script>", "https://a.org/a)",
    "https://a.org/(a", "https://a.org/]x", "https://a.org/{x", "https://github.com@evil.example/x",
    "https://user:pass@a.org/x", "https://a.org:99999/", "https://a.org:x/", "https://localhost/x", "https://-a.org/",
    "https://a..org/", "https://1.2.3.4/x", "https://[::1]/x", "https:///a.org", "https://%65vil.org/", "", None,
]
ACCEPTED = [
    ("https://github.com/a/b", "https://github.com/a/b"),
    ("HTTP://GitHub.COM/A/b?q=1#frag", "http://github.com/A/b?q=1#frag"),
    ("https://en.wikipedia.org/wiki/Big_O_(notation)", "https://en.wikipedia.org/wiki/Big_O_(notation)"),
    ("https://a.org/x%zz[1]|^", "https://a.org/x%25zz%5B1%5D%7C%5E"),
    ("https://a.org/%E2%82%AC", "https://a.org/%E2%82%AC"),
    ("https://a.org/pfad/\u00fcber?q=\u20ac", "https://a.org/pfad/%C3%BCber?q=%E2%82%AC"),
    ("https://b\u00fccher.example/x", "https://xn--bcher-kva.example/x"),
    ("https://a.org:8443/p", "https://a.org:8443/p"),
    ("https://huggingface.co/@user/model", "https://huggingface.co/@user/model"),
]


@pytest.mark.parametrize("url", REFUSED)
def test_safe_url_refuses(url):
    assert safe_url(url) is None


@pytest.mark.parametrize(("url", "expected"), ACCEPTED)
def test_safe_url_accepts_and_encodes(url, expected):
    assert safe_url(url) == expected
    assert safe_url(expected) == expected  # idempotent


def test_links_in_text_never_point_at_github_threads_or_unsafe_targets():
    assert link_target("www.example.org/a") == "https://www.example.org/a"
    for url in ["https://github.com/o/r/issues/1", "https://github.com/o/r/pull/2", "https://www.github.com/o/r/discussions/3",
                "javascript:alert(1)"]:
        assert link_target(url) is None


@pytest.mark.parametrize(("text", "expected"), [
    (r"Code: \url{javascript:alert(1)} and \href{data:text/html,x}{here}", []),
    ("Code at https://github.com/a/b)<script>alert(1)</script>", ["https://github.com/a/b"]),
    ('Code at https://github.com/a/b"onclick="x and https://github.com/c/d`x`', ["https://github.com/a/b", "https://github.com/c/d"]),
    ("Code: https://github.com/o/r/issues/12, fixed in https://github.com/o/r/pull/3.", []),
    ("Code: https://github.com/o/r/tree/main/src/issues.", ["https://github.com/o/r/tree/main/src/issues"]),
    ("Project page: https://b\u00fccher.github.io/x.", ["https://xn--bcher-kva.github.io/x"]),
])
def test_code_links_are_safe(text, expected):
    assert find_code_links(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("代码见 https://github.com/a/b。", ["https://github.com/a/b"]),
    ("（代码：https://github.com/a/b）", ["https://github.com/a/b"]),
    ("Code at “https://github.com/a/b”…", ["https://github.com/a/b"]),
    ("Code at https://github.com/a/b_~", ["https://github.com/a/b"]),
    ("Code: https://zh.example.org/项目/代码 and more", ["https://zh.example.org/%E9%A1%B9%E7%9B%AE/%E4%BB%A3%E7%A0%81"]),
])
def test_trailing_punctuation_of_any_script_is_not_part_of_the_url(text, expected):
    assert find_code_links(text) == expected
