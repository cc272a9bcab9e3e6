// Grafana's time series panel, drawn with uPlot (the library Grafana's own panel is built on).
//
// `render(el, panel, frames, ctx)` draws every "series" frame of `frames` ({refId: Frame}) in one
// chart, synchronously, and returns "data" or "empty" (all values null). It honours what the generator's dashboards set and what
// Grafana honours beside it: fieldConfig.defaults (unit, decimals, min, max, thresholds, color and
// custom: drawStyle, lineWidth, fillOpacity, lineInterpolation, showPoints, spanNulls, stacking,
// thresholdsStyle, axisPlacement, axisLabel, axisSoftMin/Max, hideFrom), overrides by name, regexp
// or refId, options.legend (list / table / hidden, placement, calcs, sortBy) and options.tooltip
// (single / multi / none, sort). Exemplars are links (diamonds) to /explore?trace=<id>.
//
// `ctx` = {from, to, fromMs, toMs, navigate(url), dashboard} as dashboard.js gives it: fromMs/toMs
// (or from/to in Grafana's relative grammar) fix the x axis to the requested range; navigate opens
// an exemplar's trace without reloading. Units, colours, overrides and reducers are units.js's, so
// this panel shows a value exactly as the stat and table panels do.
//
// Markup the tests read: each legend entry is `.legend-row` with `data-series` (the displayed name)
// and `data-last` (the last non-null value, raw), and `.legend-last` holds the displayed last value
// when the legend's calcs show it; exemplars are `a.exemplar[data-trace-id]`.

import * as units from "../units.js";
// Vendored from the npm registry by `airscope console vendor` (static/vendor/MANIFEST.json).
import uPlot from "../vendor/uPlot.esm.js";

const UPLOT_CSS = "/static/vendor/uPlot.min.css";

const EXEMPLAR_COLOR = "#FADE2A";
// More markers than this hide the lines under them and cost a DOM node each; an even sample keeps
// the shape of where traces were caught.
const MAX_EXEMPLARS = 300;

// The stat panel's reducers (units.js) plus the few more Grafana's legend offers.
const CALC_NAMES = {
  ...units.CALC_NAMES,
  median: "Median", stdDev: "StdDev", variance: "Variance", allIsNull: "All null",
  allIsZero: "All zero", changeCount: "Change count", distinctCount: "Distinct count",
  logmin: "Min (above zero)",
};

const CSS = `
.ts-panel { display: flex; flex-direction: column; width: 100%; height: 100%; min-height: 0; min-width: 0; }
.ts-panel.legend-right { flex-direction: row; }
.ts-chart { position: relative; flex: 1 1 0; min-height: 0; min-width: 0; overflow: hidden; }
/* Out of the flow, so the chart's size comes from the panel alone and a resize cannot feed itself. */
.ts-chart > .uplot { position: absolute; top: 0; left: 0; font-family: inherit; }
.ts-legend { flex: 0 1 auto; max-height: 40%; overflow: auto; font-size: 12px; color: #ccccdc; padding: 2px 4px 0; }
.legend-right .ts-legend { max-height: none; max-width: 40%; }
.ts-legend[hidden] { display: none; }
.ts-legend.list { display: flex; flex-wrap: wrap; gap: 2px 14px; align-content: flex-start; }
.legend-right .ts-legend.list { flex-direction: column; flex-wrap: nowrap; }
.ts-legend div.legend-row { display: flex; align-items: center; gap: 6px; white-space: nowrap; }
.ts-legend .legend-name { display: inline-flex; align-items: center; gap: 6px; background: none; border: 0;
  color: inherit; font: inherit; padding: 1px 2px; cursor: pointer; text-align: left; }
.ts-legend .legend-name:focus-visible { outline: 2px solid #3d71d9; outline-offset: 1px; }
.ts-legend .legend-swatch { display: inline-block; width: 14px; height: 4px; border-radius: 1px; flex: none; }
.ts-legend .off { opacity: 0.45; }
.ts-legend .legend-calc { color: #9fa7b3; }
.ts-legend .legend-calc b { color: #ccccdc; font-weight: 500; }
.ts-legend table { border-collapse: collapse; width: 100%; }
.ts-legend th { color: #6e9fff; font-weight: 500; text-align: right; padding: 2px 8px; white-space: nowrap; }
.ts-legend th:first-child { text-align: left; }
.ts-legend th button { background: none; border: 0; color: inherit; font: inherit; cursor: pointer; padding: 0; }
.ts-legend td { text-align: right; padding: 1px 8px; border-top: 1px solid #2c3235; }
.ts-legend td:first-child { text-align: left; }
.ts-tooltip { position: absolute; z-index: 20; pointer-events: none; background: #22252b; border: 1px solid #34373c;
  border-radius: 3px; padding: 6px 8px; font-size: 12px; color: #ccccdc; white-space: nowrap;
  box-shadow: 0 4px 8px rgba(0,0,0,0.5); }
.ts-tooltip .tt-time { color: #9fa7b3; margin-bottom: 4px; }
.ts-tooltip .tt-row { display: flex; align-items: center; gap: 6px; }
.ts-tooltip .tt-row b { margin-left: auto; padding-left: 12px; font-weight: 500; }
.ts-tooltip .tt-focus { font-weight: 600; }
.ts-chart a.exemplar { position: absolute; width: 9px; height: 9px; margin: -5px 0 0 -5px; z-index: 10;
  transform: rotate(45deg); background: ${EXEMPLAR_COLOR}; border: 1px solid #111217; cursor: pointer; }
.ts-chart a.exemplar:hover, .ts-chart a.exemplar:focus-visible { outline: 2px solid #ffffff; outline-offset: 1px; }
.ts-empty { color: #9fa7b3; display: flex; align-items: center; justify-content: center; height: 100%; }
`;

function ensureStyle() {
  if (document.getElementById("ts-panel-style")) return;
  const style = document.createElement("style");
  style.id = "ts-panel-style";
  style.textContent = CSS;
  document.head.append(style);
}

// index.html links uPlot's stylesheet; a page that does not (a test's) gets it here.
function ensureUPlotStyle() {
  if (document.querySelector(`link[href="${UPLOT_CSS}"]`)) return;
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = UPLOT_CSS;
  document.head.append(link);
}

// ---- values: units.js formats them as the stat and table panels do ----

function format(value, unit, decimals) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "-";
  return units.formatValue(value, unit, decimals ?? undefined);
}

// An axis label: a set decimals is kept; auto decimals lose their trailing zeros ("0.05 req/s", not
// "0.0500 req/s"), as the ticks of a round increment need none.
function tickLabel(value, unit, decimals) {
  const text = format(value, unit, decimals);
  if ((decimals !== undefined && decimals !== null) || String(unit).startsWith("currency")) return text;
  return text.replace(/(\d)\.(\d*?)0+(?!\d)/, (m, whole, frac) => (frac ? `${whole}.${frac}` : whole));
}

// ---- colours ----

export function colorOf(name, fallback) {
  return name ? units.color(name) : fallback;
}

function withAlpha(color, alpha) {
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color || "");
  if (!hex) return color;
  let h = hex[1];
  if (h.length === 3) h = h.split("").map((c) => c + c).join("");
  const n = parseInt(h, 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}

// ---- field config: defaults plus the overrides that match a series (units.js, shared by panels) ----

export function fieldFor(panel, name, refId) {
  const config = units.fieldConfig(panel, { refId, name, displayName: name, type: "number" });
  config.custom = config.custom || {};
  return config;
}

// ---- data: every series frame aligned on one time axis ----

function toNumber(value) {
  if (value === null || value === undefined) return null;
  const n = typeof value === "number" ? value : Number(value);
  return Number.isFinite(n) ? n : null;
}

export function collect(frames) {
  const series = [];
  const exemplars = [];
  let stepMs = 0;
  for (const [refId, frame] of Object.entries(frames || {})) {
    if (!frame || frame.kind !== "series") continue;
    if (frame.step) stepMs = stepMs ? Math.min(stepMs, frame.step * 1000) : frame.step * 1000;
    for (const s of frame.series || []) {
      series.push({ refId, name: s.name || "", labels: s.labels || {}, points: s.points || [] });
    }
    for (const e of frame.exemplars || []) {
      if (e && e.traceId && Number.isFinite(e.ms) && toNumber(e.value) !== null) exemplars.push({ ...e, refId });
    }
  }
  const stamps = new Set();
  for (const s of series) for (const p of s.points) stamps.add(Number(p[0]));
  let xs = [...stamps].sort((a, b) => a - b);
  // A scrape Prometheus did not answer leaves no point: an x with nulls draws the gap Grafana draws
  // (lines are not joined across a missing step unless spanNulls says so).
  if (stepMs && xs.length > 1) {
    const filled = [xs[0]];
    for (let i = 1; i < xs.length; i++) {
      if (xs[i] - xs[i - 1] > stepMs * 1.5) filled.push(xs[i - 1] + stepMs);
      filled.push(xs[i]);
    }
    xs = filled;
  }
  const index = new Map(xs.map((x, i) => [x, i]));
  for (const s of series) {
    const values = new Array(xs.length).fill(null);
    for (const [ms, v] of s.points) values[index.get(Number(ms))] = toNumber(v);
    s.values = values;
  }
  return { xs, series, exemplars, stepMs };
}

// ---- legend calculations (Grafana's reducers) ----

export function calc(name, values) {
  if (name in units.CALC_NAMES) return units.reduce(values.map((v) => [0, v]), name);
  const real = values.filter((v) => v !== null);
  const sum = real.reduce((a, b) => a + b, 0);
  switch (name) {
    case "median": {
      if (!real.length) return null;
      const sorted = [...real].sort((a, b) => a - b);
      const mid = Math.floor(sorted.length / 2);
      return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
    case "variance":
    case "stdDev": {
      if (!real.length) return null;
      const mean = sum / real.length;
      const variance = real.reduce((a, v) => a + (v - mean) ** 2, 0) / real.length;
      return name === "variance" ? variance : Math.sqrt(variance);
    }
    case "allIsNull":
      return real.length === 0 ? 1 : 0;
    case "allIsZero":
      return real.length > 0 && real.every((v) => v === 0) ? 1 : 0;
    case "changeCount": {
      let n = 0;
      for (let i = 1; i < real.length; i++) if (real[i] !== real[i - 1]) n++;
      return n;
    }
    case "distinctCount":
      return new Set(real).size;
    default:
      return null;
  }
}

// ---- stacking (uPlot's own stacking recipe: cumulative values and bands between neighbours) ----

function stackGroups(items, length) {
  const groups = new Map();
  items.forEach((item, i) => {
    const stacking = item.config.custom.stacking || {};
    const mode = stacking.mode || "none";
    if (mode === "none" || item.config.custom.hideFrom?.viz) return;
    const key = `${mode}|${stacking.group || "A"}|${item.scaleKey}`;
    if (!groups.has(key)) groups.set(key, { mode, members: [] });
    groups.get(key).members.push(i);
  });
  const bands = [];
  for (const { mode, members } of groups.values()) {
    const totals = new Array(length).fill(0);
    if (mode === "percent") {
      for (const i of members) items[i].values.forEach((v, x) => (totals[x] += Math.abs(v ?? 0)));
    }
    const acc = new Array(length).fill(0);
    let below = null;
    for (const i of members) {
      const item = items[i];
      item.stacked = item.values.map((v, x) => {
        acc[x] += v ?? 0;
        if (v === null) return null;
        return mode === "percent" ? (totals[x] ? acc[x] / totals[x] : 0) : acc[x];
      });
      item.stackMode = mode;
      if (below !== null) bands.push({ series: [i + 1, below + 1] });
      below = i;
    }
  }
  return bands;
}

// ---- time axis labels (24-hour, like Grafana's) ----

const pad = (n) => String(n).padStart(2, "0");

export function formatTime(ms, withDate = false, withSeconds = false) {
  const d = new Date(ms);
  let text = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (withSeconds) text += `:${pad(d.getSeconds())}`;
  if (withDate) text = `${pad(d.getMonth() + 1)}/${pad(d.getDate())} ${text}`;
  return text;
}

function timeLabels(u, splits, axisIdx, space, incr) {
  const span = (u.scales.x.max ?? 0) - (u.scales.x.min ?? 0);
  return splits.map((ms) => {
    if (incr >= 86400000) return `${pad(new Date(ms).getMonth() + 1)}/${pad(new Date(ms).getDate())}`;
    return formatTime(ms, span > 86400000, incr < 60000);
  });
}

// ---- the time range the panel shows ----

function rangeOf(ctx) {
  if (!ctx) return null;
  const pick = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > a ? [a, b] : null);
  if (ctx.fromMs !== undefined) return pick(Number(ctx.fromMs), Number(ctx.toMs));
  if (ctx.range && typeof ctx.range === "object") return pick(Number(ctx.range.from ?? ctx.range.fromMs), Number(ctx.range.to ?? ctx.range.toMs));
  return pick(parseEnd(ctx.from, false), parseEnd(ctx.to, true));
}

const UNIT_MS = { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7, w: 6.048e8, M: 2.592e9, y: 3.1536e10 };

// Grafana's relative grammar (now, now-1h, epoch ms); rounding (now/d) is left to the data's extent.
function parseEnd(text, end) {
  if (typeof text === "number") return text;
  const value = String(text ?? "").trim();
  if (/^\d{10,}$/.test(value)) return Number(value);
  const m = /^now(?:\s*([+-])\s*(\d+)\s*([smhdwMy]))?$/.exec(value);
  if (!m) return NaN;
  const now = Date.now();
  return m[1] ? now + (m[1] === "-" ? -1 : 1) * Number(m[2]) * UNIT_MS[m[3]] : end ? now : NaN;
}

// ---- render ----

// Charts still drawn, so one whose element left the page (a refresh draws into a new element) is
// destroyed: uPlot holds window listeners until then.
const live = new Set();
// Series a click hid, per panel, kept across refreshes as Grafana keeps them.
const hiddenByPanel = new Map();

function sweep() {
  for (const chart of live) {
    if (!chart.el.isConnected) chart.destroy();
  }
}

// Synchronous (uPlot came with this module), so the caller's data-state follows a drawn chart.
export function render(el, panel, frames, ctx = {}) {
  ensureStyle();
  ensureUPlotStyle();
  sweep();
  if (el.__timeseries) el.__timeseries.destroy();
  return draw(el, panel, frames, ctx);
}

function draw(el, panel, frames, ctx) {
  const { xs, series, exemplars } = collect(frames);
  const options = panel.options || {};
  const panelKey = `${ctx.dashboard ?? ""}/${panel.id ?? panel.title ?? ""}`;
  const hiddenBefore = hiddenByPanel.get(panelKey) || new Set();

  const items = series.map((s, i) => {
    const config = fieldFor(panel, s.name, s.refId);
    const fallback = units.paletteColor(i);
    const color = config.color && config.color.mode === "fixed" ? colorOf(config.color.fixedColor, fallback) : fallback;
    const name = config.displayName || s.name || s.refId;
    return { ...s, config, color, name, values: s.values, stacked: null, stackMode: "none" };
  });

  const hasData = items.some((item) => item.values.some((v) => v !== null));
  if (!hasData) {
    el.replaceChildren();
    const empty = document.createElement("div");
    empty.className = "ts-empty";
    empty.textContent = "No data";
    el.append(empty);
    return "empty";
  }

  // One y scale per unit: the first unit on the left, others on the right, as Grafana places them.
  const scaleUnits = [];
  for (const item of items) {
    let unit = item.config.unit || "none";
    if (item.config.custom.stacking?.mode === "percent") unit = "percentunit";
    if (!scaleUnits.includes(unit)) scaleUnits.push(unit);
    item.unit = unit;
    item.scaleKey = scaleUnits.indexOf(unit) === 0 ? "y" : `y${scaleUnits.indexOf(unit) + 1}`;
  }
  const bands = stackGroups(items, xs.length);

  const chart = document.createElement("div");
  chart.className = "ts-chart";
  const legend = document.createElement("div");
  const legendOpts = options.legend || {};
  const legendMode = legendOpts.showLegend === false ? "hidden" : legendOpts.displayMode || "list";
  legend.className = `ts-legend ${legendMode}`;
  legend.hidden = legendMode === "hidden";
  legend.setAttribute("aria-label", `Legend of ${panel.title || "the panel"}`);
  el.replaceChildren(chart, legend);
  el.classList.add("ts-panel");
  el.classList.toggle("legend-right", legendOpts.placement === "right");

  const scales = { x: { time: true } };
  const range = rangeOf(ctx);
  if (range) scales.x.range = () => range;
  const axes = [
    {
      stroke: "#9fa7b3",
      grid: { stroke: "rgba(204,204,220,0.07)", width: 1 },
      ticks: { stroke: "rgba(204,204,220,0.07)", width: 1 },
      values: timeLabels,
      font: "11px sans-serif",
    },
  ];
  scaleUnits.forEach((unit, n) => {
    const key = n === 0 ? "y" : `y${n + 1}`;
    const owners = items.filter((item) => item.scaleKey === key);
    const first = owners[0].config;
    const stackedPercent = owners.some((item) => item.stackMode === "percent");
    const stacked = owners.some((item) => item.stackMode === "normal");
    const hardMin = toNumber(first.min);
    const hardMax = toNumber(first.max);
    const softMin = toNumber(first.custom.axisSoftMin);
    const softMax = toNumber(first.custom.axisSoftMax);
    const log = first.custom.scaleDistribution?.type === "log";
    scales[key] = {
      distr: log ? 3 : 1,
      log: log ? first.custom.scaleDistribution.log || 2 : undefined,
      range: (u, dataMin, dataMax) => {
        if (stackedPercent) return [0, 1];
        let lo = dataMin ?? 0;
        let hi = dataMax ?? 1;
        if (softMin !== null) lo = Math.min(lo, softMin);
        if (softMax !== null) hi = Math.max(hi, softMax);
        if (stacked) lo = Math.min(lo, 0);
        let [a, b] = log ? uPlot.rangeLog(Math.max(lo, 1e-9), hi, first.custom.scaleDistribution.log || 2, true) : uPlot.rangeNum(lo, hi, 0.1, true);
        if (!log && lo >= 0 && a < 0) a = 0; // padding never invents negative values
        if (hardMin !== null) a = hardMin;
        if (hardMax !== null) b = hardMax;
        if (b <= a) b = a + 1;
        return [a, b];
      },
    };
    const placement = first.custom.axisPlacement;
    const decimals = first.decimals;
    axes.push({
      scale: key,
      show: placement !== "hidden",
      side: placement === "right" || (placement !== "left" && n > 0) ? 1 : 3,
      label: first.custom.axisLabel || undefined,
      labelFont: "12px sans-serif",
      stroke: "#9fa7b3",
      grid: { show: n === 0, stroke: "rgba(204,204,220,0.07)", width: 1 },
      ticks: { show: false },
      font: "11px sans-serif",
      values: (u, splits) => splits.map((v) => tickLabel(v, unit, decimals)),
      // Wide enough for the longest label ("1.50 GiB", "$1.2K"), measured, not guessed.
      size: (u, values) => {
        if (!values) return 40;
        const longest = Math.max(...values.map((v) => String(v).length));
        return Math.max(32, Math.ceil(longest * 6.6) + 14);
      },
    });
  });

  const thresholds = (panel.fieldConfig?.defaults?.thresholds) || null;
  const thresholdsMode = panel.fieldConfig?.defaults?.custom?.thresholdsStyle?.mode || "off";

  const useries = [{ value: (u, v) => (v === null ? "" : formatTime(v, true, true)) }];
  items.forEach((item) => {
    const c = item.config.custom;
    const width = toNumber(c.lineWidth) ?? 1;
    const fillOpacity = (toNumber(c.fillOpacity) ?? 0) / 100;
    const draw = c.drawStyle || "line";
    let paths;
    if (draw === "bars") paths = uPlot.paths.bars({ size: [0.6, 100], align: c.barAlignment ?? 0 });
    else if (draw === "points") paths = () => null;
    else if (c.lineInterpolation === "smooth") paths = uPlot.paths.spline();
    else if (c.lineInterpolation === "stepBefore") paths = uPlot.paths.stepped({ align: -1 });
    else if (c.lineInterpolation === "stepAfter") paths = uPlot.paths.stepped({ align: 1 });
    const showPoints = draw === "points" || c.showPoints === "always" ? true : c.showPoints === "never" ? false : undefined;
    useries.push({
      label: item.name,
      scale: item.scaleKey,
      stroke: item.color,
      width: draw === "bars" ? Math.max(width, 1) : width,
      fill: fillOpacity > 0 ? withAlpha(item.color, fillOpacity) : undefined,
      paths,
      spanGaps: Boolean(c.spanNulls),
      dash: c.lineStyle?.fill === "dash" ? c.lineStyle.dash || [10, 10] : c.lineStyle?.fill === "dot" ? [1, 6] : undefined,
      points: { show: showPoints, size: draw === "points" ? Math.max(4, (toNumber(c.pointSize) ?? 5)) : undefined, fill: item.color },
      show: !hiddenBefore.has(item.name) && !c.hideFrom?.viz,
    });
  });

  const data = [xs, ...items.map((item) => item.stacked || item.values)];

  function drawThresholds(u, layer) {
    if (!thresholds || !Array.isArray(thresholds.steps) || thresholdsMode === "off" || thresholdsMode === "series") return;
    const wantArea = thresholdsMode.includes("area");
    const wantLine = thresholdsMode.includes("line") || thresholdsMode.includes("dashed");
    if ((layer === "area" && !wantArea) || (layer === "line" && !wantLine)) return;
    const scale = u.scales.y;
    if (scale.min === undefined || scale.max === undefined) return;
    const c = u.ctx;
    const { left, top, width, height } = u.bbox;
    const steps = thresholds.steps.map((step) => {
      let value = step.value === null || step.value === undefined ? -Infinity : Number(step.value);
      if (thresholds.mode === "percentage" && Number.isFinite(value)) value = scale.min + ((scale.max - scale.min) * value) / 100;
      return { value, color: colorOf(step.color, "#73BF69") };
    });
    c.save();
    c.beginPath();
    c.rect(left, top, width, height);
    c.clip();
    steps.forEach((step, i) => {
      const yFrom = Number.isFinite(step.value) ? u.valToPos(step.value, "y", true) : top + height;
      const next = steps[i + 1];
      const yTo = next ? u.valToPos(next.value, "y", true) : top;
      if (layer === "area") {
        c.fillStyle = withAlpha(step.color, 0.15);
        c.fillRect(left, Math.min(yFrom, yTo), width, Math.abs(yFrom - yTo));
      } else if (Number.isFinite(step.value)) {
        c.strokeStyle = step.color;
        c.lineWidth = Math.max(1, devicePixelRatio);
        c.setLineDash(thresholdsMode.includes("dashed") ? [10 * devicePixelRatio, 10 * devicePixelRatio] : []);
        c.beginPath();
        c.moveTo(left, Math.round(yFrom) + 0.5);
        c.lineTo(left + width, Math.round(yFrom) + 0.5);
        c.stroke();
      }
    });
    c.restore();
  }

  // Exemplars: real links over the plot, so a click, a middle-click and the keyboard all open the trace.
  const shown = exemplars.length > MAX_EXEMPLARS ? exemplars.filter((_, i) => i % Math.ceil(exemplars.length / MAX_EXEMPLARS) === 0) : exemplars;
  const exemplarLinks = [];
  const exemplarLayer = document.createElement("div");
  for (const e of shown) {
    const a = document.createElement("a");
    a.className = "exemplar";
    a.href = `/explore?trace=${encodeURIComponent(e.traceId)}`;
    a.dataset.traceId = e.traceId;
    const labelText = Object.entries(e.labels || {}).map(([k, v]) => `${k}=${v}`).join(", ");
    const valueText = format(toNumber(e.value), items[0]?.unit, undefined);
    a.title = `Exemplar ${formatTime(e.ms, true, true)}: ${valueText}\ntrace ${e.traceId}${labelText ? `\n${labelText}` : ""}`;
    a.setAttribute("aria-label", `Exemplar at ${formatTime(e.ms, true, true)}, ${valueText}: open trace ${e.traceId}`);
    a.addEventListener("click", (event) => {
      if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      if (typeof ctx.navigate === "function") {
        event.preventDefault();
        ctx.navigate(a.getAttribute("href"));
      }
    });
    exemplarLinks.push({ a, ms: e.ms, value: toNumber(e.value) });
  }

  function placeExemplars(u) {
    for (const { a, ms, value } of exemplarLinks) {
      const x = u.valToPos(ms, "x");
      const y = u.valToPos(value, "y");
      const inside = x >= 0 && x <= u.bbox.width / devicePixelRatio && y >= 0 && y <= u.bbox.height / devicePixelRatio;
      // Outside the plot (a hard max below the value): not in the page at all, so no hidden link
      // takes a tab stop or a test's first match.
      if (!inside) {
        a.remove();
        continue;
      }
      a.style.left = `${x}px`;
      a.style.top = `${y}px`;
      if (!a.isConnected) exemplarLayer.append(a);
    }
  }

  const tooltipOpts = options.tooltip || {};
  const tooltipMode = tooltipOpts.mode || "single";
  const tooltip = document.createElement("div");
  tooltip.className = "ts-tooltip";
  tooltip.hidden = true;
  tooltip.setAttribute("role", "status");

  function showTooltip(u) {
    const idx = u.cursor.idx;
    if (tooltipMode === "none" || idx === null || idx === undefined || u.cursor.left < 0) {
      tooltip.hidden = true;
      return;
    }
    let rows = items
      .map((item, i) => ({ item, i, value: item.values[idx] }))
      .filter(({ item, i }) => u.series[i + 1].show && !item.config.custom.hideFrom?.tooltip);
    if (tooltipMode === "single") {
      // The series nearest the pointer, as Grafana's single mode shows.
      let best = null;
      for (const row of rows) {
        const plotted = data[row.i + 1][idx];
        if (plotted === null || plotted === undefined) continue;
        const distance = Math.abs(u.valToPos(plotted, row.item.scaleKey) - u.cursor.top);
        if (!best || distance < best.distance) best = { ...row, distance };
      }
      rows = best ? [best] : [];
    } else if (tooltipOpts.sort === "asc" || tooltipOpts.sort === "desc") {
      const sign = tooltipOpts.sort === "asc" ? 1 : -1;
      rows.sort((a, b) => sign * ((a.value ?? -Infinity) - (b.value ?? -Infinity)));
    }
    if (!rows.length) {
      tooltip.hidden = true;
      return;
    }
    tooltip.replaceChildren();
    const time = document.createElement("div");
    time.className = "tt-time";
    time.textContent = formatTime(xs[idx], true, true);
    tooltip.append(time);
    for (const { item, value } of rows) {
      const row = document.createElement("div");
      row.className = "tt-row";
      const swatch = document.createElement("span");
      swatch.className = "legend-swatch";
      swatch.style.cssText = `display:inline-block;width:10px;height:10px;border-radius:2px;background:${item.color}`;
      const name = document.createElement("span");
      name.textContent = item.name;
      const val = document.createElement("b");
      val.textContent = format(value, item.unit, item.config.decimals);
      row.append(swatch, name, val);
      tooltip.append(row);
    }
    tooltip.hidden = false;
    const plotWidth = u.over.clientWidth;
    const left = u.cursor.left + 14;
    const wide = tooltip.offsetWidth;
    tooltip.style.left = `${left + wide > plotWidth ? Math.max(0, u.cursor.left - wide - 14) : left}px`;
    tooltip.style.top = `${Math.max(0, u.cursor.top - tooltip.offsetHeight / 2)}px`;
  }

  const size = () => ({ width: Math.max(chart.clientWidth, 120) || 400, height: Math.max(chart.clientHeight, 60) || 200 });

  const opts = {
    ...size(),
    ms: 1,
    pxAlign: 0,
    legend: { show: false },
    cursor: {
      points: { show: false },
      drag: { x: false, y: false, setScale: false },
      focus: { prox: 30 },
    },
    focus: { alpha: 0.6 },
    scales,
    axes,
    series: useries,
    bands: bands.map((b) => ({ ...b, fill: undefined })),
    hooks: {
      drawAxes: [(u) => drawThresholds(u, "area")],
      draw: [(u) => drawThresholds(u, "line"), placeExemplars],
      setCursor: [showTooltip],
    },
  };

  // Legend rows first, so the chart gets the height left over.
  buildLegend(legend, items, legendOpts, (i, isolate) => toggle(i, isolate));
  const plot = new uPlot({ ...opts, ...size() }, data, chart);
  exemplarLayer.style.cssText = "position:absolute;inset:0;pointer-events:none";
  for (const { a } of exemplarLinks) {
    a.style.pointerEvents = "auto";
    exemplarLayer.append(a);
  }
  plot.over.append(exemplarLayer, tooltip);
  plot.over.addEventListener("mouseleave", () => (tooltip.hidden = true));
  placeExemplars(plot);

  function toggle(i, isolate) {
    const visible = items.map((_, j) => plot.series[j + 1].show);
    if (isolate) {
      // Grafana's click: show only this series; clicking the only one shown brings all back.
      const onlyThis = visible.every((show, j) => show === (j === i));
      items.forEach((_, j) => plot.setSeries(j + 1, { show: onlyThis ? true : j === i }));
    } else {
      plot.setSeries(i + 1, { show: !visible[i] });
    }
    const hidden = new Set(items.filter((_, j) => !plot.series[j + 1].show).map((item) => item.name));
    hiddenByPanel.set(panelKey, hidden);
    for (const row of legend.querySelectorAll(".legend-row")) {
      row.classList.toggle("off", hidden.has(row.dataset.series));
      const button = row.querySelector(".legend-name");
      if (button) button.setAttribute("aria-pressed", String(!hidden.has(row.dataset.series)));
    }
  }
  if (hiddenBefore.size) for (const row of legend.querySelectorAll(".legend-row")) row.classList.toggle("off", hiddenBefore.has(row.dataset.series));

  const resize = new ResizeObserver(() => {
    const next = size();
    if (next.width !== plot.width || next.height !== plot.height) plot.setSize(next);
  });
  resize.observe(chart);
  const chartEntry = {
    el,
    plot,
    destroy() {
      live.delete(chartEntry);
      if (el.__timeseries === chartEntry) el.__timeseries = null;
      resize.disconnect();
      plot.destroy();
    },
  };
  el.__timeseries = chartEntry;
  live.add(chartEntry);
  return "data";
}

function buildLegend(legend, items, legendOpts, onToggle) {
  const calcs = (legendOpts.calcs || []).filter((name) => name in CALC_NAMES);
  const lastCalc = calcs.includes("lastNotNull") ? "lastNotNull" : calcs.includes("last") ? "last" : null;
  const rows = items
    .filter((item) => !item.config.custom.hideFrom?.legend)
    .map((item) => ({
      item,
      index: items.indexOf(item),
      values: Object.fromEntries(calcs.map((name) => [name, calc(name, item.values)])),
      last: calc("lastNotNull", item.values),
    }));
  if (legendOpts.sortBy) {
    const key = Object.keys(CALC_NAMES).find((name) => CALC_NAMES[name] === legendOpts.sortBy || name === legendOpts.sortBy);
    if (key) {
      const sign = legendOpts.sortDesc ? -1 : 1;
      rows.sort((a, b) => sign * ((a.values[key] ?? -Infinity) - (b.values[key] ?? -Infinity)));
    }
  }

  const nameButton = ({ item, index }) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "legend-name";
    button.setAttribute("aria-pressed", "true");
    button.title = "Click to show only this series; Ctrl-click to hide or show it";
    const swatch = document.createElement("span");
    swatch.className = "legend-swatch";
    swatch.style.background = item.color;
    const label = document.createElement("span");
    label.textContent = item.name;
    button.append(swatch, label);
    button.addEventListener("click", (event) => onToggle(index, !(event.ctrlKey || event.metaKey || event.shiftKey)));
    return button;
  };
  const mark = (node, { item, last }) => {
    node.classList.add("legend-row");
    node.dataset.series = item.name;
    if (last !== null) node.dataset.last = String(last);
  };

  if (legend.classList.contains("table")) {
    const table = document.createElement("table");
    const head = document.createElement("tr");
    const nameHead = document.createElement("th");
    nameHead.scope = "col";
    nameHead.textContent = "Name";
    head.append(nameHead);
    for (const name of calcs) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = CALC_NAMES[name];
      head.append(th);
    }
    const thead = document.createElement("thead");
    thead.append(head);
    const tbody = document.createElement("tbody");
    for (const row of rows) {
      const tr = document.createElement("tr");
      mark(tr, row);
      const first = document.createElement("td");
      first.append(nameButton(row));
      tr.append(first);
      for (const name of calcs) {
        const td = document.createElement("td");
        td.className = `legend-calc${name === lastCalc ? " legend-last" : ""}`;
        td.dataset.calc = name;
        td.textContent = format(row.values[name], row.item.unit, row.item.config.decimals);
        tr.append(td);
      }
      tbody.append(tr);
    }
    table.append(thead, tbody);
    legend.append(table);
    return;
  }
  for (const row of rows) {
    const div = document.createElement("div");
    mark(div, row);
    div.append(nameButton(row));
    for (const name of calcs) {
      const span = document.createElement("span");
      span.className = "legend-calc";
      span.dataset.calc = name;
      const value = document.createElement("b");
      value.textContent = format(row.values[name], row.item.unit, row.item.config.decimals);
      if (name === lastCalc) value.className = "legend-last";
      span.append(`${CALC_NAMES[name]}: `, value);
      div.append(span);
    }
    legend.append(div);
  }
}
