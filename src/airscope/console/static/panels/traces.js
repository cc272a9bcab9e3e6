// Tempo's traces table (a table panel whose target is a TraceQL search, and Explore's search results):
// trace id as a link to its waterfall, start, root service and span, duration, span count, errors.
import { ensureStyle, formatDuration, formatTime, h, serviceColor } from "../waterfall.js";

const CSS = `
.traces-table { width: 100%; border-collapse: collapse; font-size: 13px; color: #ccccdc; }
.traces-table th { text-align: left; font-weight: 500; color: #8e8e9e; border-bottom: 1px solid #2c3235; padding: 4px 8px; position: sticky; top: 0; background: #181b1f; }
.traces-table th button, .traces-table th button:hover { background: none; border: 0; color: inherit; font: inherit; padding: 0; cursor: pointer; line-height: inherit; }
.traces-table th button:focus-visible { outline: 2px solid #3d71d9; }
.traces-table td { border-bottom: 1px solid #22252b; padding: 3px 8px; white-space: nowrap; }
.traces-table td.num { text-align: right; font-variant-numeric: tabular-nums; }
.traces-table a { color: #6e9fff; font-family: monospace; }
.traces-table .err { color: #f2495c; }
.traces-table .svc { color: var(--c); }
.traces-note { color: #8e8e9e; padding: 4px 6px; }
`;

const COLUMNS = [
  { key: "traceId", title: "Trace ID" },
  { key: "startMs", title: "Start time" },
  { key: "root", title: "Root" },
  { key: "durationMs", title: "Duration", num: true },
  { key: "spanCount", title: "Spans", num: true },
  { key: "error", title: "Status" },
];

// Today's traces show the time only, so a narrow panel keeps its Spans and Status columns.
function startText(ms) {
  const text = formatTime(ms);
  return new Date(ms).toDateString() === new Date().toDateString() ? text.slice(11) : text;
}

function sortValue(trace, key) {
  if (key === "root") return `${trace.rootService} ${trace.rootName}`;
  if (key === "error") return trace.error ? 1 : 0;
  return trace[key];
}

/** The traces (TraceSummary objects) as a table; a header click sorts by that column. */
export function renderTraceTable(el, traces, { label = "Traces" } = {}) {
  ensureStyle("traces-style", CSS);
  let sortKey = null;
  let sortDir = 1;
  const table = h("table", { class: "traces-table", "aria-label": label });
  const headers = COLUMNS.map((column) => {
    const button = h("button", { type: "button" }, column.title);
    const th = h("th", { scope: "col", "aria-sort": "none", style: column.num ? "text-align:right" : null }, button);
    button.addEventListener("click", () => {
      sortDir = sortKey === column.key ? -sortDir : column.num || column.key === "startMs" ? -1 : 1;
      sortKey = column.key;
      for (const other of headers) other.setAttribute("aria-sort", "none");
      th.setAttribute("aria-sort", sortDir > 0 ? "ascending" : "descending");
      fill();
    });
    return th;
  });
  const tbody = h("tbody");
  table.append(h("thead", {}, h("tr", {}, headers)), tbody);

  function fill() {
    const rows = [...traces];
    if (sortKey) {
      rows.sort((a, b) => {
        const x = sortValue(a, sortKey);
        const y = sortValue(b, sortKey);
        return (x < y ? -1 : x > y ? 1 : 0) * sortDir;
      });
    }
    tbody.replaceChildren(
      ...rows.map((trace) =>
        h(
          "tr",
          { "data-trace-id": trace.traceId },
          h("td", {}, h("a", { href: `/explore?trace=${encodeURIComponent(trace.traceId)}` }, trace.traceId)),
          h("td", { title: formatTime(trace.startMs) }, startText(trace.startMs)),
          h(
            "td",
            { title: (trace.services || []).join(", ") },
            h("span", { class: "svc", style: `--c:${serviceColor(trace.rootService)}` }, trace.rootService),
            `: ${trace.rootName ?? ""}`,
          ),
          h("td", { class: "num" }, formatDuration(trace.durationMs)),
          h("td", { class: "num" }, trace.spanCount),
          h("td", {}, trace.error ? h("span", { class: "err" }, "error") : "ok"),
        ),
      ),
    );
  }
  fill();
  el.replaceChildren(table);
  return table;
}

/**
 * The dashboard panel (a Tempo `tableType: traces` target): frames of kind "traces".
 * Returns the panel's state: "data", "empty", "unsupported" or "error".
 */
export function render(el, panel, frames, ctx) {
  ensureStyle("traces-style", CSS);
  const all = Object.values(frames || {});
  const traces = all.filter((frame) => frame.kind === "traces").flatMap((frame) => frame.traces || []);
  const problems = all.filter((frame) => frame.kind === "error" || frame.kind === "unsupported");
  if (!traces.length && problems.length) {
    el.replaceChildren(...problems.map((frame) => h("p", { class: "traces-note", role: "alert" }, frame.message)));
    return problems.some((frame) => frame.kind === "error") ? "error" : "unsupported";
  }
  if (!traces.length) {
    el.replaceChildren(h("p", { class: "traces-note" }, "No data"));
    return "empty";
  }
  traces.sort((a, b) => b.startMs - a.startMs);
  const wrap = h("div", { style: "height:100%;overflow:auto" });
  renderTraceTable(wrap, traces, { label: panel?.title || "Traces" });
  el.replaceChildren(wrap);
  return "data";
}
