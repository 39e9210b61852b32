"""The README splice: only whole marker lines outside code count; anything but one pair is an error."""
from __future__ import annotations

import pytest

from tracker.errors import TrackerError
from tracker.render.splice import END_MARKER as E
from tracker.render.splice import START_MARKER as S
from tracker.render.splice import splice


def block(text="NEW"):
    return f"{S}\n{text}\n{E}"


@pytest.mark.parametrize("readme", [
    f"# Lab\n\nIntro.\n\n{S}\nold\n{E}\n\n## Footer\n",
    f"{S}\n{E}",
    f"   {S}  \nold\n{E}\t\n\ntail without newline",
    f"# Lab\n\nWe use `{S}` and {E} in prose; also ``{S}``.\n\n{S}\nold\n{E}\n",
    f"```markdown\n{S}\nexample\n{E}\n```\n\n~~~~\n{E}\n~~~~\n\n{S}\nold\n{E}\n",
    f"Example:\n\n    {S}\n    indented code\n    {E}\n\n{S}\nold\n{E}\n",
    f"a\r\n{S}\r\nold\r\n{E}\r\nb\r\n",
    f"line\u2028with a separator\n{S}\nold\n{E}\n",
])
def test_replaces_only_between_whole_marker_lines_and_is_idempotent(readme):
    out = splice(readme, "NEW")
    assert out.count(block()) == 1
    assert splice(out, "NEW") == out
    before, after = out.split(block())
    original_start = readme.rindex(S) if readme.count(S) == 1 else None
    if original_start is not None:  # the user's text on both sides is kept byte for byte
        line_start = readme.rfind("\n", 0, original_start) + 1
        assert before == readme[:line_start]
        newline = readme.find("\n", readme.index(E, original_start))
        assert after == ("" if newline == -1 else readme[newline - (readme[newline - 1] == "\r"):])


@pytest.mark.parametrize("readme", [
    "", "# Lab\n", "# Lab", f"Prose mentions `{S}` and `{E}`.\n", f"```\n{S}\n{E}\n```\n", f"> {S}\n> {E}\n",
])
def test_without_marker_lines_the_block_is_appended_once(readme):
    out = splice(readme, "NEW")
    assert out.startswith(readme) and out.endswith(block() + "\n")
    assert splice(out, "NEW") == out  # the second run does not grow the README
    assert splice(out, "OTHER").count(S) == out.count(S)


@pytest.mark.parametrize(("readme", "lines"), [
    (f"{S}\na\n{E}\n{S}\nb\n{E}\n", ("1, 4", "3, 6")),
    (f"{S}\n{S}\nx\n{E}\n", ("1, 2",)),
    (f"{S}\nx\n{E}\n{E}\n", ("3, 4",)),
    (f"# t\n{E}\nx\n{S}\n", ("line 2", "line 4")),
    (f"# t\n\n{S}\nonly a start\n", ("line 3",)),
    (f"# t\n{E}\n", ("line 2",)),
    ("x\n```python\ncode never closed\n", ("line 2",)),
])
def test_anything_but_one_pair_is_a_one_line_error_naming_file_and_lines(readme, lines):
    with pytest.raises(TrackerError) as caught:
        splice(readme, "NEW", "docs/README.md")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("docs/README.md: ")
    for expected in lines:
        assert expected in message


def test_a_section_that_writes_a_marker_line_is_refused():
    with pytest.raises(TrackerError, match="marker line"):
        splice("# t\n", f"rows\n{E}\nmore")
