"""What clients put into a session: turns, their answers to harness questions, and the
continuation token that orders follow-ups.

Bookkeeping, no processes: :class:`Interaction` remembers the open questions
(``input.requested``), the current turn's ``outputSchema`` and last assistant text, and
which questions a follow-up answers. Part of the session's state (``_state.py``).
"""

from __future__ import annotations

import time
from typing import Any

import attrs

from .. import schema
from .._clock import new_token
from ..errors import InvalidInputResponses
from ..vocabulary import ActionStatus, Entry, EntryType, FailureCode


@attrs.frozen
class TurnInput:
    """What starts a turn: the user's message as journaled, the text the harness gets
    (the message plus any client context and output-schema instructions), and the
    turn's options."""

    message: str
    harness_text: str
    output_schema: dict[str, Any] | None = None
    input_responses: tuple[dict[str, Any], ...] = ()
    #: The id the client's send was given (its turn's ``turn.started`` carries it).
    delivery_id: str | None = None

    @property
    def deliveries(self) -> tuple[str, ...]:
        return (self.delivery_id,) if self.delivery_id else ()

    @classmethod
    def plain(cls, message: str) -> TurnInput:
        return cls(message=message, harness_text=message)


@attrs.frozen
class Answer:
    """A client's answer to one open harness request: allow or deny a tool, or the
    chosen option (or text) of a question."""

    request_id: str
    allow: bool
    request: dict[str, Any]
    choice: str | None = None


@attrs.frozen
class Outcome:
    """How a turn ended: entries to journal before its end, whether it failed, and the
    data of ``turn.completed`` / ``turn.failed``."""

    extra: list[Entry]
    failed: bool
    data: dict[str, Any]


@attrs.define
class Interaction:
    """One session's conversation state on the client side."""

    continuation_token: str = attrs.field(factory=new_token)
    #: Harness questions awaiting an answer (``input.requested``), by request id.
    pending: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    #: When each open question was asked (Unix time): how long a person has kept it waiting.
    asked: dict[str, float] = attrs.field(factory=dict)
    _output_schema: dict[str, Any] | None = None
    _last_text: str | None = None

    def rotate(self) -> None:
        """A follow-up was delivered: the token it carried is spent."""
        self.continuation_token = new_token()

    def begin(self, turn: TurnInput) -> None:
        self._output_schema = turn.output_schema
        self._last_text = None

    def observe(self, type_: EntryType, data: dict[str, Any]) -> None:
        """Remember what later decisions need from the harness's output."""
        if type_ is EntryType.MESSAGE_APPENDED and data.get("role") == "assistant":
            self._last_text = str(data.get("content", ""))
        elif type_ is EntryType.INPUT_REQUESTED:
            for request in data.get("requests", []):
                request_id = str(request.get("requestId"))
                self.pending[request_id] = request
                self.asked.setdefault(request_id, time.time())

    def turn_end(self, failed: bool, data: dict[str, Any]) -> Outcome | tuple[Any, dict[str, Any]]:
        """The end of a turn the harness reported. With an ``outputSchema`` a completed
        turn's answer must be checked first: returns ``(value, schema)`` to check (then
        :meth:`checked`); otherwise the :class:`Outcome`."""
        output_schema, self._output_schema = self._output_schema, None
        native = data.pop("structuredOutput", None)  # the CLI's own (``--json-schema``)
        if failed or output_schema is None:
            return Outcome([], failed, data)
        if native is not None:
            return native, output_schema
        found, value = schema.extract_json(self._last_text or "")
        if not found:
            return self.checked(["no JSON in the answer"], None)
        return value, output_schema

    def checked(self, errors: list[str], value: Any) -> Outcome:
        """The answer was checked: ``result.completed``, or ``OUTPUT_SCHEMA_NOT_FULFILLED``."""
        if not errors:
            return Outcome([(EntryType.RESULT_COMPLETED, {"result": value})], False, {})
        failure = {
            "code": FailureCode.OUTPUT_SCHEMA_NOT_FULFILLED,
            "message": "The agent could not produce a result matching the requested schema.",
            "details": {"errors": errors},
        }
        return Outcome([], True, failure)

    def unasked(self, data: dict[str, Any]) -> tuple[list[Entry], tuple[Answer, ...]]:
        """The harness asked with nobody there to ask (``Ask.PERSON``, no person
        attached): every request is denied at once, as the launch's own rule would, and
        journaled as eve's rejected ``action.result``."""
        answers = tuple(
            Answer(str(r.get("requestId")), False, r)
            for r in data.get("requests", [])
            if isinstance(r, dict)
        )
        results: list[Entry] = [(EntryType.ACTION_RESULT, denied(a, UNASKED)) for a in answers]
        return results, answers

    def answers(self, turn: TurnInput) -> list[Answer]:
        """The open questions this follow-up answers (raises a 400 if it cannot).

        A follow-up while questions are open must answer them: by ``inputResponses``, or
        by a message naming an option (``approve``/``deny``, ``Yes``/``No``), which
        answers all of them; a single open question takes any message as its answer
        (one of its options, or free text).
        """
        if not self.pending:
            if turn.input_responses:
                raise InvalidInputResponses("There is no pending input request to answer.")
            return []
        if turn.input_responses:
            if turn.message:
                raise InvalidInputResponses(
                    "Send 'message' in its own follow-up once the input requests are answered."
                )
            answers = []
            for response in turn.input_responses:
                request_id = response["requestId"]
                if request_id not in self.pending:
                    raise InvalidInputResponses(
                        f"Unknown requestId {request_id!r}.", details={"requestId": request_id}
                    )
                option = str(response.get("optionId") or response.get("text") or "")
                answers.append(_answer(self.pending[request_id], request_id, option))
            return answers
        text = turn.message.strip()
        if text.lower() in ("approve", "yes", "deny", "no"):
            return [_answer(req, rid, text) for rid, req in self.pending.items()]
        [(rid, req)] = list(self.pending.items())[:1]
        if text and len(self.pending) == 1 and req.get("kind") == "question":
            return [_answer(req, rid, text)]
        raise InvalidInputResponses(
            "Answer the pending input requests first (inputResponses, or approve/deny).",
            details={"requestIds": list(self.pending)},
        )

    def partial(self, answers: list[Answer]) -> bool:
        """Other questions stay open once ``answers`` are given (the harness waits for
        them too: the turn goes on when the last one is answered)."""
        return bool(set(self.pending) - {a.request_id for a in answers})

    def settle(self, answers: list[Answer]) -> list[Entry]:
        """The answers reached the harness: the requests are closed. The entries that say
        how, as eve writes them: ``input.resolved``, then for each denied tool call its
        ``action.result`` (``rejected``, ``TOOL_EXECUTION_DENIED``): the tool never ran,
        whatever the harness prints about it next (the drivers journal that no more). What
        an approved tool did is the harness's own ``action.result``."""
        resolutions, denials = [], []
        for answer in answers:
            self.pending.pop(answer.request_id, None)
            self.asked.pop(answer.request_id, None)
            question = answer.request.get("kind") == "question"
            outcome = ("answered" if question else "approved") if answer.allow else "denied"
            resolutions.append({"requestId": answer.request_id, "outcome": outcome})
            if not answer.allow and not question:
                denials.append((EntryType.ACTION_RESULT, denied(answer)))
        if not answers:
            return []
        return [(EntryType.INPUT_RESOLVED, {"resolutions": resolutions}), *denials]


DENIED = "Tool execution was denied."
UNASKED = (
    "Tool execution was denied: it needs approval and no person was attached to ask "
    "(launch with permissionMode ask to ask the session's clients)."
)


def denied(answer: Answer, message: str = DENIED) -> dict[str, Any]:
    """eve's ``action.result`` for a tool call that was denied (by the person, or — with
    nobody there to ask — by the launch's own rule, which ``message`` then says)."""
    action = answer.request.get("action")
    action = action if isinstance(action, dict) else {}
    code = FailureCode.TOOL_EXECUTION_DENIED
    output = {
        "approval": {"requestId": answer.request_id, "status": "denied"},
        "code": code,
        "message": message,
        "tool": {"result": "not_run"},
    }
    result = {
        "kind": "tool-result",
        "callId": str(action.get("callId", "")),
        "toolName": str(action.get("toolName", "")),
        "output": output,
        "isError": True,
    }
    return {
        "result": result,
        "status": ActionStatus.REJECTED,
        "error": {"code": code, "message": message},
    }


def _answer(request: dict[str, Any], request_id: str, option: str) -> Answer:
    """A question is answered by its option (or free text); a tool approval by
    approve/yes/allow, anything else denies."""
    if request.get("kind") == "question":
        options = [o for o in request.get("options") or [] if isinstance(o, dict)]
        labels = {str(o.get("label")).lower(): str(o.get("label")) for o in options}
        if option.strip().lower() in labels:  # "blue" chooses the option "Blue"
            return Answer(request_id, True, request, labels[option.strip().lower()])
        refused = option.strip().lower() in ("deny", "no", "")
        return Answer(request_id, not refused, request, None if refused else option)
    return Answer(request_id, option.strip().lower() in ("approve", "yes", "allow"), request)
