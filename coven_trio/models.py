"""API models (attrs) and the one cattrs converter that maps them to and from the wire.

Wire naming lives here and only here: classes marked :func:`camel` use camelCase on the
wire (``startedAt``), the rest keep their snake_case attribute names (the Rust daemon's
``SessionRecord`` is snake_case). Structuring is strict: a wrong JSON type is an error,
never silently coerced (cattrs would turn ``5`` into ``"5"`` for a ``str`` field).
"""

from __future__ import annotations

import os
import re
from enum import Enum
from typing import Any, TypeVar

import attrs

from .errors import InvalidRequest

T = TypeVar("T")
_CAMEL: set[type] = set()


def camel(cls: type[T]) -> type[T]:
    """Mark an attrs class as camelCase on the wire."""
    _CAMEL.add(cls)
    return cls


def _to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _strict(kind: type) -> Any:
    def hook(value: Any, _type: Any) -> Any:
        # bool is an int subclass; JSON true is not a number here.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise TypeError(f"expected {kind.__name__}")
        return value

    return hook


def _structure_float(value: Any, _type: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("expected float")
    return float(value)


def _make_converter() -> Any:
    import cattrs
    from cattrs.gen import make_dict_structure_fn, override

    conv = cattrs.Converter(omit_if_default=False)
    for kind in (str, int, bool):
        conv.register_structure_hook(kind, _strict(kind))
    conv.register_structure_hook(float, _structure_float)

    def is_camel(cls: type) -> bool:
        return cls in _CAMEL

    def structure_factory(cls: type) -> Any:
        renames = {a.name: override(rename=_to_camel(a.name)) for a in attrs.fields(cls)}
        return make_dict_structure_fn(cls, conv, **renames)  # type: ignore[arg-type]

    conv.register_structure_hook_factory(is_camel, structure_factory)
    return conv


_converter: Any = None


def structure(data: Any, cls: type[T]) -> T:
    """Structure a request body, turning every validation error into a 400 envelope whose
    ``details.errors`` lists each problem with its JSON path. (cattrs is loaded with the
    first body read: a daemon's first answer does not wait for it.)"""
    global _converter
    import cattrs

    if _converter is None:
        _converter = _make_converter()
    if not isinstance(data, dict):
        raise InvalidRequest("request body must be a JSON object")
    try:
        result: T = _converter.structure(data, cls)
    except (cattrs.BaseValidationError, TypeError, ValueError) as exc:
        if isinstance(exc, cattrs.BaseValidationError):
            errors = [
                _wire_path(cls, e) for e in cattrs.transform_error(exc, format_exception=_reason)
            ]
        else:
            errors = [str(exc)]
        raise InvalidRequest(
            "request body has invalid fields: " + "; ".join(errors), details={"errors": errors}
        ) from None
    return result


def _reason(exc: BaseException, type_: Any) -> str:
    """Our validators' messages say what is wrong; keep them (cattrs would say only
    "invalid value")."""
    from cattrs.v import format_exception

    if type(exc) is ValueError and exc.args:
        return str(exc)
    return format_exception(exc, type_)


def _wire_path(cls: type, error: str) -> str:
    """cattrs names attributes in its paths; show the client the names it sent."""
    if cls not in _CAMEL:
        return error
    return re.sub(r"\$\.([a-z_]+)", lambda m: "$." + _to_camel(m[1]), error)


#: Each attrs class's fields as (attribute, wire name).
_WIRE_NAMES: dict[type, list[tuple[str, str]]] = {}


def unstructure(value: Any) -> Any:
    """``value`` as plain JSON data: an attrs instance as a dict (camelCase keys for a
    :func:`camel` class), an enum as its value, lists, tuples and dicts through."""
    kind = type(value)
    names = _WIRE_NAMES.get(kind)
    if names is None and attrs.has(kind):
        camel = kind in _CAMEL
        names = [(a.name, _to_camel(a.name) if camel else a.name) for a in attrs.fields(kind)]
        _WIRE_NAMES[kind] = names
    if names is not None:
        return {wire: unstructure(getattr(value, name)) for name, wire in names}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [unstructure(item) for item in value]
    if isinstance(value, dict):
        return {key: unstructure(item) for key, item in value.items()}
    return value


# --- sessions ------------------------------------------------------------------------------


def _path_text(value: Any) -> Any:
    """Embedders may pass ``pathlib.Path``; the wire carries text."""
    return os.fspath(value) if isinstance(value, os.PathLike) else value


def _no_nul(instance: Any, attribute: Any, value: Any) -> None:
    """Paths, argv and prompts end up in system calls, where NUL cannot go."""
    texts = value if isinstance(value, list) else [value]
    if any(isinstance(text, str) and "\0" in text for text in texts):
        raise ValueError(f"`{_to_camel(attribute.name)}` must not contain NUL characters")


@attrs.frozen
class Conversation:
    """``conversation`` of a launch: start the harness's conversation with this id
    (``init``), or continue that conversation (``resume``), as Coven names it."""

    mode: str
    id: str


@camel
@attrs.frozen
class LaunchRequest:
    """``POST /api/v1/sessions`` (and :meth:`coven_trio.Daemon.launch`). Unknown keys
    are ignored on the wire (real clients send more)."""

    project_root: str | None = attrs.field(default=None, converter=_path_text, validator=_no_nul)
    harness: str | None = attrs.field(default=None, validator=_no_nul)
    prompt: str | None = attrs.field(default=None, validator=_no_nul)
    cwd: str | None = attrs.field(default=None, converter=_path_text, validator=_no_nul)
    title: str | None = attrs.field(default=None, validator=_no_nul)
    launch_mode: str | None = attrs.field(default=None, validator=_no_nul)
    model: str | None = attrs.field(default=None, validator=_no_nul)
    #: argv for the ``command`` harness.
    command: list[str] | None = attrs.field(default=None, validator=_no_nul)
    conversation: Conversation | None = None
    #: Coven's ``conversationId``: the conversation to start (``conversation`` init).
    conversation_id: str | None = attrs.field(default=None, validator=_no_nul)
    #: Coven's familiar (an agent identity of its own); coven-trio has none to resolve.
    familiar_id: str | None = None
    #: Ours: a ``nonInteractive`` session stays idle after its turn and ``POST …/input``
    #: continues the conversation in a new process (Coven's ends with its process).
    follow_ups: bool = False
    #: claude: ``ask`` (tool permission questions come to the client), ``default``,
    #: ``acceptEdits``, ``plan``, ``bypassPermissions``.
    permission_mode: str | None = None
    #: codex: ``read-only``, ``workspace-write`` (the default), ``danger-full-access``.
    sandbox: str | None = None
    #: codex: ``untrusted``, ``on-failure``, ``on-request``, ``never``.
    approval: str | None = None
    #: Ours: ``"worktree"`` (or ``{"worktree": {"base": "<ref>"}}``): the session works in
    #: a git worktree of its own (docs/worktrees.md). Checked by ``plan_launch``.
    isolation: Any = None


def _window_side(instance: Any, attribute: Any, value: int) -> None:
    if not 1 <= value <= 10_000:
        raise ValueError(f"`{attribute.name}` must be between 1 and 10000")


@camel
@attrs.frozen
class ResizeRequest:
    """``POST /api/v1/sessions/:id/resize`` (and the WebSocket ``resize`` message)."""

    cols: int = attrs.field(validator=_window_side)
    rows: int = attrs.field(validator=_window_side)


@attrs.frozen
class SessionRecord:
    """The Rust daemon's SessionRecord (snake_case, field order kept) plus our fields."""

    id: str
    project_root: str
    harness: str
    title: str
    status: str
    exit_code: int | None
    archived_at: str | None
    created_at: str
    updated_at: str
    conversation_id: str | None
    familiar_id: str | None
    execution_binding: None
    labels: list[str]
    visibility: str
    external: bool
    transcript_path: str | None
    cwd: str
    launch_mode: str
    pid: int | None
    turns: int
    event_count: int
    #: The session whose harness conversation this one continues (``conversation``
    #: ``resume``), if the daemon knows it.
    resumed_from: str | None = None
    #: The eve client generation the session speaks (its stream version: ``"16"``, the
    #: seed's; ``"26"``, today's), once its clients have said which; null otherwise.
    eve_stream_version: str | None = None
    #: The session's git worktree (``isolation``), until it is discarded: ``{sessionId,
    #: repo, path, branch, base, baseRef}`` (docs/worktrees.md).
    worktree: dict[str, Any] | None = None
