// A dashboard page (/d/<uid>[/<slug>]): the dashboard file's JSON drawn like Grafana draws it.
// The toolbar (title, dashboard links, time and refresh), the variables bar synced with the URL's
// var-<name> params, rows that collapse, the 24-column grid from gridPos, and each panel's frame
// (title, description, links, states) with its drawing left to panels/<type>.js.
//
// A panel module exports `render(el, panel, frames, ctx)`: `frames` is {refId: Frame} as
// /api/ds/query answers, `ctx` is {from, to, fromMs, toMs, variables, navigate, units, interval}.
// The module draws into `el` (emptied before each call; called again on refresh and on resize).

import { api, navigate, resolveRange, setQuery, showError, timeControls, refreshMs } from "./app.js";
import * as units from "./units.js";

const ALL = "$__all";
// Grafana's type names to the console's module files.
const MODULE_NAMES = { "state-timeline": "statetimeline", nodeGraph: "nodegraph", timeseries: "timeseries", stat: "stat", table: "table", heatmap: "heatmap", logs: "logs", traces: "traces", text: "text" };

// Small inline icons: the fonts on a bare machine have no glyphs for ⓘ or 🔗.
const ICONS = {
  info: '<svg width="14" height="14" viewBox="0 0 16 16" aria-hidden="true"><circle cx="8" cy="8" r="6.5" fill="none" stroke="currentColor" stroke-width="1.3"/><rect x="7.3" y="7" width="1.4" height="4.5" fill="currentColor"/><circle cx="8" cy="5" r="0.9" fill="currentColor"/></svg>',
  link: '<svg width="14" height="14" viewBox="0 0 16 16" aria-hidden="true"><path d="M6.5 9.5l3-3M7 4.5l1.2-1.2a2.5 2.5 0 013.5 3.5L10.5 8M9 11.5l-1.2 1.2a2.5 2.5 0 01-3.5-3.5L5.5 8" fill="none" stroke="currentColor" stroke-width="1.4" stroke-linecap="round"/></svg>',
};

function icon(name) {
  const span = document.createElement("span");
  span.className = "icon";
  span.innerHTML = ICONS[name];
  return span;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

// ---- variables ----

// A datasource variable's options come from the server (what production provisions): the stores local
// mode lacks are listed disabled, "production only".
function variableOptions(v) {
  if (Array.isArray(v.options) && v.options.length) return v.options.map((o) => ({ text: String(o.text ?? o.value), value: String(o.value), disabled: !!o.disabled }));
  if (v.type === "custom" && typeof v.query === "string") {
    return v.query
      .split(/(?<!\\),/)
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => {
        const m = /^(.*?)\s*:\s*(.*)$/.exec(s);
        return m && !s.includes("://") ? { text: m[1], value: m[2] } : { text: s, value: s };
      });
  }
  const current = v.current && v.current.value;
  const values = Array.isArray(current) ? current : current ? [current] : [];
  return values.filter((x) => x !== ALL).map((x) => ({ text: String(x), value: String(x) }));
}

function defaultValues(v) {
  const current = v.current && v.current.value;
  let values = Array.isArray(current) ? current.map(String) : current !== undefined && current !== null && current !== "" ? [String(current)] : [];
  if (values.includes("$__all") || (v.current && v.current.text === "All")) values = [ALL];
  if (!values.length) {
    if (v.includeAll) values = [ALL];
    else {
      const options = variableOptions(v);
      if (options.length) values = [options[0].value];
    }
  }
  return values;
}

function readVariables(dashboard, query) {
  const out = {};
  for (const v of (dashboard.templating && dashboard.templating.list) || []) {
    if (!v.name || v.type === "constant" || v.type === "interval") {
      if (v.name && v.current && v.current.value !== undefined) out[v.name] = [].concat(v.current.value).map(String);
      continue;
    }
    const fromUrl = query.getAll(`var-${v.name}`);
    let values = fromUrl.length ? fromUrl : defaultValues(v);
    if (values.includes(ALL) || values.includes("All")) values = v.includeAll ? [ALL] : defaultValues(v);
    if (!v.multi && values.length > 1) values = [values[0]];
    out[v.name] = values;
  }
  return out;
}

function variablesBar(dashboard, state, onChange) {
  const list = ((dashboard.templating && dashboard.templating.list) || []).filter((v) => v.name && v.hide !== 2 && ["custom", "query", "textbox", "datasource"].includes(v.type));
  if (!list.length) return null;
  const bar = el("div", { class: "variables", role: "group", "aria-label": "Dashboard variables" });
  for (const v of list) {
    const id = `var-${v.name}`;
    const labelText = v.label || v.name;
    const wrap = el("div", { class: "variable", "data-variable": v.name });
    const options = variableOptions(v);
    const selected = state.variables[v.name] || [];
    if (v.type === "textbox") {
      const input = el("input", { id, value: selected[0] || "" });
      input.addEventListener("change", () => onChange(v.name, [input.value]));
      wrap.append(el("label", { for: id, text: labelText }), input);
    } else if (!v.multi) {
      const select = el("select", { id, title: v.description || null });
      if (v.includeAll) select.append(el("option", { value: ALL, text: "All" }));
      for (const o of options) select.append(el("option", { value: o.value, text: o.text, disabled: o.disabled }));
      if (selected[0] && ![...select.options].some((o) => o.value === selected[0])) select.append(el("option", { value: selected[0], text: selected[0] }));
      select.value = selected[0] ?? "";
      select.addEventListener("change", () => onChange(v.name, [select.value]));
      wrap.append(el("label", { for: id, text: labelText }), select);
    } else {
      const details = el("details", { class: "var-multi dropdown" });
      const isAll = selected.includes(ALL);
      const summaryText = isAll ? "All" : selected.map((s) => (options.find((o) => o.value === s) || { text: s }).text).join(" + ") || "None";
      const summary = el("summary", { id, "aria-label": `${labelText}: ${summaryText}` }, summaryText);
      const fieldset = el("fieldset", {}, el("legend", { class: "visually-hidden", text: labelText }));
      const boxes = [];
      // Like Grafana's picker, the choice applies when the list closes (the page redraws then).
      const chosenNow = () => {
        if (boxes[0] && boxes[0].value === ALL && boxes[0].checked) return [ALL];
        const chosen = boxes.filter((b) => b.checked && b.value !== ALL).map((b) => b.value);
        return chosen.length ? chosen : v.includeAll ? [ALL] : [options[0]?.value].filter(Boolean);
      };
      details.addEventListener("toggle", () => {
        if (details.open) return;
        const next = chosenNow();
        if (next.join("\u0000") !== selected.join("\u0000")) onChange(v.name, next);
      });
      if (v.includeAll) {
        const all = el("input", { type: "checkbox", value: ALL });
        all.checked = isAll;
        all.addEventListener("change", () => {
          if (all.checked) for (const b of boxes) b.checked = b === all;
        });
        boxes.push(all);
        fieldset.append(el("label", {}, all, "All"));
      }
      for (const o of options) {
        const box = el("input", { type: "checkbox", value: o.value });
        box.checked = !isAll && selected.includes(o.value);
        box.addEventListener("change", () => {
          if (box.checked && boxes[0] && boxes[0].value === ALL) boxes[0].checked = false;
        });
        boxes.push(box);
        fieldset.append(el("label", {}, box, o.text));
      }
      details.addEventListener("keydown", (event) => {
        if (event.key === "Escape" && details.open) {
          details.open = false;
          summary.focus();
        }
      });
      details.append(summary, fieldset);
      wrap.append(el("span", { class: "var-label", text: labelText }), details);
    }
    bar.append(wrap);
  }
  return bar;
}

// ---- links ----

function interpolateUrl(url, state) {
  return url.replace(/\$\{?(\w+)(?::\w+)?\}?/g, (whole, name) => {
    const values = state.variables[name];
    if (!values) return whole;
    return values.map(encodeURIComponent).join(",");
  });
}

function linkUrl(link, state) {
  let url = interpolateUrl(link.url || "", state);
  const extra = new URLSearchParams();
  if (link.keepTime) {
    extra.set("from", state.from);
    extra.set("to", state.to);
  }
  if (link.includeVars) {
    for (const [name, values] of Object.entries(state.variables)) for (const v of values) extra.append(`var-${name}`, v);
  }
  const tail = extra.toString();
  if (tail) url += (url.includes("?") ? "&" : "?") + tail;
  return url;
}

function dashboardLinks(dashboard, state, searchResults) {
  const links = dashboard.links || [];
  if (!links.length) return null;
  const box = el("nav", { class: "dash-links", "aria-label": "Dashboard links" });
  for (const link of links) {
    if (link.type === "dashboards") {
      const tags = link.tags || [];
      const matching = (searchResults || []).filter((d) => d.uid !== dashboard.uid && tags.every((t) => (d.tags || []).includes(t)));
      const toUrl = (d) => {
        const params = new URLSearchParams();
        if (link.keepTime) {
          params.set("from", state.from);
          params.set("to", state.to);
        }
        if (link.includeVars) for (const [n, vs] of Object.entries(state.variables)) for (const v of vs) params.append(`var-${n}`, v);
        const q = params.toString();
        return d.url + (q ? `?${q}` : "");
      };
      if (link.asDropdown) {
        const details = el("details", { class: "dropdown" }, el("summary", { text: `${link.title || "Dashboards"} ▾` }));
        const ul = el("ul");
        for (const d of matching) ul.append(el("li", {}, el("a", { href: toUrl(d), text: d.title })));
        details.append(ul);
        details.addEventListener("keydown", (e) => {
          if (e.key === "Escape") details.open = false;
        });
        box.append(details);
      } else {
        for (const d of matching) box.append(el("a", { href: toUrl(d), text: d.title }));
      }
    } else {
      box.append(el("a", { href: linkUrl(link, state), title: link.tooltip || null, target: link.targetBlank ? "_blank" : null, rel: link.targetBlank ? "noopener" : null, text: link.title || link.url }));
    }
  }
  return box;
}

// ---- layout ----

// Sections: the panels before the first row, then each row with its panels (nested in the row
// when it is saved collapsed, following it in the list when not).
function sections(panels) {
  const sorted = [...panels].sort((a, b) => (a.gridPos?.y ?? 0) - (b.gridPos?.y ?? 0) || (a.gridPos?.x ?? 0) - (b.gridPos?.x ?? 0));
  const out = [{ row: null, panels: [] }];
  for (const p of sorted) {
    if (p.type === "row") out.push({ row: p, panels: [...(p.panels || [])], collapsed: !!p.collapsed });
    else out[out.length - 1].panels.push(p);
  }
  return out.filter((s) => s.row || s.panels.length);
}

function findPanel(panels, id) {
  for (const p of panels) {
    if (String(p.id) === String(id)) return p;
    if (p.panels) {
      const inner = findPanel(p.panels, id);
      if (inner) return inner;
    }
  }
  return null;
}

function frameIsEmpty(frame) {
  switch (frame.kind) {
    case "series":
      return !(frame.series || []).some((s) => (s.points || []).some((p) => p[1] !== null && p[1] !== undefined));
    case "table":
      return !(frame.rows || []).length;
    case "logs":
      return !(frame.lines || []).length;
    case "traces":
      return !(frame.traces || []).length;
    case "graph":
      return !(frame.nodes || []).length;
    default:
      return true;
  }
}

function moduleFor(panel) {
  const ds = panel.datasource && panel.datasource.type;
  if (panel.type === "table" && ds === "tempo") return "traces";
  return MODULE_NAMES[panel.type] || panel.type.replace(/[^a-zA-Z0-9]/g, "").toLowerCase();
}

const moduleCache = new Map();
function loadModule(name) {
  if (!moduleCache.has(name)) {
    const promise = import(`./panels/${name}.js`);
    promise.catch(() => moduleCache.delete(name));
    moduleCache.set(name, promise);
  }
  return moduleCache.get(name);
}

// ---- the page ----

export async function mount(root, params, query) {
  const uid = params.uid;
  root.classList.add("dashboard-page");
  root.append(el("p", { class: "page-loading", text: "Loading dashboard…" }));
  let answer;
  let searchResults = [];
  try {
    [answer, searchResults] = await Promise.all([api(`/api/dashboards/uid/${encodeURIComponent(uid)}`), api("/api/search").catch(() => [])]);
  } catch (err) {
    document.title = "Dashboard not found · airscope console";
    showError(root, err.message, err.status === 404 ? "Dashboard not found" : "The dashboard did not load");
    return undefined;
  }
  const dashboard = answer.dashboard;
  const meta = answer.meta || {};
  document.title = `${dashboard.title} · airscope console`;

  const state = {
    from: query.get("from") || (dashboard.time && dashboard.time.from) || "now-6h",
    to: query.get("to") || (dashboard.time && dashboard.time.to) || "now",
    refresh: query.has("refresh") ? query.get("refresh") : dashboard.refresh || "",
    variables: readVariables(dashboard, query),
    viewPanel: query.get("viewPanel"),
  };
  let timer = null;
  let alive = true;
  const panelViews = []; // {panel, body, frame element, frames, module}
  let generation = 0;

  function urlQuery() {
    const q = new URLSearchParams();
    for (const [name, values] of Object.entries(state.variables)) {
      const v = ((dashboard.templating && dashboard.templating.list) || []).find((x) => x.name === name);
      if (v && (v.type === "constant" || v.type === "interval" || v.skipUrlSync)) continue;
      for (const value of values) q.append(`var-${name}`, value);
    }
    q.set("from", state.from);
    q.set("to", state.to);
    if (state.refresh) q.set("refresh", state.refresh);
    if (state.viewPanel) q.set("viewPanel", state.viewPanel);
    return q;
  }

  function schedule() {
    if (timer) clearInterval(timer);
    timer = null;
    const ms = refreshMs(state.refresh);
    if (ms) timer = setInterval(() => runAll(false), Math.max(ms, 5000));
  }

  // ---- panel frames ----

  function panelFrame(panel) {
    const id = panel.id;
    const titleId = `panel-title-${id}`;
    const section = el("section", {
      class: `panel${panel.transparent ? " transparent" : ""}`,
      "data-panel-id": id,
      "data-panel-type": panel.type,
      "aria-labelledby": titleId,
      "aria-busy": "true",
    });
    const header = el("header", { class: "panel-header" });
    header.append(el("h2", { class: "panel-title", id: titleId, text: interpolateUrl(panel.title || "", state) || " " }));
    if (panel.description) {
      const tip = el("span", { class: "tooltip", role: "tooltip", id: `panel-desc-${id}`, text: panel.description });
      header.append(el("button", { type: "button", class: "panel-info", "aria-label": `About ${panel.title}`, "aria-describedby": `panel-desc-${id}` }, icon("info"), tip));
    }
    if (panel.links && panel.links.length) {
      const details = el("details", { class: "panel-links dropdown" }, el("summary", { "aria-label": `Links of ${panel.title}`, title: "Panel links" }, icon("link")));
      const ul = el("ul");
      for (const link of panel.links) ul.append(el("li", {}, el("a", { href: linkUrl(link, state), target: link.targetBlank ? "_blank" : null, rel: link.targetBlank ? "noopener" : null, text: link.title || link.url })));
      details.append(ul);
      details.addEventListener("keydown", (e) => {
        if (e.key === "Escape") details.open = false;
      });
      header.append(details);
    }
    header.append(el("span", { class: "spacer" }));
    const warn = el("span", { class: "panel-warn-holder" });
    header.append(warn);
    const viewQuery = urlQuery();
    if (state.viewPanel) viewQuery.delete("viewPanel");
    else viewQuery.set("viewPanel", String(id));
    header.append(
      el("a", { class: "panel-view", href: `${location.pathname}?${viewQuery}`, "aria-label": state.viewPanel ? `Back to the dashboard from ${panel.title}` : `View ${panel.title} full size`, title: state.viewPanel ? "Back to dashboard (Esc)" : "View" }, state.viewPanel ? "✕" : "⤢"),
    );
    const body = el("div", { class: "panel-body" });
    body.append(el("div", { class: "panel-state loading", "aria-label": "Loading" }, el("div", { class: "spinner" })));
    section.append(header, body);
    const view = { panel, section, body, warn, frames: null, module: null };
    panelViews.push(view);
    return section;
  }

  function setState(view, value) {
    view.section.dataset.state = value;
    view.section.removeAttribute("aria-busy");
  }

  function message(view, cls, text) {
    view.body.replaceChildren(el("div", { class: `panel-state ${cls}`, role: cls === "error" ? "alert" : null, text }));
  }

  function ctx() {
    let range;
    try {
      range = resolveRange(state.from, state.to);
    } catch {
      range = { fromMs: Date.now() - 3600000, toMs: Date.now() };
    }
    return { from: state.from, to: state.to, fromMs: range.fromMs, toMs: range.toMs, variables: state.variables, navigate, units, dashboard: dashboard.uid };
  }

  function draw(view) {
    const { panel, frames } = view;
    const list = Object.values(frames || {});
    const errors = list.filter((f) => f.kind === "error");
    const unsupported = list.filter((f) => f.kind === "unsupported");
    const withData = list.filter((f) => !["error", "unsupported"].includes(f.kind) && !frameIsEmpty(f));
    view.warn.replaceChildren();
    if (errors.length && !withData.length) {
      message(view, "error", errors.map((f) => f.message).join("\n"));
      setState(view, "error");
      return;
    }
    if (unsupported.length && !withData.length) {
      message(view, "unsupported", unsupported.map((f) => f.message).join("\n"));
      setState(view, "unsupported");
      return;
    }
    if (!withData.length) {
      // Grafana's "No value" option (fieldConfig.defaults.noValue) says what an empty panel means.
      message(view, "empty", panel.fieldConfig?.defaults?.noValue || "No data");
      setState(view, "empty");
      return;
    }
    if (errors.length || unsupported.length) {
      // Grafana's corner warning: some targets failed while others drew.
      const text = [...errors, ...unsupported].map((f) => f.message).join("\n");
      const tipId = `panel-warn-${panel.id}`;
      view.warn.append(el("button", { type: "button", class: "panel-warn", "aria-label": "Some queries failed", "aria-describedby": tipId }, "⚠", el("span", { class: "tooltip", role: "tooltip", id: tipId, text })));
    }
    const content = el("div", { class: "panel-content", style: "height:100%" });
    view.body.replaceChildren(content);
    try {
      view.module.render(content, panel, frames, { ...ctx(), interval: view.interval });
      setState(view, errors.length ? "error" : "data");
    } catch (err) {
      console.error(`panel ${panel.id} (${panel.type}) failed to draw`, err);
      message(view, "error", `This panel failed to draw: ${err.message}`);
      setState(view, "error");
    }
  }

  async function run(view, first, gen) {
    const { panel } = view;
    const name = moduleFor(panel);
    let modulePromise = null;
    if (!view.module) modulePromise = loadModule(name);
    const width = Math.max(100, Math.round(view.body.clientWidth || 600));
    let answerQ;
    try {
      const [result, module] = await Promise.all([
        api("/api/ds/query", { json: { dashboard: dashboard.uid, panelId: panel.id, from: state.from, to: state.to, variables: state.variables, maxDataPoints: panel.maxDataPoints || width } }),
        modulePromise,
      ]);
      answerQ = result;
      if (module) view.module = module;
    } catch (err) {
      if (!alive || gen !== generation) return;
      if (!view.module && err.status === undefined) {
        message(view, "error", `The ${panel.type} panel's code did not load: ${err.message}`);
      } else {
        message(view, "error", err.message);
      }
      setState(view, "error");
      return;
    }
    if (!alive || gen !== generation) return;
    view.frames = (answerQ && answerQ.results) || {};
    view.interval = answerQ && answerQ.interval;
    draw(view);
    if (first) view.section.removeAttribute("aria-busy");
  }

  function runAll(first) {
    generation += 1;
    const gen = generation;
    for (const view of panelViews) {
      if (view.section.isConnected && !view.section.closest("[hidden]")) run(view, first, gen);
      else view.stale = true;
    }
  }

  // ---- build ----

  const page = el("div", { class: state.viewPanel ? "view-panel" : "" });
  function build() {
    panelViews.length = 0;
    page.className = state.viewPanel ? "view-panel" : "";
    const toolbar = el("div", { class: "toolbar" });
    toolbar.append(el("h1", {}, el("a", { href: "/dashboards", class: "crumb", text: "Dashboards" }), el("span", { class: "crumb", text: " / " }), dashboard.title));
    const links = dashboardLinks(dashboard, state, searchResults);
    if (links) toolbar.append(links);
    toolbar.append(
      timeControls({
        from: state.from,
        to: state.to,
        refresh: state.refresh,
        onChange: (next) => {
          state.from = next.from;
          state.to = next.to;
          state.refresh = next.refresh;
          setQuery(urlQuery(), { replace: false });
          build();
          schedule();
        },
        onRefresh: () => runAll(false),
      }),
    );
    const parts = [toolbar];
    const bar = variablesBar(dashboard, state, (name, values) => {
      state.variables[name] = values;
      setQuery(urlQuery(), { replace: false });
      build();
    });
    if (bar) parts.push(bar);

    if (state.viewPanel) {
      const panel = findPanel(dashboard.panels || [], state.viewPanel);
      if (!panel) {
        parts.push(el("p", { class: "page-error", role: "alert", text: `This dashboard has no panel ${state.viewPanel}.` }));
      } else {
        const grid = el("div", { class: "grid" });
        const frame = panelFrame(panel);
        frame.style.gridColumn = "1 / span 24";
        grid.append(frame);
        parts.push(grid);
      }
    } else {
      for (const section of sections(dashboard.panels || [])) {
        const wrap = el("div", { class: "dash-row" });
        const grid = el("div", { class: "grid" });
        const baseY = Math.min(...section.panels.map((p) => p.gridPos?.y ?? 0), Infinity);
        for (const panel of section.panels) {
          const g = panel.gridPos || { x: 0, y: 0, w: 12, h: 8 };
          const frame = panelFrame(panel);
          frame.style.gridColumn = `${(g.x || 0) + 1} / span ${Math.min(24, g.w || 12)}`;
          frame.style.gridRow = `${(g.y || 0) - (Number.isFinite(baseY) ? baseY : 0) + 1} / span ${g.h || 8}`;
          grid.append(frame);
        }
        if (section.row) {
          const gridId = `row-${section.row.id}`;
          grid.id = gridId;
          grid.hidden = section.collapsed;
          const toggle = el(
            "button",
            { type: "button", class: "row-toggle", "aria-expanded": String(!section.collapsed), "aria-controls": gridId, "data-row-id": section.row.id },
            el("span", { class: "chevron", "aria-hidden": "true", text: "▼" }),
            interpolateUrl(section.row.title || "", state),
          );
          const count = el("span", { class: "row-count", text: section.collapsed ? `(${section.panels.length} panels)` : "" });
          toggle.addEventListener("click", () => {
            section.collapsed = !section.collapsed;
            grid.hidden = section.collapsed;
            toggle.setAttribute("aria-expanded", String(!section.collapsed));
            count.textContent = section.collapsed ? `(${section.panels.length} panels)` : "";
            if (!section.collapsed) {
              for (const view of panelViews) {
                if (grid.contains(view.section) && (view.stale || !view.frames)) {
                  view.stale = false;
                  run(view, true, generation);
                } else if (grid.contains(view.section) && view.frames) draw(view);
              }
            }
          });
          wrap.append(el("div", { class: "row-header" }, el("h2", { style: "margin:0" }, toggle), count));
        }
        wrap.append(grid);
        parts.push(wrap);
      }
    }
    page.replaceChildren(...parts);
    runAll(true);
  }

  root.replaceChildren(page);
  build();
  schedule();
  // Redraw (not re-query) on resize: panels draw to their box's size.
  let resizeTimer = null;
  const onResize = () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const view of panelViews) if (view.frames && view.section.isConnected && !view.section.closest("[hidden]")) draw(view);
    }, 150);
  };
  const onKey = (event) => {
    if (event.key === "Escape" && state.viewPanel && !event.target.closest("details[open]")) {
      const q = urlQuery();
      q.delete("viewPanel");
      navigate(`${location.pathname}?${q}`);
    }
  };
  window.addEventListener("resize", onResize);
  document.addEventListener("keydown", onKey);
  if (meta.url && location.pathname === `/d/${uid}`) history.replaceState(null, "", `${meta.url}?${urlQuery()}`);
  else setQuery(urlQuery(), { replace: true });
  return () => {
    alive = false;
    if (timer) clearInterval(timer);
    clearTimeout(resizeTimer);
    window.removeEventListener("resize", onResize);
    document.removeEventListener("keydown", onKey);
  };
}
