"""Edits of the project file that keep its comments, key order and formatting.

The studio never writes a project from scratch: it loads the YAML text with ruamel.yaml's
round-trip loader, applies the edit to that tree (so every comment, blank line, quote style
and key order not touched stays as it was), and validates the resulting text with
`load_project`, the same pydantic model and messages as `gendisco validate`. Only then does
the text replace the file (written beside it and renamed, so a reader never sees half a
file). An edit that does not validate changes nothing on disk and returns the validator's
`field.path: message` lines.

Each edit names the version (a hash of the file's bytes) it was made on. If the file
changed since (another editor, `gendisco init --force`, a `git checkout`), the edit is
refused with the new version instead of overwriting that change, and the page reloads.

Edits are operations on paths such as `["intervals", 2, "to"]`:

- `merge`: a JSON merge patch (RFC 7386) at the path: mappings merge key by key, `null`
  deletes a key, anything else replaces the value (keeping its quote style);
- `insert`: a new item into a list (an interval at its index);
- `remove`: delete the item or key at the path.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, ScalarString
from ruamel.yaml.util import load_yaml_guess_indent

from gendisco.errors import ProjectError, UserError
from gendisco.project import Project, load_project

# Keys that decide where files are read and written: changed in the file itself, never
# through the studio, so no request can point the studio at a folder of its choosing.
READ_ONLY_KEYS = ("song", "output")
# Mappings that project files write on one line: `to: {prompt: "...", seed: 7}`.
FLOW_KEYS = ("from", "to", "hold")
_TIME_TEXT = re.compile(r"^\s*(?:\d+:)?\d+:\d+(?:\.\d*)?\s*$")

PathPart = str | int


class EditOp(BaseModel):
    """One operation of an edit request."""

    model_config = ConfigDict(extra="forbid")

    op: Literal["merge", "insert", "remove"]
    path: list[PathPart]
    value: Any = None


class EditError(UserError):
    """An edit that cannot be applied as asked (HTTP status in `status`)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class StaleVersion(EditError):
    """The file changed on disk since the page read it."""

    def __init__(self, current: str):
        super().__init__(
            "the project file changed on disk since this page loaded it (another program "
            "saved it); the page now shows the new file: make the edit again",
            status=409,
        )
        self.current = current


class InvalidEdit(EditError):
    """The edited project does not validate: `problems` are `field.path: message` lines."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems), status=422)
        self.problems = problems


@dataclass(frozen=True)
class Snapshot:
    """The project file as it is on disk now."""

    version: str  # sha256 of the bytes, shortened
    mtime_ns: int
    size: int
    project: Project | None  # None when the file does not validate
    problems: list[str] = field(default_factory=list)  # why it does not

    @property
    def stamp(self) -> tuple[int, int]:
        return (self.mtime_ns, self.size)


def version_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


class ProjectFile:
    """The project file behind the studio: read (cached by mtime and size) and edited."""

    def __init__(self, path: Path):
        self.path = Path(path).resolve()
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        # (version, its round-trip YAML, its document): an edit right after another one
        # (dragging an interval, typing prompts) starts from the tree the last one saved
        # instead of parsing the file again, the slowest step for a long project
        self._parsed: tuple[str, YAML, CommentedMap] | None = None

    # -- reading -------------------------------------------------------------------------

    def _stat(self) -> tuple[int, int]:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            raise UserError(f"{self.path}: project file not found") from None
        except OSError as error:
            raise UserError(f"{self.path}: cannot read ({error.strerror or error})") from None
        return (info.st_mtime_ns, info.st_size)

    def changed(self) -> bool:
        """Whether the file on disk differs from the last snapshot (cheap: one stat)."""
        return self._snapshot is None or self._stat() != self._snapshot.stamp

    def read(self) -> Snapshot:
        """The current snapshot, re-read and re-validated only when the file changed."""
        with self._lock:
            return self._read_locked()

    def _read_locked(self) -> Snapshot:
        stamp = self._stat()
        if self._snapshot is not None and self._snapshot.stamp == stamp:
            return self._snapshot
        data = self.path.read_bytes()
        project, problems = None, []
        try:
            project = load_project(self.path)
        except ProjectError as error:
            problems = error.problems
        except UserError as error:
            problems = error.lines()
        self._snapshot = Snapshot(version_of(data), stamp[0], stamp[1], project, problems)
        return self._snapshot

    # -- editing -------------------------------------------------------------------------

    def edit(self, ops: list[EditOp], version: str) -> Snapshot:
        """Apply `ops` to the file at `version`; validate; save. Returns the new snapshot.

        Raises StaleVersion when the file is no longer at `version`, EditError for an op
        that does not fit the file (unknown interval, read-only key), InvalidEdit when the
        result does not validate. In every error case the file is left untouched.
        """
        with self._lock:
            original = self.path.read_bytes()
            if version_of(original) != version:
                self._snapshot = None
                raise StaleVersion(self._read_locked().version)
            text = original.decode("utf-8-sig")
            yaml, document = self._parse(text, version)
            self._parsed = None  # the ops change the tree: it is only kept once saved
            for op in ops:
                _apply(document, op)
            out = io.StringIO()
            yaml.dump(document, out)
            edited = out.getvalue()
            if edited == text:
                return self._read_locked()
            project = self._save_if_valid(edited, original)
            new_version = version_of(edited.encode("utf-8"))
            self._parsed = (new_version, yaml, document)
            if "output" not in document:  # its default depends on the file's name: read it back
                return self._read_locked()
            stamp = self._stat()
            self._snapshot = Snapshot(new_version, stamp[0], stamp[1], project, [])
            return self._snapshot

    def _parse(self, text: str, version: str) -> tuple[YAML, CommentedMap]:
        if self._parsed is not None and self._parsed[0] == version:
            return self._parsed[1], self._parsed[2]
        yaml = _round_trip(*_guess_indent(text))
        try:
            document = yaml.load(text)
        except YAMLError as error:
            raise EditError(f"the project file is not valid YAML: {error}", 422) from None
        if not isinstance(document, CommentedMap):
            raise EditError("the project file's top level is not a mapping", 422)
        return yaml, document

    def _save_if_valid(self, text: str, original: bytes) -> Project:
        """Write `text` beside the file, validate it, and move it into place if it passes;
        returns the validated project."""
        partial = self.path.with_name(f".{self.path.name}.studio-{os.getpid()}.partial")
        try:
            partial.write_text(text, encoding="utf-8")
            try:
                # the same loader as `gendisco validate`: paths resolve from the same folder
                project = load_project(partial)
            except ProjectError as error:
                raise InvalidEdit(error.problems) from None
            except UserError as error:
                raise InvalidEdit(error.lines()) from None
            if self.path.read_bytes() != original:  # saved by someone else meanwhile
                self._snapshot = None
                raise StaleVersion(self._read_locked().version)
            os.chmod(partial, self.path.stat().st_mode & 0o7777)
            os.replace(partial, self.path)
        except OSError as error:
            raise EditError(
                f"cannot save {self.path.name}: {error.strerror or error}", status=500
            ) from None
        finally:
            partial.unlink(missing_ok=True)
        project.path = self.path
        return project


def _guess_indent(text: str) -> tuple[int, int]:
    """(sequence indent, dash offset) as the file writes them: `  - start:` is (4, 2)."""
    try:
        _, indent, sequence_dash = load_yaml_guess_indent(text)
    except YAMLError:
        indent, sequence_dash = None, None
    sequence_dash = sequence_dash or 0
    return max(indent or 2, sequence_dash + 2), sequence_dash


def _round_trip(sequence: int, dash: int) -> YAML:
    """A round-trip YAML with the file's own indentation, so untouched lines stay as they are."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long prompt onto two lines
    yaml.indent(mapping=2, sequence=sequence, offset=dash)
    return yaml


# -- applying operations --------------------------------------------------------------------


def _where(path: list[PathPart]) -> str:
    return ".".join(str(part) for part in path) or "the project"


def _refuse_read_only(key: PathPart) -> None:
    if key in READ_ONLY_KEYS:
        raise EditError(
            f"{key}: set in the project file itself, not from the studio "
            "(it decides which files the studio reads and writes)"
        )


def _check_path(document: CommentedMap, path: list[PathPart], *, inserting: bool = False) -> None:
    if path:
        _refuse_read_only(path[0])
    intervals = document.get("intervals")
    if len(path) >= 2 and path[0] == "intervals" and isinstance(path[1], int):
        count = len(intervals) if isinstance(intervals, list) else 0
        if not 0 <= path[1] < count + (inserting and len(path) == 2):
            raise EditError(
                f"intervals.{path[1]}: no such interval; the project has {count} "
                f"(numbered 0 to {count - 1})",
                status=404,
            )


def _has(node: Any, part: PathPart) -> bool:
    """Whether `node[part]` exists: a key of a mapping, or an index of a list."""
    if isinstance(node, dict):
        return isinstance(part, str) and part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _container_at(document: CommentedMap, path: list[PathPart]) -> Any:
    node: Any = document
    for depth, part in enumerate(path):
        if not _has(node, part):
            raise EditError(f"{_where(path[: depth + 1])}: not in the project file", status=404)
        node = node[part]
    return node


def _apply(document: CommentedMap, op: EditOp) -> None:
    path = list(op.path)
    _check_path(document, path, inserting=op.op == "insert")
    if op.op == "merge":
        if not path:
            if not isinstance(op.value, dict):
                raise EditError("a merge at the top level needs a mapping of keys")
            for key in op.value:
                _refuse_read_only(key)
            _merge(document, op.value, ())
            return
        parent = _container_at(document, path[:-1])
        _set(parent, path[-1], op.value, tuple(path))
        return
    if not path:
        raise EditError(f"{op.op} needs a path")
    parent = _container_at(document, path[:-1])
    key = path[-1]
    if op.op == "insert":
        if not isinstance(parent, list) or not isinstance(key, int):
            raise EditError(f"{_where(path)}: insert works on lists (such as intervals) only")
        if not 0 <= key <= len(parent):
            raise EditError(f"{_where(path)}: index out of range (0 to {len(parent)})", 404)
        parent.insert(key, _node(op.value, key=str(path[-2]) if len(path) > 1 else ""))
        return
    # remove
    if not _has(parent, key):
        raise EditError(f"{_where(path)}: not in the project file", status=404)
    del parent[key]


def _merge(target: CommentedMap, patch: dict, where: tuple[PathPart, ...]) -> None:
    for key, value in patch.items():
        _set(target, str(key), value, (*where, key))


def _set(parent: Any, key: PathPart, value: Any, where: tuple[PathPart, ...]) -> None:
    """Merge-patch `value` into `parent[key]`: null deletes, mappings merge, else replace."""
    if isinstance(parent, list):
        if not isinstance(key, int) or not 0 <= key < len(parent):
            raise EditError(f"{_where(list(where))}: not in the project file", status=404)
        if value is None:
            del parent[key]
        elif isinstance(value, dict) and isinstance(parent[key], dict):
            _merge(parent[key], value, where)
        else:
            parent[key] = _node(value, key="", old=parent[key])
        return
    if not isinstance(parent, dict) or not isinstance(key, str):
        raise EditError(f"{_where(list(where))}: not a mapping in the project file")
    if value is None:  # RFC 7386: null deletes
        parent.pop(key, None)
        return
    old = parent.get(key)
    if isinstance(value, dict) and isinstance(old, dict):
        _merge(old, value, where)
        return
    parent[key] = _node(value, key=key, old=old)


def _node(value: Any, *, key: str, old: Any = None) -> Any:
    """A ruamel node for a JSON value, in the file's style where the old value had one."""
    if isinstance(value, dict):
        mapping = CommentedMap()
        for k, v in value.items():
            if v is not None:
                mapping[str(k)] = _node(v, key=str(k))
        if key in FLOW_KEYS:
            mapping.fa.set_flow_style()
        return mapping
    if isinstance(value, list):
        return CommentedSeq(_node(v, key="") for v in value)
    if isinstance(value, str):
        if isinstance(old, ScalarString):
            return type(old)(value)  # keep the old quotes
        return DoubleQuotedScalarString(value) if key in ("prompt", "style", "negative") else value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(old, str) and _TIME_TEXT.match(old):
            return _as_old_time(value, old)
        return value
    return value


def _as_old_time(seconds: float, old: str) -> Any:
    """A time written like the old one (`"0:08.0"`), to the millisecond."""
    whole_ms = int(round(float(seconds) * 1000))
    minutes, ms = divmod(whole_ms, 60_000)
    hours, minutes = divmod(minutes, 60)
    secs = f"{ms // 1000:02d}.{ms % 1000:03d}".rstrip("0")
    secs = secs + "0" if secs.endswith(".") else secs
    text = f"{hours}:{minutes:02d}:{secs}" if hours else f"{minutes}:{secs}"
    return type(old)(text) if isinstance(old, ScalarString) else DoubleQuotedScalarString(text)
