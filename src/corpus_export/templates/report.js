"use strict";
(function () {
  let D = null; // the report's data, parsed when a tab first needs it
  function data() {
    if (D === null) D = JSON.parse(document.getElementById("report-data").textContent);
    return D;
  }
  const $ = (id) => document.getElementById(id);
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v;
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const k of kids) if (k !== null && k !== undefined) e.append(k);
    return e;
  }
  const fmt = (n) => (n === null || n === undefined ? "" : Number(n).toLocaleString("en-US"));
  const roleClass = (name) => "role-" + name.replace(/ /g, "-");

  // ---- tabs: buttons with ARIA roles; arrows, Home and End move between them
  const tabs = Array.from(document.querySelectorAll('[role="tab"]'));
  const drawn = {};
  function show(view, focus) {
    for (const t of tabs) {
      const on = t.dataset.view === view;
      t.setAttribute("aria-selected", on ? "true" : "false");
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !on;
      if (on && focus) t.focus();
    }
    if (!drawn[view] && draw[view]) {
      draw[view]();
      drawn[view] = true;
    }
  }
  $("tabs").addEventListener("click", (ev) => {
    const t = ev.target.closest('[role="tab"]');
    if (t) show(t.dataset.view, false);
  });
  $("tabs").addEventListener("keydown", (ev) => {
    const at = tabs.indexOf(document.activeElement);
    if (at < 0) return;
    const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[ev.key];
    if (to === undefined) return;
    ev.preventDefault();
    show(tabs[(to + tabs.length) % tabs.length].dataset.view, true);
  });

  // ---- Pages: a sortable, filterable, paged table of the rows the report holds
  const COLUMNS = [
    ["id", "id", false],
    ["title", "title", false],
    ["source", "source", false],
    ["author", "author", false],
    ["citations", "citations", true],
    ["paragraph_count", "paragraphs", true],
    ["body_chars", "body chars", true],
    ["teaser_count", "teasers", true],
    ["why", "shown as", false],
  ];
  // the columns of the export: a column built without (--drop) is not shown
  const columns = () => COLUMNS.filter(([key]) => !data().dropped.includes(key));
  const PER_PAGE = 50;
  const state = { key: "id", dir: 1, page: 0, rows: [] };

  function drawPages() {
    const d = data();
    $("pages-about").textContent =
      `${fmt(d.rows.length)} of the export's ${fmt(d.rows_total)} rows: a sample chosen by a ` +
      "hash of their ids, and the outliers. Enter or a click opens a row's page view.";
    const sources = new Map();
    const whys = new Set();
    for (const r of d.rows) {
      const s = r.source === null ? "" : r.source;
      sources.set(s, (sources.get(s) || 0) + 1);
      r.why.forEach((w) => whys.add(w));
    }
    const src = $("f-source");
    for (const [s, n] of Array.from(sources).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))) {
      src.append(el("option", { value: s === "" ? "\u0000" : s }, `${s === "" ? "(none)" : s} (${n})`));
    }
    for (const w of Array.from(whys).sort()) $("f-why").append(el("option", { value: w }, w));
    const head = document.querySelector("#rows-table thead tr");
    for (const [key, label] of columns()) {
      const b = el("button", { type: "button", "data-key": key }, label);
      b.addEventListener("click", () => {
        state.dir = state.key === key ? -state.dir : 1;
        state.key = key;
        state.page = 0;
        refresh();
      });
      head.append(el("th", { scope: "col", "data-key": key }, b));
    }
    for (const id of ["f-text", "f-source", "f-author", "f-min", "f-max", "f-why"]) {
      $(id).addEventListener("input", () => {
        state.page = 0;
        refresh();
      });
    }
    $("filters").addEventListener("submit", (ev) => ev.preventDefault());
    $("prev").addEventListener("click", () => {
      state.page--;
      drawRows();
    });
    $("next").addEventListener("click", () => {
      state.page++;
      drawRows();
    });
    const body = document.querySelector("#rows-table tbody");
    body.addEventListener("click", (ev) => {
      const tr = ev.target.closest("tr[data-id]");
      if (tr) openPage(tr.dataset.id);
    });
    body.addEventListener("keydown", (ev) => {
      const tr = ev.target.closest("tr[data-id]");
      if (!tr) return;
      if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        openPage(tr.dataset.id);
      } else if (ev.key === "ArrowDown" && tr.nextElementSibling) {
        ev.preventDefault();
        tr.nextElementSibling.focus();
      } else if (ev.key === "ArrowUp" && tr.previousElementSibling) {
        ev.preventDefault();
        tr.previousElementSibling.focus();
      }
    });
    refresh();
  }

  function matches(r) {
    const text = $("f-text").value.trim().toLowerCase();
    const source = $("f-source").value;
    const author = $("f-author").value;
    const min = $("f-min").value === "" ? -Infinity : Number($("f-min").value);
    const max = $("f-max").value === "" ? Infinity : Number($("f-max").value);
    const why = $("f-why").value;
    if (source && (source === "\u0000" ? r.source !== null : r.source !== source)) return false;
    if (author === "yes" && r.author === null) return false;
    if (author === "no" && r.author !== null) return false;
    if (r.body_chars < min || r.body_chars > max) return false;
    if (why && !r.why.includes(why)) return false;
    if (text) {
      const hay = [r.id, r.title, r.source, r.author, r.uploader].join("\u0001").toLowerCase();
      if (!hay.includes(text)) return false;
    }
    return true;
  }

  function compare(a, b) {
    let x = a[state.key];
    let y = b[state.key];
    if (Array.isArray(x)) x = x.join(",");
    if (Array.isArray(y)) y = y.join(",");
    if (x === y) return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    if (x === null) return 1; // missing values last, either way
    if (y === null) return -1;
    return (x < y ? -1 : 1) * state.dir;
  }

  function refresh() {
    state.rows = data().rows.filter(matches).sort(compare);
    for (const th of document.querySelectorAll("#rows-table th[data-key]")) {
      const on = th.dataset.key === state.key;
      if (on) th.setAttribute("aria-sort", state.dir > 0 ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    }
    drawRows();
  }

  function drawRows() {
    const rows = state.rows;
    const pages = Math.max(1, Math.ceil(rows.length / PER_PAGE));
    state.page = Math.min(Math.max(state.page, 0), pages - 1);
    const start = state.page * PER_PAGE;
    const body = document.querySelector("#rows-table tbody");
    body.replaceChildren();
    for (const r of rows.slice(start, start + PER_PAGE)) {
      const tr = el("tr", { tabindex: "0", "data-id": r.id });
      for (const [key, , numeric] of columns()) {
        let v = r[key];
        if (key === "why") v = el("span", {}, ...r.why.map((w) => el("span", { class: "tag" }, w)));
        else if (numeric) v = fmt(v);
        else if (v === null) v = el("span", { class: "missing" }, "(none)");
        tr.append(el("td", { class: numeric ? "num" : null, lang: key === "id" || numeric ? null : "zh" }, v));
      }
      body.append(tr);
    }
    $("pages-count").textContent = `${fmt(rows.length)} matching rows`;
    $("pager-at").textContent = rows.length
      ? `rows ${fmt(start + 1)}–${fmt(Math.min(start + PER_PAGE, rows.length))} of ${fmt(rows.length)}`
      : "no rows";
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page >= pages - 1;
  }

  // ---- Page view: the raw page, each line coloured by its role, beside the row's fields
  const FIELDS = ["id", "title", "source", "citations", "uploader", "author", "paragraph_count",
    "body_chars", "teaser_count", "sha256"];

  function openPage(id) {
    drawPage(id);
    drawn.page = true;
    show("page", false);
    const first = document.querySelector("#page-view ol.lines li");
    (first || $("page-view")).focus();
  }

  function drawPage(id) {
    const d = data();
    const page = d.pages[id];
    const view = $("page-view");
    view.replaceChildren();
    if (!page) {
      view.append(el("p", {}, `No page ${id} in this report.`));
      return;
    }
    const f = page.fields;
    const back = el("button", { type: "button" }, "← Pages");
    back.addEventListener("click", () => show("pages", true));
    view.append(el("div", { class: "pv-head" }, back, el("h3", { lang: "zh" }, f.title ?? id), el("code", {}, id)));
    if (page.note) view.append(el("p", { class: "note", role: "note" }, page.note));
    const legend = el("ul", { class: "legend", "aria-label": "Roles" });
    d.roles.forEach((name, i) => legend.append(el("li", { class: roleClass(name), title: d.role_docs[i] }, name)));
    view.append(legend);
    const box = el("p", { class: "rule-box note", id: "rule-box", "aria-live": "polite" },
      "Hover or focus a line (Up and Down move between lines) to see the rule that gave its role.");
    const lines = el("ol", { class: "lines", "aria-label": "The raw page, line by line" });
    page.lines.forEach(([n, role, rule, text], i) => {
      const name = d.roles[role];
      lines.append(el("li", {
        class: roleClass(name), "data-role": name, "data-rule": rule, "data-line": n,
        title: `line ${n}: ${name} (rule ${rule})`, tabindex: i === 0 ? "0" : "-1",
      }, el("span", { class: "ln" }, String(n)), el("span", { class: "rl" }, name),
      el("span", { class: "tx", lang: "zh" }, text)));
    });
    const explain = (li) => {
      if (!li) return;
      box.textContent = `Line ${li.dataset.line}: ${li.dataset.role}, by the rule ${li.dataset.rule}. ` +
        d.role_docs[d.roles.indexOf(li.dataset.role)];
    };
    lines.addEventListener("mouseover", (ev) => explain(ev.target.closest("li")));
    lines.addEventListener("focusin", (ev) => explain(ev.target.closest("li")));
    lines.addEventListener("keydown", (ev) => {
      const li = ev.target.closest("li");
      const to = { ArrowDown: li && li.nextElementSibling, ArrowUp: li && li.previousElementSibling,
        Home: lines.firstElementChild, End: lines.lastElementChild }[ev.key];
      if (!to) return;
      ev.preventDefault();
      li.tabIndex = -1;
      to.tabIndex = 0;
      to.focus();
    });
    const dl = el("dl", { class: "fields" });
    for (const k of FIELDS) {
      if (!(k in f)) continue; // dropped
      const v = f[k];
      dl.append(el("dt", {}, k), el("dd", { lang: "zh", "data-field": k },
        v === null ? el("span", { class: "missing" }, "(none)") : typeof v === "number" ? fmt(v) : v));
    }
    // a paragraph or teaser is its text, or the number of the page's line that holds it
    const text = (item) => (typeof item === "number" ? page.lines[item][3] : item);
    if (f.teasers) {
      const teasers = el("ol", {});
      f.teasers.forEach((t) => teasers.append(el("li", {}, text(t))));
      dl.append(el("dt", {}, "teasers"), el("dd", { lang: "zh", "data-field": "teasers" }, teasers));
    }
    if (f.body) {
      dl.append(el("dt", {}, "body"),
        el("dd", { lang: "zh", "data-field": "body" }, f.body.map(text).join("\n")));
    }
    const left = el("div", {}, el("h3", {}, "Raw page"), box);
    if (page.lines.length) left.append(lines);
    else left.append(el("p", {}, "(no lines to show)"));
    view.append(el("div", { class: "split" }, left, el("div", {}, el("h3", {}, "Row"), dl)));
  }

  // ---- Rejects: reason, detail and the first lines of the raw file
  function drawRejects() {
    const d = data();
    $("rejects-about").textContent =
      `${fmt(d.rejects.length)} of the export's ${fmt(d.rejects_total)} rejected files ` +
      "(taken from each reason in turn).";
    const counts = new Map();
    for (const r of d.rejects) counts.set(r.reason, (counts.get(r.reason) || 0) + 1);
    for (const [reason, n] of Array.from(counts).sort()) {
      $("r-reason").append(el("option", { value: reason }, `${reason} (${n})`));
    }
    $("r-reason").addEventListener("input", listRejects);
    listRejects();
  }

  function listRejects() {
    const want = $("r-reason").value;
    const list = $("rejects-list");
    list.replaceChildren();
    for (const r of data().rejects) {
      if (want && r.reason !== want) continue;
      const item = el("article", { class: "reject", tabindex: "0", "data-reason": r.reason },
        el("h3", {}, el("span", { class: "reason" }, r.reason), " ", el("code", {}, r.id)),
        el("p", {}, r.detail || "(no detail)"),
        el("p", { class: "meta" }, "path: ", el("code", {}, r.path)));
      if (r.note) item.append(el("p", { class: "note", role: "note" }, r.note));
      if (r.lines.length) item.append(el("pre", { class: "first-lines", lang: "zh" }, r.lines.join("\n")));
      list.append(item);
    }
    if (!list.children.length) list.append(el("p", {}, "No rejected files."));
  }

  // ---- Near-duplicates: each cluster's bodies side by side, differing characters marked
  function marked(runs) {
    const box = el("div", { class: "body-text", lang: "zh", tabindex: "0" });
    for (const [text, differs] of runs) box.append(differs ? el("mark", {}, text) : text);
    return box;
  }

  function drawNear() {
    const d = data();
    $("near-about").textContent =
      `${fmt(d.clusters.length)} of ${fmt(d.clusters_total)} clusters: the kept page's body ` +
      "beside each near-duplicate's, characters that differ marked" +
      (d.near_mode === "keep" ? " (kept as rows: built with --near-dups keep)." : " (rejected).");
    const list = $("near-list");
    for (const c of d.clusters) {
      const box = el("article", { class: "cluster", "data-kept": c.kept },
        el("h3", {}, "kept ", el("code", {}, c.kept), " ", el("span", { lang: "zh" }, c.title),
          ` — ${fmt(c.size)} near-duplicate(s)`));
      for (const m of c.members) {
        const pair = el("div", { class: "pair", "data-member": m.id },
          el("div", {}, el("h4", {}, "kept ", el("code", {}, c.kept)), marked(m.kept)),
          el("div", {}, el("h4", {}, "near-duplicate ", el("code", {}, m.id),
            m.similarity ? ` (similarity ${m.similarity})` : ""), marked(m.body)));
        if (m.note) box.append(el("p", { class: "note", role: "note" }, m.note));
        box.append(pair);
      }
      list.append(box);
    }
    if (!d.clusters.length) list.append(el("p", {}, "No near-duplicates in this export."));
  }

  const draw = { pages: drawPages, rejects: drawRejects, near: drawNear };
})();
