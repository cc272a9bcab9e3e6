// Grafana's node graph panel for the service map (a frame of kind "graph"): services, stores and
// outside SaaS as nodes laid out in columns by call depth, observed calls as arrows with rate, error %
// and p95; a call observed but not declared in the catalog, or declared but never seen, is marked.
// SVG, with the same edges as a table beneath for keyboards and screen readers.
import { ensureStyle, formatDuration, h } from "../waterfall.js";

const SVG = "http://www.w3.org/2000/svg";
const COL = 240; // px between columns
const ROW = 120; // px between nodes of a column
const R = 30; // node radius
const COLORS = { ok: "#73bf69", error: "#f2495c", edge: "#8e8e9e", undeclared: "#ff9830", unseen: "#6c6c7c" };
const KIND_STROKE = { service: "#3d71d9", store: "#8ab8ff", saas: "#b877d9" };

const CSS = `
.ng { display: flex; flex-direction: column; height: 100%; color: #ccccdc; font-size: 12px; }
.ng svg { flex: 1; min-height: 220px; width: 100%; }
.ng text { fill: #ccccdc; font-size: 12px; font-family: sans-serif; }
.ng .ng-sub { fill: #8e8e9e; font-size: 11px; }
.ng .ng-edge-label { font-size: 10px; fill: #aeb0c0; paint-order: stroke; stroke: #181b1f; stroke-width: 3px; }
.ng .ng-node text { paint-order: stroke; stroke: #181b1f; stroke-width: 3px; }
.ng a:focus-visible circle, .ng a:focus-visible rect { stroke: #ffffff; stroke-width: 3; }
.ng-legend { display: flex; flex-wrap: wrap; gap: 4px 16px; padding: 4px 0; color: #8e8e9e; }
.ng-legend span::before { content: ""; display: inline-block; width: 22px; margin-right: 4px; vertical-align: middle; border-top: 2px solid var(--c); }
.ng-legend .dash::before { border-top-style: dashed; }
.ng-legend .dot::before { border-top-style: dotted; }
.ng details summary { cursor: pointer; color: #8e8e9e; }
.ng table { border-collapse: collapse; margin-top: 4px; }
.ng th, .ng td { text-align: left; padding: 2px 10px 2px 0; border-bottom: 1px solid #22252b; }
.ng td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ng-note { color: #8e8e9e; padding: 4px 6px; }
`;

function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) if (value != null) node.setAttribute(key, value);
  for (const child of children.flat()) if (child != null) node.append(child instanceof Node ? child : String(child));
  return node;
}

// Short enough to sit inside a node; `precise` (tooltips, the table) keeps two significant digits.
export function formatRate(rate, precise = false) {
  if (rate == null) return "–";
  if (rate === 0) return "0 r/s";
  if (rate < 0.01 && !precise) return "<0.01 r/s";
  return `${rate >= 100 ? Math.round(rate) : rate >= 1 ? rate.toFixed(1) : rate.toPrecision(2)} r/s`;
}

export function formatRatio(ratio) {
  if (ratio == null) return "–";
  const pct = ratio * 100;
  return `${pct === 0 ? "0" : pct < 0.1 ? "<0.1" : pct.toFixed(1)}%`;
}

function formatP95(seconds) {
  return seconds == null ? "–" : formatDuration(seconds * 1000);
}

function edgeState(edge) {
  if (edge.seen && edge.declared === false) return "undeclared";
  if (edge.declared && edge.seen === false) return "unseen";
  return "ok";
}

// Columns by the longest call path from a caller nobody calls (capped, so a cycle cannot loop);
// within a column, nodes ordered by the mean row of their callers to cut crossings.
function layout(nodes, edges) {
  const ids = nodes.map((n) => n.id);
  const level = new Map(ids.map((id) => [id, 0]));
  for (let pass = 0; pass < ids.length; pass++) {
    let changed = false;
    for (const e of edges) {
      if (!level.has(e.source) || !level.has(e.target) || e.source === e.target) continue;
      const next = level.get(e.source) + 1;
      if (next > level.get(e.target) && next < ids.length) {
        level.set(e.target, next);
        changed = true;
      }
    }
    if (!changed) break;
  }
  // Stores and SaaS sit in the column after their deepest caller (already so); isolated nodes stay in 0.
  const columns = [];
  for (const node of nodes) (columns[level.get(node.id)] ||= []).push(node);
  const position = new Map();
  columns.forEach((column, x) => {
    if (!column) return;
    const weight = (node) => {
      const callers = edges.filter((e) => e.target === node.id && position.has(e.source));
      if (!callers.length) return Number.MAX_SAFE_INTEGER / 2;
      return callers.reduce((sum, e) => sum + position.get(e.source).row, 0) / callers.length;
    };
    column.sort((a, b) => weight(a) - weight(b) || a.id.localeCompare(b.id));
    column.forEach((node, row) => position.set(node.id, { col: x, row, x: 0, y: 0 }));
  });
  const tallest = Math.max(1, ...columns.filter(Boolean).map((c) => c.length));
  for (const column of columns.filter(Boolean)) {
    const offset = ((tallest - column.length) * ROW) / 2;
    for (const node of column) {
      const p = position.get(node.id);
      p.x = 80 + p.col * COL;
      p.y = 60 + offset + p.row * ROW;
    }
  }
  return { position, width: 80 * 2 + (columns.length - 1) * COL, height: 60 + tallest * ROW };
}

function ring(cx, cy, errorRatio) {
  // Grafana's node ring: green for the share of successful calls, red for the errors.
  const ratio = Math.min(1, Math.max(0, errorRatio || 0));
  const base = s("circle", { cx, cy, r: R, fill: "#181b1f", stroke: COLORS.ok, "stroke-width": 4 });
  if (ratio <= 0) return [base];
  if (ratio >= 1) return [s("circle", { cx, cy, r: R, fill: "#181b1f", stroke: COLORS.error, "stroke-width": 4 })];
  const angle = ratio * 2 * Math.PI;
  const x = cx + R * Math.sin(angle);
  const y = cy - R * Math.cos(angle);
  const arc = s("path", {
    d: `M ${cx} ${cy - R} A ${R} ${R} 0 ${angle > Math.PI ? 1 : 0} 1 ${x} ${y}`,
    fill: "none",
    stroke: COLORS.error,
    "stroke-width": 4,
  });
  return [base, arc];
}

function nodeShape(node, p) {
  const kind = node.kind || "service";
  const parts = [];
  if (kind === "service") parts.push(...ring(p.x, p.y, node.errorRatio));
  else {
    parts.push(
      s("rect", {
        x: p.x - R,
        y: p.y - R * 0.8,
        width: R * 2,
        height: R * 1.6,
        rx: kind === "store" ? 10 : R * 0.8,
        fill: "#181b1f",
        stroke: (node.errorRatio || 0) > 0 ? COLORS.error : KIND_STROKE[kind] || COLORS.edge,
        "stroke-width": 3,
        "stroke-dasharray": kind === "saas" ? "6 3" : null,
      }),
    );
  }
  parts.push(
    s("text", { x: p.x, y: p.y + 4, "text-anchor": "middle" }, node.rate != null ? formatRate(node.rate) : kind),
    s("text", { x: p.x, y: p.y + R + 16, "text-anchor": "middle" }, node.title || node.id),
    s(
      "text",
      { x: p.x, y: p.y + R + 30, "text-anchor": "middle", class: "ng-sub" },
      [
        kind !== "service" ? kind : null,
        node.p95Seconds != null ? `p95 ${formatP95(node.p95Seconds)}` : null,
        node.errorRatio ? `${formatRatio(node.errorRatio)} err` : null,
      ]
        .filter(Boolean)
        .join(" · "),
    ),
  );
  const title = s(
    "title",
    {},
    `${node.title || node.id} (${kind})\nrate ${formatRate(node.rate, true)}, errors ${formatRatio(node.errorRatio)}, p95 ${formatP95(node.p95Seconds)}`,
  );
  const group = s("g", { class: "ng-node", "data-node": node.id, "data-kind": kind }, title, parts);
  if (kind === "service") {
    // A service opens its dashboard, as Grafana's node graph data links do.
    const href = `/d/airscope-service?var-service=${encodeURIComponent(node.id)}`;
    return s("a", { href, "aria-label": `${node.title || node.id}: open its dashboard` }, group);
  }
  return group;
}

function edgePath(a, b) {
  if (b.x > a.x) {
    const x1 = a.x + R + 2;
    const x2 = b.x - R - 8;
    const mx = (x1 + x2) / 2;
    return { d: `M ${x1} ${a.y} C ${mx} ${a.y}, ${mx} ${b.y}, ${x2} ${b.y}`, lx: mx, ly: (a.y + b.y) / 2 };
  }
  // A call back to an earlier (or the same) column: an arc below both nodes.
  const low = Math.max(a.y, b.y) + R + 40;
  const x1 = a.x;
  const x2 = b.x + (b.x === a.x ? 8 : 0);
  return {
    d: `M ${x1} ${a.y + R + 2} C ${x1} ${low}, ${x2} ${low}, ${x2} ${b.y + R + 8}`,
    lx: (x1 + x2) / 2,
    ly: low - 10,
  };
}

function edgeShape(edge, position, index) {
  const a = position.get(edge.source);
  const b = position.get(edge.target);
  if (!a || !b) return null;
  const state = edgeState(edge);
  const errors = (edge.errorRatio || 0) > 0;
  const color = state === "undeclared" ? COLORS.undeclared : state === "unseen" ? COLORS.unseen : errors ? COLORS.error : COLORS.edge;
  const { d, lx, ly } = edgePath(a, b);
  const marker = state === "undeclared" ? "ng-arrow-undeclared" : state === "unseen" ? "ng-arrow-unseen" : errors ? "ng-arrow-error" : "ng-arrow";
  // The drawn label stays short (rate, errors when any, the mark) so fanned-out edges stay readable;
  // p95 and the rest are in the tooltip and the table beneath.
  const full = `${formatRate(edge.rate, true)}, errors ${formatRatio(edge.errorRatio)}, p95 ${formatP95(edge.p95Seconds)}`;
  const title = state === "unseen" ? "declared in the catalog, never seen in the spans" : `${full}${state === "undeclared" ? ", not declared in the catalog" : ""}`;
  const label =
    state === "unseen"
      ? "never seen"
      : [formatRate(edge.rate), errors ? `${formatRatio(edge.errorRatio)} err` : null, state === "undeclared" ? "not declared" : null]
          .filter(Boolean)
          .join(" · ");
  const dy = index % 2 ? 11 : -3;
  return s(
    "g",
    { class: "ng-edge", "data-source": edge.source, "data-target": edge.target, "data-state": state },
    s("title", {}, `${edge.source} → ${edge.target}: ${title}`),
    s("path", {
      d,
      fill: "none",
      stroke: color,
      "stroke-width": state === "ok" ? Math.min(4, 1.5 + Math.log10(1 + (edge.rate || 0))) : 2,
      "stroke-dasharray": state === "undeclared" ? "7 4" : state === "unseen" ? "2 4" : null,
      "marker-end": `url(#${marker})`,
    }),
    s("text", { x: lx, y: ly + dy, "text-anchor": "middle", class: "ng-edge-label" }, label),
  );
}

function arrow(id, color) {
  return s(
    "marker",
    { id, viewBox: "0 0 10 10", refX: 8, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
    s("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: color }),
  );
}

function edgeTable(edges) {
  const rows = [...edges].sort((a, b) => a.source.localeCompare(b.source) || a.target.localeCompare(b.target));
  const stateText = { ok: "", undeclared: "observed, not declared in the catalog", unseen: "declared, never seen" };
  return h(
    "details",
    {},
    h("summary", {}, `Calls as a table (${edges.length})`),
    h(
      "table",
      { "aria-label": "Calls" },
      h(
        "thead",
        {},
        h("tr", {}, ["From", "To", "Rate", "Errors", "p95", "Note"].map((t) => h("th", { scope: "col" }, t))),
      ),
      h(
        "tbody",
        {},
        rows.map((e) =>
          h(
            "tr",
            { "data-state": edgeState(e) },
            h("td", {}, e.source),
            h("td", {}, e.target),
            h("td", { class: "num" }, formatRate(e.rate, true)),
            h("td", { class: "num" }, formatRatio(e.errorRatio)),
            h("td", { class: "num" }, formatP95(e.p95Seconds)),
            h("td", {}, stateText[edgeState(e)]),
          ),
        ),
      ),
    ),
  );
}

/** The graph frame drawn into `el`. */
export function renderGraph(el, frame) {
  ensureStyle("ng-style", CSS);
  const nodes = [...(frame.nodes || [])];
  const known = new Set(nodes.map((n) => n.id));
  const edges = frame.edges || [];
  // An edge may name a node the server did not list: draw it anyway rather than lose the call.
  for (const e of edges) {
    for (const id of [e.source, e.target]) {
      if (!known.has(id)) {
        known.add(id);
        nodes.push({ id, title: id, kind: "service" });
      }
    }
  }
  const { position, width, height } = layout(nodes, edges);
  const svg = s(
    "svg",
    {
      viewBox: `0 0 ${Math.max(width, 300)} ${height + 40}`,
      preserveAspectRatio: "xMidYMid meet",
      role: "img",
      "aria-label": `Service map: ${nodes.length} nodes, ${edges.length} calls`,
    },
    s(
      "defs",
      {},
      arrow("ng-arrow", COLORS.edge),
      arrow("ng-arrow-error", COLORS.error),
      arrow("ng-arrow-undeclared", COLORS.undeclared),
      arrow("ng-arrow-unseen", COLORS.unseen),
    ),
    s("g", { class: "ng-edges" }, edges.map((e, i) => edgeShape(e, position, i))),
    s("g", { class: "ng-nodes" }, nodes.map((n) => nodeShape(n, position.get(n.id)))),
  );
  const undeclared = edges.filter((e) => edgeState(e) === "undeclared").length;
  const unseen = edges.filter((e) => edgeState(e) === "unseen").length;
  const legend = h(
    "div",
    { class: "ng-legend" },
    h("span", { style: `--c:${COLORS.edge}` }, "observed call (rate · errors · p95)"),
    h("span", { style: `--c:${COLORS.error}` }, "with errors"),
    h("span", { class: "dash", style: `--c:${COLORS.undeclared}` }, `observed, not declared (${undeclared})`),
    h("span", { class: "dot", style: `--c:${COLORS.unseen}` }, `declared, never seen (${unseen})`),
  );
  const root = h("div", { class: "ng" }, svg, legend, edgeTable(edges));
  el.replaceChildren(root);
  return root;
}

/** The dashboard panel. Returns its state: "data", "empty", "unsupported" or "error". */
export function render(el, panel, frames, ctx) {
  ensureStyle("ng-style", CSS);
  const all = Object.values(frames || {});
  const graph = all.find((frame) => frame.kind === "graph");
  const problems = all.filter((frame) => frame.kind === "error" || frame.kind === "unsupported");
  if (!graph?.nodes?.length && problems.length) {
    el.replaceChildren(...problems.map((frame) => h("p", { class: "ng-note", role: "alert" }, frame.message)));
    return problems.some((frame) => frame.kind === "error") ? "error" : "unsupported";
  }
  if (!graph?.nodes?.length) {
    el.replaceChildren(h("p", { class: "ng-note" }, "No data"));
    return "empty";
  }
  renderGraph(el, graph);
  return "data";
}
