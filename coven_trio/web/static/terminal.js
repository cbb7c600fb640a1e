// A PTY session as a real terminal (xterm.js). With control: the session's WebSocket
// (output in, keystrokes and window size out). Observing: its eve stream, read-only.
"use strict";

(function () {
  const C = window.Coven;

  function openTerminal(container, record, { canControl, onEnd }) {
    const term = new window.Terminal({
      cursorBlink: canControl,
      disableStdin: !canControl,
      fontFamily: 'ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace',
      fontSize: 14,
      scrollback: 5000,
      screenReaderMode: false,
    });
    const fit = new window.FitAddon.FitAddon();
    term.loadAddon(fit);
    term.open(container);
    fit.fit();
    const textarea = container.querySelector("textarea");
    if (textarea) textarea.setAttribute("aria-label", "Terminal input");
    const ended = (type) => {
      term.write(`\r\n\x1b[2m[session ${type === "session.failed" ? "failed" : "ended"}]\x1b[0m\r\n`);
      if (onEnd) onEnd(type);
    };
    const onLine = (line) => {
      if (line.type === "output") term.write((line.data && line.data.data) || "");
      else if (line.type === "session.completed" || line.type === "session.failed") ended(line.type);
      else if (line.type === "error") C.toast(line.error ? line.error.message : "error");
    };
    const closers = [];
    const refit = () => fit.fit();
    window.addEventListener("resize", refit);
    closers.push(() => window.removeEventListener("resize", refit));

    if (canControl) {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      const ws = new WebSocket(`${scheme}//${location.host}/api/v1/sessions/${encodeURIComponent(record.id)}/ws?startIndex=0`);
      const send = (message) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
      };
      ws.addEventListener("message", (event) => onLine(JSON.parse(event.data)));
      ws.addEventListener("open", () => {
        send({ type: "resize", cols: term.cols, rows: term.rows });
        term.focus();
      });
      ws.addEventListener("close", () => container.setAttribute("data-closed", "true"));
      const input = term.onData((data) => send({ type: "input", data }));
      const resize = term.onResize(({ cols, rows }) => send({ type: "resize", cols, rows }));
      closers.push(() => ws.close(), () => input.dispose(), () => resize.dispose());
    } else {
      const abort = new AbortController();
      C.follow(`/eve/v1/session/${encodeURIComponent(record.id)}/stream`, onLine, abort.signal).catch(() => {});
      closers.push(() => abort.abort());
    }
    return {
      term,
      close() {
        for (const close of closers) close();
        term.dispose();
      },
    };
  }

  C.openTerminal = openTerminal;
})();
