"""Reading a YAML file a person wrote: safe types only, and every failure one line.

A project file may come from anywhere (an editor, another tool, a download), so nothing in
it may crash the reader or exhaust the machine:
- duplicate keys are reported (YAML itself silently keeps the last one);
- a document whose aliases would expand to more than `MAX_VALUES` values (a "billion
  laughs" file: a few lines that unfold into billions of values) or that nests deeper than
  `MAX_DEPTH` is refused after parsing and before anything is built from it;
- a value the YAML library cannot build (the date `2001-13-45`, `!!int abc`, an integer of
  more than 4,300 digits) is an error line like a syntax error, not an exception.

    data, duplicates = read_yaml_file(path)   # raises ProjectError / UserError
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gendisco.errors import ProjectError, UserError

__all__ = ["MAX_DEPTH", "MAX_VALUES", "one_line", "read_yaml_file"]

# A project with 1,000 intervals has about 15,000 values and is 5 levels deep.
MAX_VALUES = 200_000
MAX_DEPTH = 50


def one_line(text: str, limit: int = 300) -> str:
    """`text` on one line: whitespace runs become one space, other control characters are
    shown escaped (`\\x00`), and anything past `limit` characters becomes `...`."""
    text = " ".join(str(text).split())
    text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML loader that records duplicate keys instead of keeping the last silently."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[str] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        pairs = node.value if isinstance(node, yaml.MappingNode) else []  # `!!map [a]`: refused
        for key_node, _ in pairs:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
                continue
            if key_node.value in seen:
                line = key_node.start_mark.line + 1
                self.duplicates.append(
                    f"line {line}: duplicate key {one_line(repr(key_node.value), 60)}; "
                    "each key may appear only once here"
                )
            seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


def read_yaml_file(path: Path) -> tuple[Any, list[str]]:
    """The document in `path` (None for an empty file) and a line per duplicate key.

    Raises ProjectError (one line: where and what) for text that is not YAML or that would
    unfold into too much, and UserError for a file that cannot be read at all.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ProjectError(["not a text file (expected YAML in UTF-8)"], str(path)) from None
    except OSError as error:
        raise UserError(f"{path}: cannot read ({error.strerror or error})") from None
    loader = _Loader(text)
    try:
        # 1. Parse into nodes: syntax errors, tabs, control characters
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as error:
            raise ProjectError([_yaml_message(error, text)], str(path)) from None
        except yaml.YAMLError as error:
            raise ProjectError([f"invalid YAML: {one_line(str(error))}"], str(path)) from None
        except RecursionError:  # the pure-Python parser, where libyaml is missing
            problem = f"values are nested more than {MAX_DEPTH} levels deep"
            raise ProjectError([problem], str(path)) from None
        if node is None:
            return None, []
        # 2. Refuse what would unfold into too much before building it
        problem = _too_big(node)
        if problem:
            raise ProjectError([problem], str(path))
        # 3. Build Python values: dates, numbers and tagged values can still fail here
        try:
            data = loader.construct_document(node)
        except yaml.MarkedYAMLError as error:
            raise ProjectError([_yaml_message(error, text)], str(path)) from None
        except Exception as error:
            # PyYAML builds `2001-13-45` with datetime.date, `!!int abc` with int() and
            # `!!timestamp x` with a regex match: whatever those raise carries no position
            reason = one_line(str(error), 120) or type(error).__name__
            problem = f"invalid YAML: a value cannot be read ({reason})"
            raise ProjectError([problem], str(path)) from None
    finally:
        loader.dispose()
    return data, loader.duplicates


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _too_big(root: yaml.Node) -> str | None:
    """Why the document is refused, or None: values counted as built, where an alias
    counts as many values as its anchor holds, each time it is used.

    Walks the node graph without recursion (a deep document must not exhaust the stack)
    and visits each node once, so even an alias bomb is measured in linear time.
    """
    values: dict[int, int] = {}  # id(node) -> values it unfolds into
    depth: dict[int, int] = {}
    started: set[int] = set()  # a node inside itself (`&a [*a]`) counts once; PyYAML refuses it
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in values:
            continue
        children = _children(node)
        if not children_done:
            if key in started:
                continue
            started.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in values)
            continue
        values[key] = 1 + sum(values.get(id(child), 1) for child in children)
        depth[key] = 1 + max((depth.get(id(child), 1) for child in children), default=0)
        if depth[key] > MAX_DEPTH:
            return (
                f"line {node.start_mark.line + 1}: values are nested more than {MAX_DEPTH} "
                "levels deep; a project needs only a few"
            )
        if values[key] > MAX_VALUES:
            return (
                f"line {node.start_mark.line + 1}: aliases (*name) here unfold into more than "
                f"{MAX_VALUES:,} values; write the values out or repeat fewer aliases"
            )
    return None


def _yaml_message(error: yaml.MarkedYAMLError, text: str) -> str:
    mark = error.problem_mark or error.context_mark
    if mark is None:
        return f"invalid YAML: {one_line(error.problem or str(error))}"
    where = f"line {mark.line + 1}, column {mark.column + 1}: "
    lines = text.splitlines()
    line = lines[mark.line] if mark.line < len(lines) else ""
    if line[mark.column : mark.column + 1] == "\t":
        return f"{where}invalid YAML: a tab character; YAML indents with spaces, not tabs"
    context = f" ({error.context})" if error.context else ""
    return one_line(f"{where}invalid YAML: {error.problem or 'syntax error'}{context}")
