// Views: logging in and pairing, the sessions list (with what needs you), launching.
"use strict";

(function () {
  const C = window.Coven;
  const { h, api } = C;
  const views = (C.views = {});

  // Answer one pending approval or question. `/respond` answers exactly that request;
  // a daemon without it takes the option as the session's input (which answers every
  // pending approval: approve/deny, or a question's choice).
  C.respond = async function respond(sessionId, request, answer) {
    const id = encodeURIComponent(sessionId);
    try {
      return await api("POST", `/api/v1/sessions/${id}/respond`, { requestId: request.requestId, ...answer });
    } catch (error) {
      if (error.status !== 404 || error.code !== "not_found") throw error;
    }
    return api("POST", `/api/v1/sessions/${id}/input`, { data: answer.optionId || answer.text });
  };

  views.login = function (main, ctx, code) {
    const codeField = h("input", { id: "pair-code", name: "code", autocomplete: "one-time-code", value: code || "", required: true });
    const nameField = h("input", { id: "pair-name", name: "name", value: guessName(), maxlength: 80 });
    const tokenField = h("input", { id: "login-token", name: "token", type: "password", autocomplete: "off", required: true });
    const status = h("p", { role: "status", class: "note" });
    const pair = h(
      "form",
      { class: "card", "aria-labelledby": "pair-title" },
      h("h2", { id: "pair-title" }, "Pair this device"),
      h("p", { class: "muted small" }, "On the daemon's machine, run ", h("code", {}, "coven-trio web pair"), " and type the code it shows."),
      h("label", { for: "pair-code" }, "Pairing code"), codeField,
      h("label", { for: "pair-name" }, "Name of this device"), nameField,
      h("div", { class: "actions" }, h("button", { type: "submit" }, "Pair")),
    );
    pair.addEventListener("submit", async (event) => {
      event.preventDefault();
      status.textContent = "Pairing…";
      try {
        await api("POST", "/_/pair", { code: codeField.value, name: nameField.value });
        ctx.restart();
      } catch (error) {
        status.textContent = error.message;
      }
    });
    const login = h(
      "form",
      { class: "card", "aria-labelledby": "login-title" },
      h("h2", { id: "login-title" }, "Log in on the daemon's machine"),
      h("p", { class: "muted small" }, "Open the URL ", h("code", {}, "coven-trio web"), " prints, or paste its token (the part after #token=)."),
      h("label", { for: "login-token" }, "Token"), tokenField,
      h("div", { class: "actions" }, h("button", { type: "submit" }, "Log in")),
    );
    login.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await api("POST", "/_/login", { token: tokenField.value.trim() });
        ctx.restart();
      } catch (error) {
        status.textContent = error.message;
      }
    });
    main.replaceChildren(h("h1", {}, "coven-trio"), status, h("div", { class: "grid2" }, pair, login));
    (code ? nameField : codeField).focus();
  };

  function guessName() {
    const agent = navigator.userAgent;
    const kind = /Android/.test(agent) ? "Android" : /iPhone|iPad/.test(agent) ? "iPhone" : /Mac/.test(agent) ? "Mac" : /Linux/.test(agent) ? "Linux" : "browser";
    return `${kind} browser`;
  }

  const FILTERS_KEY = "coven.filters";

  views.sessions = function (main, ctx) {
    const saved = JSON.parse(sessionStorage.getItem(FILTERS_KEY) || "{}");
    const query = h("input", { id: "f-query", type: "search", value: saved.query || "", placeholder: "title, project, id" });
    const status = h("select", { id: "f-status" }, ["all", "live", "running", "idle", "completed", "failed", "killed", "orphaned"].map((s) => h("option", { value: s }, s)));
    const harness = h("select", { id: "f-harness" }, h("option", { value: "all" }, "all"));
    status.value = saved.status || "all";
    const list = h("ul", { class: "sessions", "aria-label": "Sessions" });
    const inbox = h("section", { class: "card inbox", "aria-labelledby": "inbox-title", hidden: true });
    const empty = h("p", { class: "muted", hidden: true }, "No session matches.");
    const filters = h(
      "form",
      { class: "filters", role: "search" },
      h("div", {}, h("label", { for: "f-query" }, "Search"), query),
      h("div", {}, h("label", { for: "f-status" }, "Status"), status),
      h("div", {}, h("label", { for: "f-harness" }, "Harness"), harness),
    );
    filters.addEventListener("submit", (event) => event.preventDefault());
    main.replaceChildren(h("h1", {}, "Sessions"), inbox, filters, list, empty);
    let records = [];
    let inboxGone = false;
    const draw = () => {
      sessionStorage.setItem(FILTERS_KEY, JSON.stringify({ query: query.value, status: status.value, harness: harness.value }));
      const known = new Set(records.map((r) => r.harness));
      const chosen = harness.value;
      harness.replaceChildren(h("option", { value: "all" }, "all"), [...known].sort().map((name) => h("option", { value: name }, name)));
      harness.value = known.has(chosen) ? chosen : saved.harness && known.has(saved.harness) ? saved.harness : "all";
      const words = query.value.trim().toLowerCase();
      const shown = records.filter((r) => {
        if (status.value === "live" ? !C.LIVE.has(r.status) : status.value !== "all" && r.status !== status.value) return false;
        if (harness.value !== "all" && r.harness !== harness.value) return false;
        const text = `${r.title || ""} ${r.project_root || ""} ${r.id} ${r.harness}`.toLowerCase();
        return !words || text.includes(words);
      });
      list.replaceChildren(...shown.map(row));
      empty.hidden = shown.length > 0;
    };
    for (const field of [query, status, harness]) field.addEventListener("input", draw);
    const refresh = async () => {
      try {
        records = await api("GET", "/api/v1/sessions");
        records.sort((a, b) => (b.created_at || "").localeCompare(a.created_at || ""));
        draw();
      } catch (error) {
        if (error.status !== 401) C.toast(`Sessions: ${error.message}`);
      }
      if (!inboxGone) {
        try {
          drawInbox(inbox, (await api("GET", "/api/v1/inbox")).items || [], ctx, refresh);
        } catch (error) {
          inboxGone = error.status === 404;
          inbox.hidden = true;
        }
      }
    };
    return C.poll(refresh, 2000);
  };

  function row(r) {
    const cost = C.costOf(r);
    const worktree = r.worktree && (r.worktree.branch || r.worktree.path);
    return h(
      "li",
      { class: "card session-row", "data-session": r.id },
      h("span", {}, h("span", { class: `badge status-${r.status}` }, r.status)),
      h("a", { class: "title", href: `#/s/${encodeURIComponent(r.id)}` }, r.title || r.id),
      h("span", { class: "when small muted", title: r.updated_at }, C.ago(r.updated_at)),
      h(
        "span",
        { class: "meta" },
        h("span", {}, r.harness),
        h("span", { title: r.project_root }, C.basename(r.project_root)),
        r.launch_mode ? h("span", {}, r.launch_mode) : null,
        cost !== null ? h("span", {}, C.money(cost)) : null,
        worktree ? h("span", { title: r.worktree.path }, `⎇ ${worktree}`) : null,
        h("span", { class: "activity" }, `active ${C.ago(r.updated_at)}`),
      ),
    );
  }

  function drawInbox(box, items, ctx, refresh) {
    box.hidden = items.length === 0;
    box.replaceChildren(
      h("h2", { id: "inbox-title" }, `Needs you (${items.length})`),
      h(
        "ul",
        {},
        items.map((item) =>
          h(
            "li",
            {},
            h("a", { href: `#/s/${encodeURIComponent(item.sessionId)}` }, item.title || item.sessionId),
            ` — ${item.prompt || item.kind}`,
            item.detail ? h("pre", {}, item.detail) : null,
            h(
              "div",
              { class: "actions" },
              (item.options || []).map((option) =>
                h("button", {
                  type: "button",
                  disabled: !ctx.me.control,
                  onclick: async () => {
                    try {
                      await C.respond(item.sessionId, item, { optionId: option.id });
                      C.toast(`Answered: ${option.label}`);
                    } catch (error) {
                      C.toast(error.message);
                    }
                    refresh();
                  },
                }, option.label || option.id),
              ),
            ),
          ),
        ),
      ),
    );
  }

  views.launch = function (main, ctx) {
    const last = JSON.parse(localStorage.getItem("coven.launch") || "{}");
    const field = (id, label, input) => [h("label", { for: id }, label), input];
    const root = h("input", { id: "l-root", required: true, value: last.projectRoot || "", placeholder: "/home/you/project" });
    const harness = h("select", { id: "l-harness" });
    const mode = h("select", { id: "l-mode" }, [["", "default"], ["stream", "stream (chat)"], ["nonInteractive", "one turn at a time"], ["interactive", "terminal (PTY)"]].map(([v, t]) => h("option", { value: v }, t)));
    const prompt = h("textarea", { id: "l-prompt", rows: 4 });
    const command = h("input", { id: "l-command", placeholder: "bash -l" });
    const title = h("input", { id: "l-title" });
    const model = h("input", { id: "l-model" });
    const ask = h("input", { id: "l-ask", type: "checkbox", checked: true });
    const status = h("p", { role: "status", class: "note" });
    const form = h(
      "form",
      { class: "card", "aria-labelledby": "launch-title" },
      h("h1", { id: "launch-title" }, "New session"),
      h("div", { class: "grid2" }, h("div", {}, field("l-root", "Project folder", root)), h("div", {}, field("l-harness", "Harness", harness))),
      h("div", { class: "grid2" }, h("div", {}, field("l-mode", "Mode", mode)), h("div", {}, field("l-title", "Title (optional)", title))),
      field("l-prompt", "Prompt", prompt),
      field("l-command", "Command (for the command harness)", command),
      field("l-model", "Model (optional)", model),
      h("label", { class: "inline", for: "l-ask" }, ask, "Ask me before the agent uses a tool (claude)"),
      h("div", { class: "actions" }, h("button", { type: "submit" }, "Launch")),
      status,
    );
    main.replaceChildren(form);
    api("GET", "/api/v1/health").then((health) => {
      const names = (health.capabilities && health.capabilities.harnesses) || ["claude", "codex", "command"];
      harness.replaceChildren(...names.map((n) => h("option", { value: n }, n)));
      harness.value = names.includes(last.harness) ? last.harness : names[0];
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { projectRoot: root.value.trim(), harness: harness.value };
      if (prompt.value.trim()) body.prompt = prompt.value;
      if (mode.value) body.launchMode = mode.value;
      if (title.value.trim()) body.title = title.value.trim();
      if (model.value.trim()) body.model = model.value.trim();
      if (harness.value === "command") body.command = splitArgs(command.value);
      if (harness.value === "claude" && ask.checked) body.permissionMode = "ask";
      if (harness.value === "claude" && mode.value === "nonInteractive") body.followUps = true;
      status.textContent = "Launching…";
      try {
        const record = await api("POST", "/api/v1/sessions", body);
        localStorage.setItem("coven.launch", JSON.stringify({ projectRoot: body.projectRoot, harness: body.harness }));
        ctx.go(`#/s/${encodeURIComponent(record.id)}`);
      } catch (error) {
        status.textContent = `Not launched: ${error.message}`;
      }
    });
    root.focus();
  };

  function splitArgs(text) {
    return [...text.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]);
  }

  // Run `refresh` now and every `ms` while the page is visible; returns the stop.
  C.poll = function poll(refresh, ms) {
    let timer = null;
    const tick = async () => {
      timer = null;
      if (document.visibilityState === "visible") await refresh();
      if (timer === null && !stopped) timer = setTimeout(tick, ms);
    };
    let stopped = false;
    const visible = () => document.visibilityState === "visible" && refresh();
    document.addEventListener("visibilitychange", visible);
    tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", visible);
    };
  };
})();
