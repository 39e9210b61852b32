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
     ["github.com/user/repo_name", "www.github.com/user/other"]),
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
