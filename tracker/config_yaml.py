"""Read keywords.yaml defensively: the file is input, and input can be hostile or simply broken.

Every way a file can be unreadable ends in one ConfigError line naming the file and, where it
has one, the line: not UTF-8 (with the byte offset), binary, too large, empty, a YAML alias
("billion laughs" needs aliases, so they are refused outright; a config never needs them),
nesting deeper than any config, integers too long to convert, duplicate keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError

from tracker.errors import ConfigError

MAX_CONFIG_BYTES = 128 * 1024  # a real keywords.yaml is a few KB; pure-Python PyYAML reads ~120 KB/s
MAX_DEPTH = 32  # keywords.yaml is 4 levels deep; this keeps the recursive composer far from Python's limit
_MAX_SHOWN = 60


def printable(text: str, limit: int = _MAX_SHOWN) -> str:
    """`text` safe to show inside a one-line message: invisible and line-breaking characters escaped, capped."""
    shown = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


@dataclass(frozen=True)
class YamlDocument:
    data: Any
    lines: dict[tuple, int]  # key path -> 1-based line it is written on
    problems: list[str]  # non-fatal: duplicate keys, as "source:line: message"


def decode(raw: bytes, source: str) -> str:
    """The file's text, or a one-line error for a file that is not a (UTF-8) text config."""
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{source}: {len(raw):,} bytes is too large for a config (limit {MAX_CONFIG_BYTES:,})")
    for bom, name in (
        (b"\xff\xfe\0\0", "UTF-32"),
        (b"\0\0\xfe\xff", "UTF-32"),
        (b"\xff\xfe", "UTF-16"),
        (b"\xfe\xff", "UTF-16"),
    ):
        if raw.startswith(bom):
            raise ConfigError(f"{source}: encoded as {name}; save the file as UTF-8")
    nul = raw.find(b"\0")
    if nul >= 0:
        raise ConfigError(f"{source}: binary file (NUL byte at offset {nul}), not a YAML config")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{source}:{line}: not UTF-8 text: byte 0x{raw[exc.start]:02x} at offset {exc.start}; "
            "save the file as UTF-8"
        ) from None


class _Loader(yaml.SafeLoader):
    """SafeLoader without aliases, with a depth limit, and with float/timestamp scalars kept as written.

    `2305.18290` is an arXiv id, not 2305.1829; pydantic still turns "3.5" into 3.5 where a field is a float.
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):  # PyYAML's signature
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ComposerError(
                None,
                None,
                f"YAML aliases (*{printable(event.anchor or '')}) are not allowed in the "
                "config: write the value out in full",
                event.start_mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ComposerError(
                    None, None, f"nested more than {MAX_DEPTH} levels deep", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_yaml_int(self, node):
        try:
            return super().construct_yaml_int(node)
        except ValueError:  # Python refuses to convert integers of thousands of digits
            raise ConstructorError(None, None, "integer too long", node.start_mark) from None


def _as_text(loader: _Loader, node: yaml.ScalarNode) -> str:
    return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
for _tag in ("float", "timestamp"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _as_text)


def load(text: str, source: str) -> YamlDocument:
    loader = None
    try:
        loader = _Loader(text)  # the reader already rejects unprintable characters here
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_problem(exc, text, source)) from None
    except (RecursionError, ValueError, OverflowError, TypeError) as exc:  # defence in depth: no traceback, ever
        raise ConfigError(f"{source}: invalid YAML: {printable(str(exc))}") from None
    finally:
        if loader is not None:
            loader.dispose()
    lines: dict[tuple, int] = {}
    problems: list[str] = []
    _index(node, (), lines, problems, source)
    return YamlDocument(data, lines, problems)


def _yaml_problem(exc: yaml.YAMLError, text: str, source: str) -> str:
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        return f"{source}:{line}: invalid YAML: character U+{exc.character:04X} is not allowed"
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    opened = _unclosed(exc)
    if opened:  # name the line where the bracket or quote opens, not where YAML gave up
        mark, problem = opened
    else:
        problem = _plain_problem(problem, text, mark)
    where = f"{source}:{mark.line + 1}" if mark else source
    return f"{where}: invalid YAML: {printable(problem, 200)}"


_OPENERS = {"flow sequence": ("[", "]"), "flow mapping": ("{", "}"), "quoted scalar": ("quote", "matching quote")}


def _unclosed(exc: yaml.YAMLError):
    """(mark of the opening `[`/`{`/quote, message) when YAML ran past an unclosed one, else None."""
    context, start = getattr(exc, "context", None) or "", getattr(exc, "context_mark", None)
    for kind, (opener, closer) in _OPENERS.items():
        if kind in context and start is not None:
            return start, f"this {opener} is never closed: add the {closer} before the next line"
    return None


def _plain_problem(problem: str, text: str, mark) -> str:  # mark: a yaml Mark
    """PyYAML's parser vocabulary ("<block end>") in plain words for the mistakes people make."""
    line = text.splitlines()[mark.line] if mark is not None and mark.line < len(text.splitlines()) else ""
    if "\t" in line[: len(line) - len(line.lstrip())] or "'\\t'" in problem:
        return "a tab in the indentation: indent with spaces only"
    if problem.startswith("expected <block end>"):
        return (
            "this line is indented differently from the lines above it; entries of one list or "
            "mapping must start in the same column"
        )
    if problem == "mapping values are not allowed here":
        return "unexpected `:` on this line: check its indentation, or put a value containing `: ` in quotes"
    if problem == "could not find expected ':'":
        return "expected `key: value` here: a key is missing its `:`, or the line above is indented wrongly"
    return problem


def _index(node: yaml.Node | None, path: tuple, lines: dict[tuple, int], problems: list[str], source: str) -> None:
    """Map each key path to its line; note keys written twice in one mapping (YAML keeps only the last)."""
    if node is None:
        return
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            line = key_node.start_mark.line + 1
            if key_node.value in seen:
                problems.append(
                    f"{source}:{line}: key `{printable(key_node.value)}` appears twice in one mapping "
                    f"(also at line {seen[key_node.value]}); YAML would keep only the last"
                )
            seen.setdefault(key_node.value, line)
            child = path + (key_node.value,)
            _index(value_node, child, lines, problems, source)
            lines[child] = line
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index(item, path + (index,), lines, problems, source)
