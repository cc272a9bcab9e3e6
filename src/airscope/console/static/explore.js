// /explore, like Grafana's Explore: Logs (the filters of `airscope logs`, live tail), Traces (search
// and a trace's waterfall) and Metrics (a PromQL box with a graph and a table). The URL holds the
// state, so a link opens the same view: /explore?tab=logs&service=x&trace=<id>, /explore?trace=<id>.
import { api, navigate, setQuery, timeControls } from "./app.js";
import { renderLogLines, logLine } from "./panels/logs.js";
import { renderGraph } from "./panels/nodegraph.js";
import { renderTraceTable } from "./panels/traces.js";
import { ensureStyle, h, renderWaterfall } from "./waterfall.js";
import * as units from "./units.js";

const TABS = [
  ["logs", "Logs"],
  ["traces", "Traces"],
  ["metrics", "Metrics"],
];
const LEVELS = ["debug", "info", "warning", "error", "critical"];
const TAIL_MS = 1000; // the plan's live-tail poll
const TAIL_KEEP = 2000; // lines kept on the page while tailing, so a long tail cannot eat the tab's memory
const TRACE_ID = /^[0-9a-fA-F]{32}$/;

const CSS = `
.explore-tabs { display: flex; gap: 2px; border-bottom: 1px solid #2c3235; margin-bottom: 12px; }
.explore-tabs a { padding: 6px 14px; color: #ccccdc; border-bottom: 2px solid transparent; }
.explore-tabs a[aria-current="page"] { border-bottom-color: #f55f3e; color: #d8d9da; }
.explore-form { display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: flex-end; padding: 10px 12px;
  background: #181b1f; border: 1px solid #2c3235; margin-bottom: 10px; }
.explore-form .fld { display: flex; flex-direction: column; gap: 2px; }
.explore-form .fld label { font-size: 12px; color: #8e8e9e; }
.explore-form .fld.check { flex-direction: row; align-items: center; gap: 6px; padding-bottom: 6px; }
.explore-form .fld.check label { font-size: 14px; color: #ccccdc; }
.explore-form .wide { flex: 1 1 280px; }
.explore-form .wide input, .explore-form .wide textarea { width: 100%; }
.explore-form textarea { font-family: var(--mono, monospace); font-size: 13px; resize: vertical; min-height: 2.4em; }
.explore-form .actions { display: flex; gap: 8px; }
.explore-status { color: #8e8e9e; font-size: 12px; margin: 0 0 6px; min-height: 1.5em; }
.explore-error { color: #f2495c; background: rgba(242, 73, 92, .08); border: 1px solid rgba(242, 73, 92, .4);
  padding: 8px 12px; margin: 0 0 10px; white-space: pre-wrap; }
.explore-box { background: #181b1f; border: 1px solid #2c3235; padding: 8px; margin-bottom: 10px; }
.explore-graph { min-height: 80px; }
.explore-logs { max-height: calc(100vh - 280px); overflow: auto; }
button[aria-pressed="true"].live { background: #1a7f4b; border-color: #1a7f4b; color: #fff; }
.explore-back { display: inline-block; margin-bottom: 8px; }
.explore-help { color: #8e8e9e; font-size: 12px; }
.explore-form input.trace-id { font-family: var(--mono, monospace); width: calc(32ch + 20px); }
.explore-map { margin-top: 10px; }
.explore-map summary { cursor: pointer; padding: 4px 0; }
`;

let fieldCount = 0;

function field(labelText, input, { wide = false, check = false, hint } = {}) {
  input.id ||= `ex-${++fieldCount}`;
  const label = h("label", { for: input.id }, labelText);
  if (hint) input.title = hint;
  return h("div", { class: `fld${wide ? " wide" : ""}${check ? " check" : ""}` }, check ? [input, label] : [label, input]);
}

function input(name, value, attrs = {}) {
  return h("input", { name, value: value ?? "", autocomplete: "off", spellcheck: "false", ...attrs });
}

function errorBox(message) {
  return h("div", { class: "explore-error", role: "alert" }, message);
}

// Services seen in any answer, offered as suggestions in the service boxes.
const knownServices = new Set();
function servicesDatalist() {
  const list = h("datalist", { id: "ex-services" });
  const fill = () => list.replaceChildren(...[...knownServices].sort().map((s) => h("option", { value: s })));
  fill();
  return { list, learn: (names) => { names.filter(Boolean).forEach((n) => knownServices.add(n)); fill(); } };
}

function splitServices(text) {
  return String(text || "")
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

export async function mount(el, params, query) {
  ensureStyle("explore-style", CSS);
  const q = query instanceof URLSearchParams ? query : new URLSearchParams(location.search);
  const trace = q.get("trace");
  const tab = TABS.some(([id]) => id === q.get("tab")) ? q.get("tab") : trace ? "traces" : "logs";
  document.title = `Explore ${tab} · airscope console`;
  const stops = [];
  const body = h("div", { class: "explore-body" });
  el.append(
    h("div", { class: "toolbar" }, h("h1", {}, "Explore")),
    h(
      "nav",
      { class: "explore-tabs", "aria-label": "Explore views" },
      TABS.map(([id, title]) =>
        h("a", { href: `/explore?tab=${id}`, "aria-current": id === tab ? "page" : null, "data-tab": id }, title),
      ),
    ),
    body,
  );
  const views = { logs: logsView, traces: tracesView, metrics: metricsView };
  await views[tab](body, q, stops);
  return () => stops.forEach((stop) => stop());
}

// ---------------------------------------------------------------- Logs

function logsParams(q) {
  const params = new URLSearchParams();
  for (const service of q.getAll("service").flatMap(splitServices)) params.append("service", service);
  for (const key of ["level", "trace", "since", "q", "limit"]) if (q.get(key)) params.set(key, q.get(key));
  return params;
}

async function logsView(body, q, stops) {
  const { list: datalist, learn } = servicesDatalist();
  const f = {
    service: input("service", q.getAll("service").join(", "), { list: "ex-services", placeholder: "all", size: 24 }),
    level: h(
      "select",
      { name: "level" },
      h("option", { value: "" }, "any"),
      LEVELS.map((l) => h("option", { value: l, selected: q.get("level") === l }, `${l} and above`)),
    ),
    trace: input("trace", q.get("trace"), { placeholder: "32 hex digits", class: "trace-id", pattern: "[0-9a-fA-F]{32}" }),
    // A trace's lines need no time bound (its id is enough), so a trace link finds old ones too.
    since: input("since", q.get("since") ?? (q.get("trace") ? "" : "1h"), { placeholder: "15m, 2h, 1d", size: 12 }),
    q: input("q", q.get("q"), { placeholder: "text in the line (case-sensitive)" }),
    limit: input("limit", q.get("limit") ?? "200", { type: "number", min: "0", step: "1", style: "width:6em" }),
  };
  const run = h("button", { type: "submit", class: "btn btn-primary" }, "Run query");
  const live = h("button", { type: "button", class: "btn live", "aria-pressed": "false" }, "Live tail");
  const form = h(
    "form",
    { class: "explore-form", "aria-label": "Log filters" },
    field("Services", f.service, { hint: "one or more, comma-separated: the line's service (or program)" }),
    field("Level", f.level),
    field("Trace ID", f.trace),
    field("Since", f.since, { hint: "an age (10m, 2h, 1d) or an RFC 3339 time" }),
    field("Line contains", f.q, { wide: true }),
    field("Limit", f.limit, { hint: "the last N matching lines; 0 for all" }),
    h("div", { class: "actions" }, run, live),
    datalist,
  );
  const status = h("p", { class: "explore-status", role: "status", "aria-live": "polite" });
  const errors = h("div");
  const results = h("div", { class: "explore-box explore-logs", "data-state": "loading" });
  const traceId = q.get("trace");
  // From a trace's logs back to its waterfall in one click.
  const back = traceId && TRACE_ID.test(traceId)
    ? h("a", { class: "explore-back", href: `/explore?trace=${traceId.toLowerCase()}` }, `Open trace ${traceId.toLowerCase()}`)
    : null;
  body.append(form, errors, back, status, results);

  let lines = [];
  let list = null;
  let next = null;
  let tailing = false;
  let timer = null;

  const current = () => {
    const params = new URLSearchParams({ tab: "logs" });
    for (const s of splitServices(f.service.value)) params.append("service", s);
    for (const key of ["level", "trace", "since", "q", "limit"]) {
      const value = f[key].value.trim();
      if (value) params.set(key, key === "trace" ? value.toLowerCase() : value);
    }
    if (tailing) params.set("live", "1");
    return params;
  };

  async function search() {
    errors.replaceChildren();
    const traceId = f.trace.value.trim();
    if (traceId && !TRACE_ID.test(traceId)) {
      errors.append(errorBox(`"${traceId}" is not a trace id: a trace id is 32 hex digits (the X-Trace-Id response header).`));
      results.dataset.state = "error";
      return;
    }
    results.dataset.state = "loading";
    status.textContent = "Searching…";
    const started = performance.now();
    try {
      const answer = await api(`/api/logs?${logsParams(current())}`);
      lines = answer.lines || [];
      next = answer.next ?? (lines.length ? lines[lines.length - 1].key : null);
      learn(lines.map((l) => l.service || l.program));
      const took = Math.round(performance.now() - started);
      status.textContent = `${lines.length} line${lines.length === 1 ? "" : "s"}, newest first · ${took} ms`;
      if (lines.length) {
        list = renderLogLines(results, lines, { sortOrder: "Descending" });
        results.dataset.state = "data";
      } else {
        list = null;
        results.replaceChildren(h("p", { class: "muted" }, "No lines match these filters."));
        results.dataset.state = "empty";
      }
    } catch (error) {
      status.textContent = "";
      errors.append(errorBox(error.message));
      results.replaceChildren();
      results.dataset.state = "error";
    }
  }

  async function tail() {
    timer = null;
    if (!tailing || !body.isConnected) return;
    const params = logsParams(current());
    params.delete("limit");
    if (next) params.set("after", next);
    try {
      const answer = await api(`/api/logs/tail?${params}`);
      if (!tailing) return;
      next = answer.next ?? next;
      const fresh = answer.lines || [];
      if (fresh.length) {
        learn(fresh.map((l) => l.service || l.program));
        if (!list) {
          list = renderLogLines(results, [], { sortOrder: "Descending" });
          results.dataset.state = "data";
        }
        // Newest first: each new line goes on top.
        for (const line of fresh) list.prepend(logLine(line));
        while (list.childElementCount > TAIL_KEEP) list.lastElementChild.remove();
        lines = lines.concat(fresh).slice(-TAIL_KEEP);
        status.textContent = `Live: ${list.childElementCount} lines, newest first · last update ${new Date().toLocaleTimeString()}`;
      }
      errors.replaceChildren();
    } catch (error) {
      errors.replaceChildren(errorBox(`Live tail: ${error.message}`));
    }
    if (tailing) timer = setTimeout(tail, TAIL_MS);
  }

  function setTail(on) {
    tailing = on;
    live.setAttribute("aria-pressed", String(on));
    live.textContent = on ? "Stop live tail" : "Live tail";
    clearTimeout(timer);
    timer = null;
    setQuery(current());
    if (on) timer = setTimeout(tail, 0);
  }
  stops.push(() => {
    tailing = false;
    clearTimeout(timer);
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setQuery(current(), { replace: false });
    await search();
  });
  live.addEventListener("click", () => setTail(!tailing));

  await search();
  if (q.get("live") === "1") setTail(true);
}

// ---------------------------------------------------------------- Traces

async function tracesView(body, q, stops) {
  const traceId = q.get("trace");
  if (traceId) return traceView(body, q, traceId);
  const { list: datalist, learn } = servicesDatalist();
  const f = {
    service: input("service", q.get("service"), { list: "ex-services", placeholder: "any", size: 22 }),
    minDuration: input("minDuration", q.get("minDuration"), { placeholder: "e.g. 100ms", size: 10 }),
    errors: h("input", { type: "checkbox", name: "errors", checked: q.get("errors") === "true" }),
    since: input("since", q.get("since") ?? "1h", { placeholder: "15m, 2h, 1d", size: 10 }),
    limit: input("limit", q.get("limit") ?? "20", { type: "number", min: "1", step: "1", style: "width:6em" }),
  };
  const form = h(
    "form",
    { class: "explore-form", "aria-label": "Trace search" },
    field("Service", f.service, { hint: "a service name or an instance id: any span of the trace" }),
    field("Min duration", f.minDuration, { hint: "100ms, 1.5s…" }),
    field("Since", f.since),
    field("Limit", f.limit),
    field("Errors only", f.errors, { check: true }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "btn btn-primary" }, "Search")),
    datalist,
  );
  const byId = input("trace", "", { placeholder: "32 hex digits", size: 34, "aria-describedby": "ex-trace-help" });
  const open = h(
    "form",
    { class: "explore-form", "aria-label": "Open a trace" },
    field("Trace ID", byId, { wide: true }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "btn" }, "Open trace")),
    h("p", { class: "explore-help", id: "ex-trace-help" }, "The X-Trace-Id header of a response, or a log line's trace id."),
  );
  const status = h("p", { class: "explore-status", role: "status", "aria-live": "polite" });
  const errors = h("div");
  const results = h("div", { class: "explore-box", "data-state": "loading" });
  body.append(form, open, errors, status, results, serviceMap(q.get("since") || "1h"));

  const current = () => {
    const params = new URLSearchParams({ tab: "traces" });
    for (const key of ["service", "minDuration", "since", "limit"]) {
      const value = f[key].value.trim();
      if (value) params.set(key, value);
    }
    if (f.errors.checked) params.set("errors", "true");
    return params;
  };

  async function search() {
    errors.replaceChildren();
    results.dataset.state = "loading";
    status.textContent = "Searching…";
    const params = current();
    params.delete("tab");
    const started = performance.now();
    try {
      const answer = await api(`/api/traces?${params}`);
      const traces = answer.traces || [];
      learn(traces.flatMap((t) => t.services || [t.rootService]));
      status.textContent = `${traces.length} trace${traces.length === 1 ? "" : "s"}, newest first · ${Math.round(performance.now() - started)} ms`;
      if (traces.length) {
        renderTraceTable(results, traces, { label: "Trace search results" });
        results.dataset.state = "data";
      } else {
        results.replaceChildren(h("p", { class: "muted" }, "No trace matches. Traces are written within about 5 s of a request's end; widen Since or drop a filter."));
        results.dataset.state = "empty";
      }
    } catch (error) {
      status.textContent = "";
      errors.append(errorBox(error.message));
      results.replaceChildren();
      results.dataset.state = "error";
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setQuery(current(), { replace: false });
    await search();
  });
  open.addEventListener("submit", (event) => {
    event.preventDefault();
    const id = byId.value.trim();
    errors.replaceChildren();
    if (!TRACE_ID.test(id)) {
      errors.append(errorBox(`"${id}" is not a trace id: a trace id is 32 hex digits.`));
      byId.focus();
      return;
    }
    navigate(`/explore?trace=${id.toLowerCase()}`);
  });
  await search();
}

// Tempo's service graph, from the same spans: drawn only when opened (it reads every span of the range).
function serviceMap(since) {
  const from = /^\d+[smhdw]$/.test(since) ? `now-${since}` : "now-1h";
  const box = h("div", { class: "explore-box", style: "height:480px" });
  const details = h(
    "details",
    { class: "explore-map" },
    h("summary", {}, `Service map (${from.replace("now-", "last ")})`),
    box,
  );
  let loaded = false;
  details.addEventListener("toggle", async () => {
    if (!details.open || loaded) return;
    loaded = true;
    box.dataset.state = "loading";
    box.replaceChildren(h("p", { class: "muted" }, "Reading the spans…"));
    try {
      const frame = await api(`/api/servicemap?${new URLSearchParams({ from, to: "now" })}`);
      if (frame.nodes?.length) {
        renderGraph(box, frame);
        box.dataset.state = "data";
      } else {
        box.replaceChildren(h("p", { class: "muted" }, "No calls in this range: run `airscope load` and look again."));
        box.dataset.state = "empty";
      }
    } catch (error) {
      loaded = false;
      box.replaceChildren(errorBox(error.message));
      box.dataset.state = "error";
    }
  });
  return details;
}

async function traceView(body, q, traceId) {
  const back = new URLSearchParams(q);
  back.delete("trace");
  back.set("tab", "traces");
  const box = h("div", { class: "explore-box", "data-state": "loading", "aria-busy": "true" }, h("p", { class: "muted" }, "Loading the trace…"));
  body.append(h("a", { class: "explore-back", href: `/explore?${back}` }, "← Search traces"), box);
  document.title = `Trace ${traceId.slice(0, 8)} · airscope console`;
  if (!TRACE_ID.test(traceId)) {
    box.replaceChildren(errorBox(`"${traceId}" is not a trace id: a trace id is 32 hex digits.`));
    box.dataset.state = "error";
    box.removeAttribute("aria-busy");
    return;
  }
  try {
    const trace = await api(`/api/traces/${encodeURIComponent(traceId.toLowerCase())}`);
    const drawn = renderWaterfall(box, trace);
    box.dataset.drawMs = drawn.dataset.drawMs;
    box.dataset.state = "data";
  } catch (error) {
    box.replaceChildren(errorBox(error.message));
    box.dataset.state = "error";
  }
  box.removeAttribute("aria-busy");
}

// ---------------------------------------------------------------- Metrics

function seriesTable(frame) {
  // Grafana Explore's table for a range query: one row a series, its labels and last value.
  if (frame.kind === "table") {
    return { columns: frame.columns || [], rows: frame.rows || [] };
  }
  const series = frame.series || [];
  const labelNames = [...new Set(series.flatMap((s) => Object.keys(s.labels || {})))].sort();
  const columns = ["Time", ...labelNames, "Value"];
  const rows = series.map((s) => {
    const points = (s.points || []).filter((p) => p[1] != null);
    const last = points[points.length - 1] || [null, null];
    return [last[0], ...labelNames.map((n) => s.labels?.[n] ?? ""), last[1]];
  });
  return { columns, rows };
}

function drawTable(el, frame) {
  const { columns, rows } = seriesTable(frame);
  if (!rows.length) {
    el.replaceChildren(h("p", { class: "muted" }, "No data: the query ran and matched no series."));
    return;
  }
  const cell = (column, value) => {
    if (column === "Time" && typeof value === "number") return units.formatTime ? units.formatTime(value) : new Date(value).toISOString();
    if (column === "Value" && typeof value === "number") return String(value);
    return value ?? "";
  };
  el.replaceChildren(
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "data-table", "aria-label": "Query result" },
        h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
        h(
          "tbody",
          {},
          rows.map((row) =>
            h("tr", {}, row.map((value, i) => h("td", { class: typeof value === "number" && columns[i] !== "Time" ? "num" : null }, cell(columns[i], value)))),
          ),
        ),
      ),
    ),
  );
}

async function metricsView(body, q, stops) {
  let from = q.get("from") || "now-1h";
  let to = q.get("to") || "now";
  const expr = h(
    "textarea",
    { name: "expr", rows: 2, placeholder: 'e.g. sum by (service) (rate(http_server_request_duration_seconds_count[5m]))', spellcheck: "false" },
    q.get("expr") || "",
  );
  const instant = h("input", { type: "checkbox", name: "instant", checked: q.get("instant") === "true" });
  const times = h("div");
  const form = h(
    "form",
    { class: "explore-form", "aria-label": "PromQL query" },
    field("PromQL (Enter runs, Shift+Enter for a new line)", expr, { wide: true }),
    field("Instant", instant, { check: true }),
    times,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "btn btn-primary" }, "Run query")),
  );
  const status = h("p", { class: "explore-status", role: "status", "aria-live": "polite" });
  const errors = h("div");
  const graph = h("div", { class: "explore-box explore-graph", "data-panel-type": "timeseries" });
  const table = h("div", { class: "explore-box" });
  const result = h("section", { "aria-label": "Result", "data-state": "idle" }, h("h2", {}, "Graph"), graph, h("h2", {}, "Table"), table);
  body.append(form, errors, status, result);

  const drawTimes = () =>
    times.replaceChildren(
      timeControls({
        from,
        to,
        refresh: "",
        onChange: (range) => {
          from = range.from;
          to = range.to;
          drawTimes();
          form.requestSubmit();
        },
        onRefresh: () => form.requestSubmit(),
      }),
    );
  drawTimes();

  const current = () => {
    const params = new URLSearchParams({ tab: "metrics" });
    if (expr.value.trim()) params.set("expr", expr.value.trim());
    params.set("from", from);
    params.set("to", to);
    if (instant.checked) params.set("instant", "true");
    return params;
  };

  async function run() {
    errors.replaceChildren();
    const text = expr.value.trim();
    if (!text) {
      result.dataset.state = "idle";
      status.textContent = "Type a PromQL expression and press Enter.";
      return;
    }
    result.dataset.state = "loading";
    status.textContent = "Querying Prometheus…";
    const started = performance.now();
    let frame;
    try {
      frame = await api("/api/explore/metrics", {
        json: { expr: text, from, to, instant: instant.checked, maxDataPoints: Math.max(100, Math.min(1100, graph.clientWidth || 600)) },
      });
    } catch (error) {
      status.textContent = "";
      errors.append(errorBox(error.message));
      graph.replaceChildren();
      table.replaceChildren();
      result.dataset.state = "error";
      return;
    }
    if (frame.kind === "error" || frame.kind === "unsupported") {
      status.textContent = "";
      errors.append(errorBox(frame.message));
      graph.replaceChildren();
      table.replaceChildren();
      result.dataset.state = "error";
      return;
    }
    const count = frame.kind === "table" ? (frame.rows || []).length : (frame.series || []).length;
    status.textContent = `${count} series${frame.step ? ` · step ${frame.step}s` : ""} · ${Math.round(performance.now() - started)} ms`;
    result.dataset.state = count ? "data" : "empty";
    drawTable(table, frame);
    if (frame.kind !== "series" || instant.checked) {
      graph.replaceChildren(h("p", { class: "muted" }, instant.checked ? "An instant query has no graph: see the table." : "This answer is a table."));
      return;
    }
    await drawGraph(graph, frame, { from, to });
  }

  expr.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setQuery(current(), { replace: false });
    await run();
  });
  await run();
}

async function drawGraph(el, frame, { from, to }) {
  let timeseries;
  try {
    timeseries = await import("./panels/timeseries.js");
  } catch (error) {
    el.replaceChildren(errorBox(`The time series panel did not load (${error.message}).`));
    return;
  }
  const panel = {
    id: 0,
    type: "timeseries",
    title: "",
    fieldConfig: { defaults: { custom: { lineWidth: 1, fillOpacity: 0 } }, overrides: [] },
    options: { legend: { showLegend: true, displayMode: "list", placement: "bottom", calcs: [] }, tooltip: { mode: "multi" } },
    targets: [{ refId: "A", expr: frame.expr }],
  };
  // The panel module styles the element it draws into: give it its own, of a fixed height.
  const holder = h("div", { class: "explore-graph-body", style: "height:300px" });
  el.replaceChildren(holder);
  const ctx = {
    from,
    to,
    variables: {},
    units,
    navigate,
  };
  try {
    await timeseries.render(holder, panel, { A: frame }, ctx);
  } catch (error) {
    el.replaceChildren(errorBox(`The graph could not be drawn: ${error.message}`));
  }
}
