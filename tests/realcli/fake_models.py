"""Fake model APIs on 127.0.0.1, so the real Claude Code and Codex CLIs run offline.

Both servers answer streaming requests (SSE) from a per-test script: a queue of
:class:`Reply` objects, one per model call, in order; when the queue is empty the reply
is an echo of the last user message. Every request body is kept (``.requests``) so a
test can see what the CLI sent back (tool results, system prompts, resumed history).

* :class:`FakeAnthropic`: ``POST /v1/messages`` (Claude Code), the Messages API's
  events (``message_start``, ``content_block_*`` with ``text_delta``,
  ``input_json_delta``, ``thinking_delta``/``signature_delta``, ``message_delta``,
  ``message_stop``); an error reply is an HTTP status with the API's error body.
* :class:`FakeOpenAI`: ``POST /v1/responses`` (Codex), the Responses API's events
  (``response.created``, ``response.output_item.added/done``, ``response.output_text.delta``,
  reasoning, ``function_call`` items, ``response.completed`` / ``response.failed``).

Each server runs in a thread of its own (``http.server``): it is test scaffolding, and
nothing of the daemon's.
"""

from __future__ import annotations

import collections
import itertools
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs


@attrs.define
class Reply:
    """One model call's answer.

    ``blocks``: ``{"type": "text", "text"}``, ``{"type": "tool_use", "name", "input"}``,
    ``{"type": "thinking", "thinking"}`` (Anthropic) — for OpenAI: ``text``,
    ``{"type": "call", "name", "arguments"}`` and ``{"type": "reasoning", "text"}``.
    ``status`` other than 200 answers with an error; ``delay`` sleeps between deltas;
    ``failed`` (OpenAI) ends the stream with ``response.failed``.
    """

    blocks: list[dict[str, Any]] = attrs.field(factory=list)
    status: int = 200
    delay: float = 0.0
    failed: bool = False


class _Server:
    path = "/"

    def __init__(self) -> None:
        self.replies: collections.deque[Reply] = collections.deque()
        self.requests: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server._not_found(self)

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.startswith(server.path):
                    server._not_found(self)
                    return
                server.requests.append(body)
                reply = server.replies.popleft() if server.replies else server.echo(body)
                if reply.status != 200:
                    server._error(self, reply.status)
                    return
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.send_header("connection", "close")
                self.end_headers()
                try:
                    for event, data in server.events(reply, body):
                        chunk = f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        if reply.delay:
                            time.sleep(reply.delay)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the CLI hung up (interrupted, killed)
                self.close_connection = True

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.port = self._http.server_address[1]
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}"

    def _not_found(self, handler: BaseHTTPRequestHandler) -> None:
        self._json(handler, 404, {"type": "error", "error": {"type": "not_found_error"}})

    def _error(self, handler: BaseHTTPRequestHandler, status: int) -> None:
        kind = {529: "overloaded_error", 500: "api_error", 429: "rate_limit_error"}.get(
            status, "invalid_request_error"
        )
        self._json(handler, status, {"type": "error", "error": {"type": kind, "message": kind}})

    @staticmethod
    def _json(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def echo(self, body: dict[str, Any]) -> Reply:
        raise NotImplementedError

    def events(self, reply: Reply, body: dict[str, Any]) -> Iterator[tuple[str, Any]]:
        raise NotImplementedError


def _chunks(text: str, size: int = 6) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


class FakeAnthropic(_Server):
    path = "/v1/messages"

    def echo(self, body: dict[str, Any]) -> Reply:
        """An echo of the last user text; after a tool ran (or was refused), what the
        tool said (as the reference transcripts' fake model does)."""
        last = (body.get("messages") or [{}])[-1]
        content = last.get("content") if last.get("role") == "user" else None
        for part in content if isinstance(content, list) else []:
            if isinstance(part, dict) and part.get("type") == "tool_result":
                said = part.get("content")
                if isinstance(said, list):
                    said = " ".join(str(p.get("text", "")) for p in said if isinstance(p, dict))
                return Reply([{"type": "text", "text": f"tool said: {said}"}])
        return Reply([{"type": "text", "text": f"echo: {last_user_text(body)}"}])

    def events(self, reply: Reply, body: dict[str, Any]) -> Iterator[tuple[str, Any]]:
        model = body.get("model", "claude-fake")
        usage = {
            "input_tokens": 100,
            "output_tokens": 1,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
        }
        message = {
            "id": self.next_id("msg_fake"),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        yield "message_start", {"type": "message_start", "message": message}
        stop = "end_turn"
        for index, block in enumerate(reply.blocks):
            kind = block["type"]
            if kind == "text":
                yield (
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "text", "text": ""},
                    },
                )
                for piece in _chunks(block["text"]):
                    yield (
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "text_delta", "text": piece},
                        },
                    )
            elif kind == "thinking":
                yield (
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "thinking", "thinking": "", "signature": ""},
                    },
                )
                for piece in _chunks(block["thinking"]):
                    yield (
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "thinking_delta", "thinking": piece},
                        },
                    )
                yield (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "signature_delta", "signature": "c2lnbmVk"},
                    },
                )
            elif kind == "tool_use":
                stop = "tool_use"
                start = {
                    "type": "tool_use",
                    "id": block.get("id") or self.next_id("toolu_fake"),
                    "name": block["name"],
                    "input": {},
                }
                yield (
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": start},
                )
                for piece in _chunks(json.dumps(block["input"]), 16):
                    yield (
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": piece},
                        },
                    )
            yield "content_block_stop", {"type": "content_block_stop", "index": index}
        yield (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": 20},
            },
        )
        yield "message_stop", {"type": "message_stop"}


class FakeOpenAI(_Server):
    path = "/v1/responses"

    def echo(self, body: dict[str, Any]) -> Reply:
        return Reply([{"type": "text", "text": f"echo: {last_user_text(body)}"}])

    def events(self, reply: Reply, body: dict[str, Any]) -> Iterator[tuple[str, Any]]:
        response_id = self.next_id("resp_")
        base = {
            "id": response_id,
            "object": "response",
            "status": "in_progress",
            "model": body.get("model", "fake-model"),
            "output": [],
        }
        yield "response.created", {"type": "response.created", "response": base}
        for index, block in enumerate(reply.blocks):
            kind = block["type"]
            if kind == "text":
                item_id = self.next_id("msg_")
                item = {
                    "type": "message",
                    "id": item_id,
                    "role": "assistant",
                    "status": "in_progress",
                    "content": [],
                }
                yield (
                    "response.output_item.added",
                    {"type": "response.output_item.added", "output_index": index, "item": item},
                )
                for piece in _chunks(block["text"]):
                    yield (
                        "response.output_text.delta",
                        {
                            "type": "response.output_text.delta",
                            "item_id": item_id,
                            "output_index": index,
                            "content_index": 0,
                            "delta": piece,
                        },
                    )
                done = {
                    **item,
                    "status": "completed",
                    "content": [{"type": "output_text", "text": block["text"], "annotations": []}],
                }
                yield (
                    "response.output_item.done",
                    {"type": "response.output_item.done", "output_index": index, "item": done},
                )
            elif kind == "reasoning":
                item = {
                    "type": "reasoning",
                    "id": self.next_id("rs_"),
                    "summary": [{"type": "summary_text", "text": block["text"]}],
                }
                yield (
                    "response.output_item.added",
                    {"type": "response.output_item.added", "output_index": index, "item": item},
                )
                yield (
                    "response.output_item.done",
                    {"type": "response.output_item.done", "output_index": index, "item": item},
                )
            elif kind == "call":
                item = {
                    "type": "function_call",
                    "id": self.next_id("fc_"),
                    "call_id": block.get("call_id") or self.next_id("call_"),
                    "name": block["name"],
                    "arguments": json.dumps(block["arguments"]),
                    "status": "completed",
                }
                yield (
                    "response.output_item.added",
                    {"type": "response.output_item.added", "output_index": index, "item": item},
                )
                yield (
                    "response.output_item.done",
                    {"type": "response.output_item.done", "output_index": index, "item": item},
                )
        usage = {
            "input_tokens": 100,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 20,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 120,
        }
        if reply.failed:
            failed = {
                **base,
                "status": "failed",
                "error": {"code": "server_error", "message": "the fake model failed"},
            }
            yield "response.failed", {"type": "response.failed", "response": failed}
            return
        done = {**base, "status": "completed", "usage": usage}
        yield "response.completed", {"type": "response.completed", "response": done}


def last_user_text(body: dict[str, Any]) -> str:
    """The last user message's text in an Anthropic or OpenAI request."""
    for message in reversed(body.get("messages") or body.get("input") or []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        texts = [
            part.get("text", "")
            for part in content or []
            if part.get("type") in ("text", "input_text")
            and not part.get("text", "").startswith("<")
        ]
        if texts:
            return texts[-1]
    return ""
