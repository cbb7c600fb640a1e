// The dashboard's start: trade a token (or a pairing code) from the URL's fragment for a
// cookie, learn what we may do, then route #/…: the list, a session, a launch form.
"use strict";

(function () {
  const C = window.Coven;
  const { api } = C;
  const main = document.getElementById("main");
  let cleanup = null;
  const ctx = { me: null, go: (hash) => (location.hash = hash), restart: () => start() };

  function route() {
    if (cleanup) cleanup();
    cleanup = null;
    if (!ctx.me) return;
    const hash = location.hash || "#/";
    const session = hash.match(/^#\/s\/([^/]+)$/);
    if (session) cleanup = C.views.session(main, ctx, decodeURIComponent(session[1]));
    else if (hash === "#/new" && ctx.me.control) cleanup = C.views.launch(main, ctx);
    else cleanup = C.views.sessions(main, ctx);
    main.focus({ preventScroll: true });
  }

  async function start() {
    const fragment = new URLSearchParams(location.hash.slice(1));
    const token = fragment.get("token");
    const code = fragment.get("pair");
    if (token || code) history.replaceState(null, "", `${location.pathname}#/`); // out of history and sight
    if (token) {
      try {
        await api("POST", "/_/login", { token });
      } catch (error) {
        C.toast(`Login failed: ${error.message}`);
      }
    }
    try {
      ctx.me = await api("GET", "/_/whoami");
    } catch (error) {
      ctx.me = null;
      document.getElementById("scope").hidden = true;
      document.getElementById("logout").hidden = true;
      C.views.login(main, ctx, code);
      return;
    }
    const scope = document.getElementById("scope");
    scope.textContent = ctx.me.control ? "control" : "observe only";
    scope.hidden = false;
    document.getElementById("nav-new").hidden = !ctx.me.control;
    document.getElementById("logout").hidden = false;
    route();
  }

  C.onUnauthorized = () => {
    if (ctx.me) {
      ctx.me = null;
      if (cleanup) cleanup();
      cleanup = null;
      C.views.login(main, ctx, null);
    }
  };

  document.getElementById("logout").addEventListener("click", async () => {
    await api("POST", "/_/logout", {}).catch(() => {});
    ctx.me = null;
    start();
  });
  window.addEventListener("hashchange", () => {
    if (/^#(token|pair)=/.test(location.hash)) start();
    else route();
  });
  start();
})();
