// A trace as a waterfall, like Jaeger's and Tempo's: one row a span, children indented under their
// parent (collapsible), a bar each on the trace's time scale, the service's colour, error spans marked;
// a clicked span opens its attributes, events and the links to that trace's logs.
// Plain DOM, built once into a fragment: a 100-span trace draws in a few milliseconds.

// Grafana's classic palette without its reds: red means an error span here, never a service.
const PALETTE = [
  "#73bf69", "#f2cc0c", "#5794f2", "#ff9830", "#b877d9", "#6ed0e0", "#e36ad0", "#96d98d",
  "#8ab8ff", "#ffcb7d", "#ca95e5", "#4fa39a", "#d9b38c", "#a3a3ff",
];

// A service's colour in a trace: the trace's services in name order take the palette in order, so
// the few services of one trace get the most distinct colours (as Tempo does), not two near shades.
function hashSlot(service) {
  let hash = 0;
  for (const char of String(service)) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  return hash % PALETTE.length;
}

export function serviceColors(services) {
  const sorted = [...new Set(services)].sort();
  return new Map(sorted.map((service, i) => [service, PALETTE[i % PALETTE.length]]));
}

// Outside a trace (one root service in a table), the colour comes from the name alone.
export function serviceColor(service) {
  return PALETTE[hashSlot(service)];
}

export function formatDuration(ms) {
  if (ms == null || Number.isNaN(ms)) return "";
  if (ms === 0) return "0 ms";
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60000)} m ${Math.round((ms % 60000) / 1000)} s`;
}

export function formatTime(ms) {
  const d = new Date(ms);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
  );
}

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "style") node.style.cssText = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function ensureStyle(id, css) {
  if (document.getElementById(id)) return;
  document.head.append(h("style", { id }, css));
}

const CSS = `
.wf { font-size: 13px; color: #ccccdc; }
.wf-head { display: flex; flex-wrap: wrap; gap: 4px 16px; align-items: baseline; margin-bottom: 8px; }
.wf-head h2 { font-size: 16px; margin: 0; font-weight: 500; }
.wf-head .wf-id { font-family: monospace; }
.wf-meta { color: #8e8e9e; }
.wf-services { display: flex; flex-wrap: wrap; gap: 4px 12px; margin-bottom: 8px; }
.wf-chip { display: inline-flex; align-items: center; gap: 4px; }
.wf-chip::before { content: ""; width: 10px; height: 10px; border-radius: 2px; background: var(--c); }
.wf-table { border: 1px solid #2c3235; background: #181b1f; }
.wf-row, .wf-ruler { display: grid; grid-template-columns: minmax(220px, 35%) 1fr; }
.wf-ruler { border-bottom: 1px solid #2c3235; color: #8e8e9e; font-size: 11px; height: 22px; }
.wf-ruler .wf-label { padding: 4px 8px; }
.wf-ticks { position: relative; }
.wf-tick { position: absolute; top: 0; bottom: 0; border-left: 1px solid #2c3235; padding: 4px 3px; white-space: nowrap; }
.wf-tick.last { border-left: 0; transform: translateX(-100%); }
.wf-row { border-bottom: 1px solid #22252b; min-height: 26px; }
.wf-row:hover, .wf-row.open { background: #22252b; }
.wf-name { display: flex; align-items: center; min-width: 0; padding-right: 6px; border-right: 1px solid #2c3235; }
.wf .wf-toggle, .wf-spacer { flex: none; width: 18px; height: 18px; padding: 0; margin-right: 2px; }
.wf .wf-toggle { background: none; border: 0; color: #8e8e9e; cursor: pointer; font-size: 11px; border-radius: 2px; }
.wf .wf-span, .wf .wf-span:hover { flex: 1; min-width: 0; display: flex; align-items: center; gap: 6px; background: none; border: 0;
  color: inherit; font: inherit; text-align: left; padding: 3px 4px; cursor: pointer; border-radius: 0; line-height: 18px; border-left: 3px solid var(--c); }
.wf .wf-toggle:hover { color: #d8d9da; }
.wf-span:focus-visible, .wf-toggle:focus-visible { outline: 2px solid #3d71d9; outline-offset: -2px; }
.wf-svc { color: var(--c); white-space: nowrap; }
.wf-op { color: #ccccdc; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.wf-err { color: #f2495c; font-weight: bold; }
.wf-orphan { color: #8e8e9e; }
.wf-bars { position: relative; }
.wf-bar { position: absolute; top: 7px; height: 12px; min-width: 2px; border-radius: 2px; background: var(--c); }
.wf-bar.error { box-shadow: 0 0 0 1.5px #f2495c; }
.wf-dur { position: absolute; top: 5px; font-size: 11px; color: #8e8e9e; white-space: nowrap; }
.wf-event { position: absolute; top: 5px; width: 2px; height: 16px; background: #ccccdc; }
.wf-detail { grid-column: 1 / -1; padding: 8px 12px 12px 24px; background: #111217; border-top: 1px solid #2c3235; }
.wf-detail h3 { font-size: 13px; margin: 10px 0 4px; font-weight: 500; color: #8e8e9e; }
.wf-kv { border-collapse: collapse; font-size: 12px; }
.wf-kv th, .wf-kv td { text-align: left; vertical-align: top; padding: 2px 12px 2px 0; border-bottom: 1px solid #22252b; }
.wf-kv th { color: #8e8e9e; font-weight: normal; white-space: nowrap; }
.wf-kv td { font-family: monospace; word-break: break-all; }
.wf-links { display: flex; gap: 16px; margin-top: 6px; }
.wf-links a, .wf-head a { color: #6e9fff; }
.wf-status-error { color: #f2495c; }
`;

// The spans as a tree (children in start order); a span whose parent is not in the trace is a root,
// marked, as `airscope trace` does.
function buildTree(spans) {
  const byId = new Map(spans.map((span) => [span.spanId, { span, children: [], orphan: false }]));
  const roots = [];
  const ordered = [...byId.values()].sort((a, b) => a.span.startMs - b.span.startMs);
  for (const node of ordered) {
    const parent = node.span.parentSpanId ? byId.get(node.span.parentSpanId) : null;
    if (parent && parent !== node) parent.children.push(node);
    else {
      node.orphan = Boolean(node.span.parentSpanId);
      roots.push(node);
    }
  }
  roots.sort((a, b) => a.orphan - b.orphan || a.span.startMs - b.span.startMs);
  const rows = [];
  const seen = new Set(); // a cycle in bad data must not hang the page
  // Depth first with a stack, not recursion: a trace may nest deeper than the call stack.
  const stack = roots.map((node) => [node, 0]).reverse();
  while (stack.length) {
    const [node, depth] = stack.pop();
    if (seen.has(node)) continue;
    seen.add(node);
    rows.push({ ...node, depth });
    for (let i = node.children.length - 1; i >= 0; i--) stack.push([node.children[i], depth + 1]);
    // Spans caught in a parent cycle are reached from no root: show them rather than lose them.
    if (!stack.length && seen.size < ordered.length) {
      const lost = ordered.find((n) => !seen.has(n));
      lost.orphan = true;
      stack.push([lost, 0]);
    }
  }
  return rows;
}

function kvTable(entries, caption) {
  return h(
    "table",
    { class: "wf-kv", "aria-label": caption },
    h("tbody", {}, entries.map(([key, value]) => h("tr", {}, h("th", { scope: "row" }, key), h("td", {}, value)))),
  );
}

function attributeValue(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

export function logsHref(traceId, service) {
  const params = new URLSearchParams({ tab: "logs", trace: traceId });
  if (service) params.append("service", service);
  return `/explore?${params}`;
}

function detail(span, traceId, id) {
  const attributes = Object.entries(span.attributes || {}).sort(([a], [b]) => a.localeCompare(b));
  const events = span.events || [];
  const status = span.status === "error" ? h("span", { class: "wf-status-error" }, "error") : span.status;
  return h(
    "div",
    { class: "wf-detail", id, role: "region", "aria-label": `Span ${span.name}` },
    kvTable(
      [
        ["Service", span.service],
        ["Instance", span.instance || ""],
        ["Operation", span.name],
        ["Kind", span.kind || ""],
        ["Start", `+${formatDuration(span.startMs)}`],
        ["Duration", formatDuration(span.durationMs)],
        ["Status", h("span", {}, status, span.statusMessage ? `: ${span.statusMessage}` : "")],
        ["Span ID", span.spanId],
        ["Parent span ID", span.parentSpanId || "(root)"],
      ],
      "Span",
    ),
    h("h3", {}, `Attributes (${attributes.length})`),
    attributes.length
      ? kvTable(attributes.map(([key, value]) => [key, attributeValue(value)]), "Attributes")
      : h("p", { class: "wf-meta" }, "none"),
    h("h3", {}, `Events (${events.length})`),
    events.length
      ? h(
          "ol",
          { class: "wf-events" },
          events.map((event) =>
            h(
              "li",
              {},
              h("strong", {}, event.name),
              ` at ${formatEventTime(event, span)}`,
              Object.keys(event.attributes || {}).length
                ? kvTable(
                    Object.entries(event.attributes).map(([key, value]) => [key, attributeValue(value)]),
                    `Event ${event.name}`,
                  )
                : null,
            ),
          ),
        )
      : h("p", { class: "wf-meta" }, "none"),
    h(
      "div",
      { class: "wf-links" },
      h("a", { href: logsHref(traceId), class: "wf-logs-link" }, "Logs for this trace"),
      h("a", { href: logsHref(traceId, span.service) }, `Logs of ${span.service} in this trace`),
    ),
  );
}

// An event's `ms` is an epoch time when it is large, else an offset from the trace's start.
let traceStartMs = 0;
function eventOffset(event) {
  return event.ms > 1e11 ? event.ms - traceStartMs : event.ms;
}
function formatEventTime(event, span) {
  const offset = eventOffset(event);
  return `+${formatDuration(offset)} (${formatDuration(Math.max(0, offset - span.startMs))} into the span)`;
}

function ruler(total) {
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f, i, all) =>
    h(
      "span",
      { class: `wf-tick${i === all.length - 1 ? " last" : ""}`, style: `left:${f * 100}%` },
      formatDuration(total * f),
    ),
  );
  return h(
    "div",
    { class: "wf-ruler", "aria-hidden": "true" },
    h("div", { class: "wf-label" }, "Service & operation"),
    h("div", { class: "wf-ticks" }, ticks),
  );
}

/**
 * Draw `trace` (the JSON of GET /api/traces/{id}) into `el`. Returns the element; it carries
 * data-state="data" and data-draw-ms (how long the drawing took) once drawn.
 */
export function renderWaterfall(el, trace) {
  const started = performance.now();
  ensureStyle("wf-style", CSS);
  traceStartMs = trace.startMs || 0;
  const total = Math.max(trace.durationMs || 0, ...trace.spans.map((s) => s.startMs + s.durationMs), 1e-6);
  const rows = buildTree(trace.spans);
  const services = trace.services?.length ? trace.services : [...new Set(trace.spans.map((s) => s.service))].sort();
  const errors = trace.spans.filter((s) => s.status === "error").length;
  const colors = serviceColors([...services, ...trace.spans.map((s) => s.service)]);

  const root = h("section", { class: "wf", "data-trace-id": trace.traceId, "aria-label": `Trace ${trace.traceId}` });
  const first = rows[0]?.span;
  root.append(
    h(
      "div",
      { class: "wf-head" },
      h("h2", {}, first ? `${first.service}: ${first.name}` : "Trace"),
      h("span", { class: "wf-id" }, trace.traceId),
      h(
        "span",
        { class: "wf-meta" },
        `${formatTime(trace.startMs)} · ${formatDuration(trace.durationMs)} · ${trace.spans.length} spans`,
        errors ? h("span", { class: "wf-err" }, ` · ${errors} error${errors > 1 ? "s" : ""}`) : "",
      ),
      h("a", { href: logsHref(trace.traceId), class: "wf-logs-link" }, "Logs for this trace"),
    ),
    h(
      "div",
      { class: "wf-services", "aria-label": "Services" },
      services.map((s) => h("span", { class: "wf-chip", style: `--c:${colors.get(s)}` }, s)),
    ),
  );

  const table = h("div", { class: "wf-table", role: "tree", "aria-label": "Spans" });
  table.append(ruler(total));
  const fragment = document.createDocumentFragment();
  const rowEls = [];
  const descendants = new Map(); // row index -> index past its last descendant
  rows.forEach((row, index) => {
    let end = index + 1;
    while (end < rows.length && rows[end].depth > row.depth) end++;
    descendants.set(index, end);
  });

  rows.forEach((row, index) => {
    const { span, depth } = row;
    const color = colors.get(span.service);
    const left = (span.startMs / total) * 100;
    const width = Math.max((span.durationMs / total) * 100, 0.15);
    const isError = span.status === "error";
    const detailId = `wf-detail-${span.spanId}`;
    const hasChildren = row.children.length > 0;
    const label = `${span.service} ${span.name}, ${formatDuration(span.durationMs)} at +${formatDuration(span.startMs)}${isError ? ", error" : ""}`;
    const button = h(
      "button",
      {
        type: "button",
        class: "wf-span",
        "aria-expanded": "false",
        "aria-controls": detailId,
        "aria-label": label,
        title: `${span.service}: ${span.name}`,
      },
      isError ? h("span", { class: "wf-err", "aria-hidden": "true" }, "!") : null,
      row.orphan ? h("span", { class: "wf-orphan", title: "its parent span is in no trace file" }, "?") : null,
      h("span", { class: "wf-svc" }, span.service),
      h("span", { class: "wf-op" }, span.name),
    );
    const toggle = hasChildren
      ? h(
          "button",
          { type: "button", class: "wf-toggle", "aria-expanded": "true", "aria-label": `Collapse the children of ${span.name}` },
          "▾",
        )
      : h("span", { class: "wf-spacer" });
    const endPct = left + width;
    // The duration beside its bar; near the right edge, inside a wide bar or before a narrow one.
    let durStyle = `left:${endPct}%;margin-left:4px`;
    if (endPct > 85) durStyle = width >= 12 ? `right:${100 - endPct}%;margin-right:4px;color:#111217` : `right:${100 - left}%;margin-right:4px`;
    const durLabel = h("span", { class: "wf-dur", style: durStyle }, formatDuration(span.durationMs));
    const bars = h(
      "div",
      { class: "wf-bars" },
      h("div", { class: `wf-bar${isError ? " error" : ""}`, style: `left:${left}%;width:${width}%` }),
      (span.events || []).map((event) =>
        h("span", {
          class: "wf-event",
          title: event.name,
          style: `left:${Math.min(100, (eventOffset(event) / total) * 100)}%`,
        }),
      ),
      durLabel,
    );
    const rowEl = h(
      "div",
      {
        class: "wf-row",
        role: "treeitem",
        "aria-level": depth + 1,
        "data-span-id": span.spanId,
        "data-service": span.service,
        "data-status": span.status,
        style: `--c:${color}`,
      },
      h("div", { class: "wf-name", style: `padding-left:${4 + Math.min(depth, 24) * 14}px` }, toggle, button),
      bars,
    );
    let open = null;
    button.addEventListener("click", () => {
      if (open) {
        open.remove();
        open = null;
        rowEl.classList.remove("open");
        button.setAttribute("aria-expanded", "false");
      } else {
        open = detail(span, trace.traceId, detailId);
        rowEl.append(open);
        rowEl.classList.add("open");
        button.setAttribute("aria-expanded", "true");
      }
    });
    button.addEventListener("keydown", (event) => {
      const buttons = [...table.querySelectorAll(".wf-row:not([hidden]) .wf-span")];
      const at = buttons.indexOf(button);
      const move = { ArrowDown: 1, ArrowUp: -1 }[event.key];
      if (move && buttons[at + move]) {
        event.preventDefault();
        buttons[at + move].focus();
      } else if ((event.key === "ArrowLeft" || event.key === "ArrowRight") && hasChildren) {
        const collapsed = toggle.getAttribute("aria-expanded") === "false";
        if (collapsed === (event.key === "ArrowRight")) toggle.click();
        event.preventDefault();
      }
    });
    if (hasChildren) {
      toggle.addEventListener("click", () => {
        const collapse = toggle.getAttribute("aria-expanded") === "true";
        toggle.setAttribute("aria-expanded", String(!collapse));
        toggle.setAttribute("aria-label", `${collapse ? "Expand" : "Collapse"} the children of ${span.name}`);
        toggle.textContent = collapse ? "▸" : "▾";
        // Showing again respects the collapsed state of the rows beneath.
        const end = descendants.get(index);
        let i = index + 1;
        while (i < end) {
          rowEls[i].hidden = collapse;
          const childToggle = rowEls[i].querySelector(".wf-toggle");
          if (!collapse && childToggle?.getAttribute("aria-expanded") === "false") {
            i = descendants.get(i);
            continue;
          }
          i++;
        }
      });
    }
    rowEls.push(rowEl);
    fragment.append(rowEl);
  });
  table.append(fragment);
  root.append(table);
  el.replaceChildren(root);
  root.dataset.drawMs = (performance.now() - started).toFixed(1);
  root.dataset.state = "data";
  return root;
}
