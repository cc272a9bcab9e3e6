// Grafana's logs panel (and Explore's log list): one row a line with its time, level, service and
// message; a line's trace id links to that trace; a click on a line opens its fields
// (enableLogDetails). Honours the options the generator sets: showTime, wrapLogMessage, sortOrder.
import { ensureStyle, formatTime, h } from "../waterfall.js";

const CSS = `
.logs { font-family: monospace; font-size: 12px; color: #ccccdc; overflow: auto; height: 100%; }
.log-line { border-left: 3px solid var(--lc, #5a5a6a); margin: 0 0 1px; }
.logs .log-row, .logs .log-row:hover { display: flex; gap: 8px; align-items: baseline; width: 100%; padding: 1px 6px; background: none;
  border: 0; border-radius: 0; line-height: inherit; color: inherit; font: inherit; text-align: left; cursor: pointer; }
.logs .log-row:hover { background: #22252b; }
.log-row:focus-visible { outline: 2px solid #3d71d9; outline-offset: -2px; }
.log-time { color: #8e8e9e; white-space: nowrap; flex: none; }
.log-level { flex: none; width: 5.5em; text-transform: uppercase; color: var(--lc); }
.log-service { flex: none; color: #6ed0e0; white-space: nowrap; }
.log-msg { flex: 1; min-width: 0; white-space: pre-wrap; word-break: break-word; }
.logs.nowrap .log-msg { white-space: pre; overflow: hidden; text-overflow: ellipsis; }
.log-trace { flex: none; color: #6e9fff; white-space: nowrap; padding: 1px 6px; }
.log-head { display: flex; align-items: baseline; }
.log-detail { padding: 4px 12px 8px 24px; background: #111217; }
.log-detail table { border-collapse: collapse; }
.log-detail th, .log-detail td { text-align: left; vertical-align: top; padding: 1px 12px 1px 0; }
.log-detail th { color: #8e8e9e; font-weight: normal; }
.log-detail td { word-break: break-all; }
.log-detail a { color: #6e9fff; }
.logs-note { color: #8e8e9e; padding: 4px 6px; font-family: sans-serif; }
`;

// Grafana's log level colours.
const LEVEL_COLORS = {
  critical: "#a352cc", fatal: "#a352cc", error: "#f2495c", warning: "#ff9830", warn: "#ff9830",
  info: "#73bf69", debug: "#8ab8ff", trace: "#8ab8ff",
};

export function levelColor(level) {
  return LEVEL_COLORS[String(level || "").toLowerCase()] || "#5a5a6a";
}

export function traceHref(traceId) {
  return `/explore?trace=${encodeURIComponent(traceId)}`;
}

function fieldRows(line) {
  const fields = line.fields && typeof line.fields === "object" ? line.fields : null;
  const entries = [
    ["time", formatTime(line.ms)],
    ["program", line.program],
    ["service", line.service],
    ["level", line.level],
    ...Object.entries(fields || {}).filter(([key]) => !["service", "level"].includes(key)),
  ];
  if (!fields) entries.push(["raw", line.raw]);
  return entries
    .filter(([, value]) => value != null && value !== "")
    .map(([key, value]) => {
      let cell = typeof value === "string" ? value : JSON.stringify(value);
      // The line's own link only: a trace that was not kept (trace_sampled false) has none.
      if ((key === "trace_id" || key === "traceId") && value === line.traceId && /^[0-9a-f]{32}$/.test(value)) {
        cell = h("a", { href: traceHref(value) }, value);
      }
      return h("tr", {}, h("th", { scope: "row" }, key), h("td", {}, cell));
    });
}

/** One log line as an element (<li>); `details` lets a click open its fields. */
export function logLine(line, { showTime = true, details = true } = {}) {
  const color = levelColor(line.level);
  const row = h(
    details ? "button" : "div",
    { class: "log-row", ...(details ? { type: "button", "aria-expanded": "false" } : {}) },
    showTime ? h("span", { class: "log-time" }, formatTime(line.ms)) : null,
    h("span", { class: "log-level" }, line.level || ""),
    line.service || line.program ? h("span", { class: "log-service" }, line.service || line.program) : null,
    h("span", { class: "log-msg" }, line.message ?? line.raw ?? ""),
  );
  const item = h(
    "li",
    { class: "log-line", style: `--lc:${color}`, "data-key": line.key ?? "", "data-level": line.level || "" },
    h(
      "div",
      { class: "log-head" },
      row,
      line.traceId
        ? h(
            "a",
            { class: "log-trace", href: traceHref(line.traceId), title: `Open trace ${line.traceId}` },
            `trace ${line.traceId.slice(0, 8)}…`,
          )
        : null,
    ),
  );
  if (details) {
    let open = null;
    row.addEventListener("click", () => {
      if (open) {
        open.remove();
        open = null;
      } else {
        open = h("div", { class: "log-detail" }, h("table", {}, h("tbody", {}, fieldRows(line))));
        item.append(open);
      }
      row.setAttribute("aria-expanded", String(Boolean(open)));
    });
  }
  return item;
}

/** A list of log lines. `lines` come newest last (the API's order); sortOrder "Descending" shows newest first. */
export function renderLogLines(el, lines, options = {}) {
  ensureStyle("logs-style", CSS);
  const descending = (options.sortOrder || "Descending") === "Descending";
  const list = h("ol", {
    class: `logs${options.wrapLogMessage === false ? " nowrap" : ""}`,
    style: "list-style:none;margin:0;padding:0",
    "aria-label": options.label || "Log lines",
    reversed: descending,
  });
  const ordered = descending ? [...lines].reverse() : lines;
  const fragment = document.createDocumentFragment();
  for (const line of ordered) {
    fragment.append(logLine(line, { showTime: options.showTime !== false, details: options.enableLogDetails !== false }));
  }
  list.append(fragment);
  el.replaceChildren(list);
  return list;
}

/**
 * The dashboard panel: `frames` is {refId: Frame}; log frames are merged in time order.
 * Returns the state for the panel frame: "data", "empty", "unsupported" or "error".
 */
export function render(el, panel, frames, ctx) {
  ensureStyle("logs-style", CSS);
  const all = Object.values(frames || {});
  const problems = all.filter((frame) => frame.kind === "error" || frame.kind === "unsupported");
  const lines = all
    .filter((frame) => frame.kind === "logs")
    .flatMap((frame) => frame.lines || [])
    .sort((a, b) => a.ms - b.ms);
  if (!lines.length && problems.length) {
    el.replaceChildren(...problems.map((frame) => h("p", { class: "logs-note", role: "alert" }, frame.message)));
    return problems.some((frame) => frame.kind === "error") ? "error" : "unsupported";
  }
  if (!lines.length) {
    el.replaceChildren(h("p", { class: "logs-note" }, "No data"));
    return "empty";
  }
  const wrap = h("div", { class: "logs-panel", style: "height:100%;overflow:auto" });
  renderLogLines(wrap, lines, { ...(panel?.options || {}), label: panel?.title || "Log lines" });
  el.replaceChildren(wrap);
  return "data";
}
