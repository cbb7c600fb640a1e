// A small Markdown renderer that builds DOM nodes (never HTML strings): code fences,
// headings, lists, quotes, rules, paragraphs; inline code, bold, italics, links
// (http, https and mailto only).
"use strict";

(function () {
  const { h } = window.Coven;
  const INLINE = /(`+)([\s\S]*?)\1|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*)\*|_([^_\s][^_]*)_|\[([^\]]+)\]\(([^)\s]+)\)/g;

  function safeHref(url) {
    return /^(https?:|mailto:)/i.test(url) ? url : null;
  }

  function inline(text) {
    const out = [];
    let last = 0;
    for (const m of text.matchAll(INLINE)) {
      if (m.index > last) out.push(text.slice(last, m.index));
      if (m[1]) out.push(h("code", {}, m[2]));
      else if (m[3] || m[4]) out.push(h("strong", {}, inline(m[3] || m[4])));
      else if (m[5] || m[6]) out.push(h("em", {}, inline(m[5] || m[6])));
      else if (m[7]) {
        const href = safeHref(m[8]);
        out.push(href ? h("a", { href, rel: "noopener noreferrer", target: "_blank" }, inline(m[7])) : m[0]);
      }
      last = m.index + m[0].length;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }

  function render(source) {
    const root = document.createDocumentFragment();
    const lines = String(source || "").replace(/\r\n?/g, "\n").split("\n");
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      const fence = line.match(/^\s*(```|~~~)\s*([\w+-]*)/);
      if (fence) {
        const body = [];
        i += 1;
        while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
        i += 1;
        const code = h("code", fence[2] ? { class: `language-${fence[2]}` } : {}, body.join("\n"));
        root.append(h("pre", {}, code));
        continue;
      }
      const heading = line.match(/^(#{1,6})\s+(.*)$/);
      if (heading) {
        root.append(h(`h${Math.min(6, heading[1].length + 2)}`, {}, inline(heading[2])));
        i += 1;
        continue;
      }
      if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
        root.append(h("hr"));
        i += 1;
        continue;
      }
      if (/^\s*>/.test(line)) {
        const quoted = [];
        while (i < lines.length && /^\s*>/.test(lines[i])) quoted.push(lines[i++].replace(/^\s*>\s?/, ""));
        root.append(h("blockquote", {}, render(quoted.join("\n"))));
        continue;
      }
      const item = line.match(/^\s*([-*+]|\d+[.)])\s+(.*)$/);
      if (item) {
        const ordered = /\d/.test(item[1]);
        const list = h(ordered ? "ol" : "ul");
        while (i < lines.length) {
          const next = lines[i].match(/^\s*([-*+]|\d+[.)])\s+(.*)$/);
          if (!next || /\d/.test(next[1]) !== ordered) break;
          list.append(h("li", {}, inline(next[2])));
          i += 1;
        }
        root.append(list);
        continue;
      }
      if (!line.trim()) {
        i += 1;
        continue;
      }
      const para = [];
      while (i < lines.length && lines[i].trim() && !/^\s*(```|~~~|#{1,6}\s|>|[-*+]\s|\d+[.)]\s)/.test(lines[i])) {
        para.push(lines[i++]);
      }
      if (!para.length) para.push(lines[i++]);
      const p = h("p");
      para.forEach((text, n) => {
        if (n) p.append(h("br"));
        p.append(...inline(text));
      });
      root.append(p);
    }
    return root;
  }

  window.Coven.markdown = render;
})();
