// One session: its header (status, harness, project, cost, worktree), cancel and kill,
// the conversation (or, for a PTY session, a terminal), a composer, and its diff.
"use strict";

(function () {
  const C = window.Coven;
  const { h, api } = C;

  C.views.session = function (main, ctx, id) {
    const path = `/api/v1/sessions/${encodeURIComponent(id)}`;
    const title = h("h1", {}, id);
    const badge = h("span", { class: "badge" }, "…");
    const meta = h("p", { class: "muted small" });
    const actions = h("div", { class: "actions" });
    const tabs = h("div", { class: "tabs", role: "tablist" });
    const body = h("div", { id: "session-body" });
    const composer = h("div");
    main.replaceChildren(h("p", {}, h("a", { href: "#/" }, "← Sessions")), h("div", { class: "head" }, title, badge), meta, actions, tabs, body, composer);
    const cleanups = [];
    let record = null;
    let cost = null;
    let built = false;

    const drawHeader = () => {
      title.textContent = record.title || record.id;
      badge.textContent = record.status;
      badge.className = `badge status-${record.status}`;
      const worktree = record.worktree;
      const known = C.costOf(record);
      if (known !== null) cost = known;
      meta.replaceChildren(
        `${record.harness} · `,
        h("span", { title: record.project_root }, record.project_root),
        record.launch_mode ? ` · ${record.launch_mode}` : "",
        ` · started ${C.ago(record.created_at)}`,
        cost !== null ? ` · cost ${C.money(cost)}` : "",
        worktree ? ` · worktree ${worktree.branch || ""} ${worktree.path ? `(${worktree.path})` : ""}` : "",
      );
      const live = C.LIVE.has(record.status);
      actions.replaceChildren();
      if (ctx.me.control && live) {
        if (!C.isPty(record)) actions.append(h("button", { type: "button", class: "quiet", onclick: cancel }, "Cancel turn"));
        actions.append(killButton());
      }
      if (!live) composer.replaceChildren();
    };

    const killButton = () => {
      const button = h("button", { type: "button", class: "danger", id: "kill" }, "Kill");
      let armed = false;
      button.addEventListener("click", async () => {
        if (!armed) {
          armed = true;
          button.textContent = "Really kill?";
          setTimeout(() => {
            armed = false;
            button.textContent = "Kill";
          }, 5000);
          return;
        }
        button.disabled = true;
        try {
          await api("POST", `${path}/kill`, {});
          C.toast("Kill sent.");
        } catch (error) {
          C.toast(`Not killed: ${error.message}`);
        }
        refresh();
      });
      return button;
    };

    const cancel = async () => {
      try {
        const answer = await api("POST", `/eve/v1/session/${encodeURIComponent(id)}/cancel`, {});
        C.toast(answer.status === "no_active_turn" ? "No turn is running." : "Cancel sent.");
      } catch (error) {
        C.toast(`Not cancelled: ${error.message}`);
      }
    };

    const build = () => {
      built = true;
      const pty = C.isPty(record);
      const panes = { main: h("div", { role: "tabpanel" }) };
      const tabButtons = [[pty ? "Terminal" : "Conversation", "main"]];
      if (record.worktree) {
        panes.diff = h("div", { role: "tabpanel", hidden: true });
        tabButtons.push(["Diff", "diff"]);
      }
      const select = (key) => {
        for (const [name, pane] of Object.entries(panes)) pane.hidden = name !== key;
        for (const b of tabs.children) b.setAttribute("aria-selected", String(b.dataset.pane === key));
        if (key === "diff") loadDiff(panes.diff);
      };
      tabs.replaceChildren(...tabButtons.map(([label, key]) => h("button", { type: "button", role: "tab", "data-pane": key, onclick: () => select(key) }, label)));
      tabs.hidden = tabButtons.length < 2;
      body.replaceChildren(...Object.values(panes));
      select("main");
      const live = C.LIVE.has(record.status);
      if (pty) {
        const box = h("div", { class: "terminal", id: "terminal" });
        panes.main.append(box);
        const terminal = C.openTerminal(box, record, { canControl: ctx.me.control && live, onEnd: refresh });
        cleanups.push(() => terminal.close());
        return;
      }
      const list = h("div", { class: "conversation", "aria-live": "polite", "aria-relevant": "additions" });
      panes.main.append(list);
      const conversation = new C.Conversation(list, {
        canControl: ctx.me.control,
        answer: (request, answer) => C.respond(id, request, answer),
        onCost: (total) => {
          cost = total;
          if (record) drawHeader();
        },
        onEnd: refresh,
      });
      const abort = new AbortController();
      cleanups.push(() => abort.abort());
      (async () => {
        for (;;) {
          try {
            const from = `/eve/v1/session/${encodeURIComponent(id)}/stream?startIndex=${conversation.count}`;
            await C.follow(from, (line) => conversation.add(line), abort.signal, ctx.me.control);
            return; // the journal closed: the session ended
          } catch (error) {
            if (abort.signal.aborted || error.status === 401 || error.status === 404) return;
            await new Promise((resolve) => setTimeout(resolve, 2000));
          }
        }
      })();
      if (ctx.me.control && live) composer.replaceChildren(makeComposer());
    };

    const makeComposer = () => {
      const text = h("textarea", { id: "composer", rows: 3, placeholder: "Message the agent (Ctrl+Enter sends)" });
      const status = h("span", { class: "note", role: "status" });
      const form = h(
        "form",
        { class: "composer", "aria-label": "Send a message" },
        h("label", { for: "composer", class: "small" }, "Message"),
        text,
        h("div", { class: "row" }, h("button", { type: "submit" }, "Send"), status),
      );
      const submit = async () => {
        const data = text.value;
        if (!data.trim()) return;
        status.textContent = "Sending…";
        try {
          await api("POST", `${path}/input`, { data });
          text.value = "";
          status.textContent = "Sent.";
        } catch (error) {
          status.textContent = error.code === "turn_active" ? "The agent is busy: send when its turn ends." : `Not sent: ${error.message}`;
        }
      };
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        submit();
      });
      text.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          submit();
        }
      });
      return form;
    };

    const loadDiff = async (pane) => {
      pane.replaceChildren(h("p", { class: "muted" }, "Loading the diff…"));
      try {
        const diff = await api("GET", `${path}/diff?format=patch`);
        const stat = diff.stat || {};
        const lines = String(diff.patch || "").split("\n");
        const pre = h("pre", { class: "diff" }, lines.map((line) => {
          const kind = line.startsWith("+") && !line.startsWith("+++") ? "add" : line.startsWith("-") && !line.startsWith("---") ? "del" : line.startsWith("@@") ? "hunk" : "";
          return h("span", { class: kind }, `${line}\n`);
        }));
        pane.replaceChildren(
          h("p", {}, `${stat.filesChanged ?? 0} files changed, +${stat.insertions ?? 0} −${stat.deletions ?? 0}`),
          h("ul", { class: "small" }, (stat.files || []).map((f) => h("li", {}, `${f.change} ${f.path}`))),
          pre,
        );
      } catch (error) {
        pane.replaceChildren(h("p", { class: "muted" }, error.status === 404 ? "No diff for this session." : error.message));
      }
    };

    const refresh = async () => {
      try {
        record = await api("GET", path);
      } catch (error) {
        if (error.status === 404) main.replaceChildren(h("h1", {}, "No such session"), h("p", {}, h("a", { href: "#/" }, "Back to the sessions")));
        return;
      }
      drawHeader();
      if (!built) build();
    };
    cleanups.push(C.poll(refresh, 3000));
    return () => cleanups.forEach((f) => f());
  };
})();
