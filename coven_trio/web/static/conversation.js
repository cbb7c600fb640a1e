// A session's journal (eve lines, as /eve/v1/session/{id}/stream sends them) rendered
// as a conversation: messages (Markdown), thinking (folded), tool calls and results,
// approvals and questions (buttons that answer them), costs, and how turns ended.
"use strict";

(function () {
  const { h, markdown, money } = window.Coven;
  const SUMMARY_KEYS = ["command", "file_path", "path", "pattern", "url", "query", "description", "prompt"];

  function summarize(input) {
    if (!input || typeof input !== "object") return "";
    for (const key of SUMMARY_KEYS) if (typeof input[key] === "string") return input[key];
    return JSON.stringify(input).slice(0, 160);
  }

  function asText(output) {
    if (typeof output === "string") return output;
    if (Array.isArray(output)) {
      return output.map((part) => (part && typeof part.text === "string" ? part.text : JSON.stringify(part))).join("\n");
    }
    return output === undefined ? "" : JSON.stringify(output, null, 2);
  }

  class Conversation {
    // hooks: canControl (bool), answer(request, {optionId}|{text}) → Promise,
    // onCost(totalUsd), onEnd(type, data)
    constructor(root, hooks) {
      this.root = root;
      this.hooks = hooks;
      this.streaming = null;
      this.thinking = null;
      this.tools = new Map();
      this.requests = new Map();
      this.output = null;
      this.count = 0;
    }

    append(node) {
      const nearBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
      this.root.append(node);
      if (nearBottom) window.scrollTo(0, document.body.scrollHeight);
      return node;
    }

    note(text, bad) {
      return this.append(h("div", { class: bad ? "note bad" : "note" }, text));
    }

    add(line) {
      this.count += 1;
      const data = line.data || {};
      const method = HANDLERS[line.type];
      if (method) this[method](data, line);
    }

    received(data) {
      this.streaming = null;
      this.append(h("div", { class: "msg user" }, h("span", { class: "who" }, "you"), data.message || ""));
    }

    delta(data) {
      if (data.parentCallId) return;
      if (!this.streaming) {
        this.streaming = this.append(h("div", { class: "msg assistant" }, h("span", { class: "who" }, "agent")));
        this.streaming.body = this.streaming.appendChild(h("div", { class: "streaming" }));
      }
      this.streaming.body.append(data.text || "");
    }

    message(data) {
      if (data.role !== "assistant" && !data.parentCallId) return;
      if (data.parentCallId) {
        const who = data.role === "user" ? "subagent prompt" : "subagent";
        this.append(h("details", { class: "msg" }, h("summary", { class: "who" }, who), markdown(data.content)));
        return;
      }
      let box = this.streaming;
      if (!box) box = this.append(h("div", { class: "msg assistant" }, h("span", { class: "who" }, "agent")));
      if (box.body) box.body.remove();
      box.append(markdown(data.content));
      this.streaming = null;
    }

    reasoningDelta(data) {
      if (!this.thinking) {
        this.thinking = this.append(h("details", { class: "msg thinking" }, h("summary", {}, "Thinking…")));
        this.thinking.body = this.thinking.appendChild(h("div", { class: "small" }));
      }
      this.thinking.body.append(data.text || "");
    }

    reasoning(data) {
      const box = this.thinking || this.append(h("details", { class: "msg thinking" }, h("summary", {}, "Thinking")));
      if (box.body) box.body.remove();
      box.querySelector("summary").textContent = "Thinking";
      box.append(h("div", { class: "small" }, markdown(data.content)));
      this.thinking = null;
    }

    actions(data) {
      this.streaming = null;
      for (const action of data.actions || []) {
        const status = h("span", { class: "badge" }, "running");
        const card = h(
          "details",
          { class: "msg tool", "data-call": action.callId },
          h("summary", {}, h("strong", {}, action.toolName || "tool"), " ", h("code", {}, summarize(action.input)), " ", status),
          h("pre", {}, JSON.stringify(action.input, null, 2)),
        );
        card.status = status;
        this.tools.set(action.callId, card);
        this.append(card);
      }
    }

    result(data) {
      const result = data.result || {};
      let card = this.tools.get(result.callId);
      if (!card) {
        card = this.append(h("details", { class: "msg tool" }, h("summary", {}, h("strong", {}, result.toolName || "tool"))));
        card.status = card.querySelector("summary").appendChild(h("span", { class: "badge" }));
      }
      const status = data.status || "completed";
      card.classList.add(status);
      card.status.textContent = status;
      card.append(h("div", { class: "who" }, "result"), h("pre", {}, asText(result.output)));
      if (data.error && data.error.message) card.append(h("div", { class: "note bad" }, data.error.message));
    }

    requested(data) {
      this.streaming = null;
      for (const request of data.requests || []) this.requests.set(request.requestId, this.approval(request));
    }

    approval(request) {
      const action = request.action || {};
      const detail = summarize(action.input);
      const card = h(
        "section",
        { class: "msg approval", "aria-label": request.kind === "question" ? "Question" : "Approval" },
        h("div", { class: "prompt" }, request.prompt || "The agent asks."),
        detail ? h("pre", {}, detail) : null,
      );
      const state = h("div", { class: "note", role: "status" });
      const buttons = h("div", { class: "actions" });
      const send = async (answer, label) => {
        for (const b of card.querySelectorAll("button, input")) b.disabled = true;
        state.textContent = `Sending: ${label}…`;
        try {
          await this.hooks.answer(request, answer);
          if (!card.classList.contains("resolved")) state.textContent = `Answered: ${label}`;
        } catch (error) {
          state.textContent = `Not answered: ${error.message}`;
          for (const b of card.querySelectorAll("button, input")) b.disabled = false;
        }
      };
      for (const option of request.options || []) {
        const danger = option.id === "deny";
        buttons.append(
          h("button", { type: "button", class: danger ? "quiet" : "", onclick: () => send({ optionId: option.id }, option.label) }, option.label || option.id),
        );
      }
      if (request.allowFreeform) {
        const field = h("input", { type: "text", "aria-label": "Your answer", placeholder: "Or type an answer" });
        const form = h("form", { class: "actions" }, field, h("button", { type: "submit" }, "Answer"));
        form.addEventListener("submit", (event) => {
          event.preventDefault();
          if (field.value.trim()) send({ text: field.value.trim() }, field.value.trim());
        });
        card.append(buttons, form);
      } else {
        card.append(buttons);
      }
      card.append(state);
      if (!this.hooks.canControl) {
        for (const b of card.querySelectorAll("button, input")) b.disabled = true;
        state.textContent = "Waiting for someone who may answer (you can only observe).";
      }
      card.state = state;
      return this.append(card);
    }

    resolved(data) {
      for (const resolution of data.resolutions || []) {
        const card = this.requests.get(resolution.requestId);
        if (!card) continue;
        for (const b of card.querySelectorAll("button, input")) b.disabled = true;
        card.state.textContent = `Resolved: ${resolution.outcome}`;
        card.classList.add("resolved");
      }
    }

    complete(data) {
      if (typeof data.totalCostUsd === "number") {
        this.append(h("div", { class: "cost" }, `turn ${money(data.costUsd || 0)} · session ${money(data.totalCostUsd)}`));
        this.hooks.onCost(data.totalCostUsd);
      }
    }

    turnFailed(data) {
      this.streaming = null;
      this.note(`Turn failed: ${data.message || data.code || "unknown"}`, true);
    }

    cancelled() {
      this.note("Turn cancelled.");
    }

    raw(data) {
      if (data.rendered) return;
      if (!this.output) this.output = this.append(h("pre", { class: "output" }));
      this.output.append(data.data || "");
    }

    stderr(data) {
      const text = data.data || data.text || data.line || "";
      if (text) this.append(h("details", { class: "note" }, h("summary", {}, "stderr"), h("pre", {}, text)));
    }

    ended(data, line) {
      const failed = line.type === "session.failed";
      this.note(failed ? `Session failed: ${data.message || data.code || ""}` : "Session completed.", failed);
      this.hooks.onEnd(line.type, data);
    }

    info(data, line) {
      const words = {
        "output_truncated": `Output dropped (journal cap): ${data.droppedEvents || 0} events.`,
        "agent.retry": `Model API retry ${data.attempt || ""}${data.status ? ` (status ${data.status})` : ""}.`,
        "context.cleared": "Context cleared.",
        "compaction.completed": "Conversation compacted.",
        "exit": `Process exited (${data.exitCode ?? data.signal ?? "?"}).`,
        "kill": "Kill requested.",
      };
      this.note(words[line.type] || line.type);
    }

    structured(data) {
      this.append(h("details", { class: "msg" }, h("summary", {}, "Structured result"), h("pre", {}, JSON.stringify(data.result, null, 2))));
    }
  }

  const HANDLERS = {
    "message.received": "received",
    "agent.content.delta": "delta",
    "message.appended": "message",
    "agent.reasoning.delta": "reasoningDelta",
    "reasoning.appended": "reasoning",
    "actions.requested": "actions",
    "action.result": "result",
    "input.requested": "requested",
    "input.resolved": "resolved",
    "agent.complete": "complete",
    "turn.failed": "turnFailed",
    "turn.cancelled": "cancelled",
    "output": "raw",
    "stderr": "stderr",
    "session.completed": "ended",
    "session.failed": "ended",
    "result.completed": "structured",
    "output_truncated": "info",
    "agent.retry": "info",
    "context.cleared": "info",
    "compaction.completed": "info",
    "exit": "info",
    "kill": "info",
  };

  window.Coven.Conversation = Conversation;
})();
