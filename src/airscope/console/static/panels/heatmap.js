// Grafana's heatmap of Prometheus buckets (a `format: heatmap` target: the server has turned the
// cumulative `le` buckets into per-bucket values, in bucket order): one column per step, one row
// per bucket, the colour scheme and scale of options.color, values at or below filterValues.le
// left blank, the bucket's upper bound on the y axis.

// Grafana's "Oranges" scheme, from dark to bright for a dark background.
const ORANGES = ["#2b1605", "#5a2a05", "#8c2d04", "#d94801", "#f16913", "#fd8d3c", "#fdae6b", "#fdd0a2", "#feedde"];
const SCHEMES = {
  Oranges: ORANGES,
  Reds: ["#2a0606", "#67000d", "#a50f15", "#cb181d", "#ef3b2c", "#fb6a4a", "#fc9272", "#fcbba1", "#fee0d2"],
  Blues: ["#061a33", "#08306b", "#08519c", "#2171b5", "#4292c6", "#6baed6", "#9ecae1", "#c6dbef", "#deebf7"],
  Greens: ["#04220f", "#00441b", "#006d2c", "#238b45", "#41ab5d", "#74c476", "#a1d99b", "#c7e9c0", "#e5f5e0"],
  Spectral: ["#5e4fa2", "#3288bd", "#66c2a5", "#abdda4", "#e6f598", "#fee08b", "#fdae61", "#f46d43", "#d53e4f"],
};

function hex(c) {
  const n = parseInt(c.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function ramp(stops, t) {
  const x = Math.max(0, Math.min(1, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = hex(stops[i]);
  const b = hex(stops[i + 1]);
  return `rgb(${a.map((v, k) => Math.round(v + (b[k] - v) * f)).join(",")})`;
}

function bucketLabel(s) {
  return (s.labels && s.labels.le) || s.name || "";
}

export function render(el, panel, frames, ctx) {
  const { units } = ctx;
  const options = panel.options || {};
  const colorOpts = options.color || {};
  const stops = colorOpts.mode === "opacity" ? ["#181b1f", units.color(colorOpts.fill || "dark-orange")] : SCHEMES[colorOpts.scheme] || ORANGES;
  const stepsCount = colorOpts.steps || 64;
  const scale = colorOpts.scale || "exponential";
  const exponent = colorOpts.exponent ?? 0.5;
  const hideAtOrBelow = options.filterValues && options.filterValues.le !== undefined ? options.filterValues.le : null;
  const cellGap = options.cellGap ?? 1;
  const yUnit = (options.yAxis && options.yAxis.unit) || "short";
  const cellUnit = (options.cellValues && options.cellValues.unit) || undefined;
  const cellDecimals = options.cellValues && options.cellValues.decimals;

  const series = [];
  for (const frame of Object.values(frames)) if (frame.kind === "series") series.push(...(frame.series || []));
  if (frame0IsCumulative(frames)) series.sort((a, b) => Number(bucketLabel(a)) - Number(bucketLabel(b)));
  const times = [...new Set(series.flatMap((s) => (s.points || []).map((p) => p[0])))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  let min = Infinity;
  let max = -Infinity;
  const grid = series.map((s) => {
    const row = new Array(times.length).fill(null);
    for (const [t, v] of s.points || []) {
      if (v === null || v === undefined || Number.isNaN(v)) continue;
      row[index.get(t)] = v;
      if (hideAtOrBelow !== null && v <= hideAtOrBelow) continue;
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    return row;
  });
  if (colorOpts.min !== undefined && colorOpts.min !== null) min = colorOpts.min;
  if (colorOpts.max !== undefined && colorOpts.max !== null) max = colorOpts.max;

  const box = document.createElement("div");
  box.className = "heatmap";
  el.append(box);
  const legendH = options.legend && options.legend.show === false ? 0 : 18;
  const axisW = 56;
  const axisH = 16;
  const width = Math.max(60, el.clientWidth || 400);
  const height = Math.max(40, (el.clientHeight || 200) - legendH);
  const canvas = document.createElement("canvas");
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", `${panel.title}: heatmap of ${series.length} buckets over ${times.length} steps`);
  box.append(canvas);
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  const plotW = width - axisW;
  const plotH = height - axisH;
  const fromMs = ctx.fromMs;
  const toMs = ctx.toMs;
  const stepMs = times.length > 1 ? Math.min(...times.slice(1).map((t, i) => t - times[i])) : (toMs - fromMs) / 60;
  const xOf = (t) => axisW + ((t - fromMs) / (toMs - fromMs)) * plotW;
  const rowH = series.length ? plotH / series.length : plotH;
  const colourOf = (v) => {
    let t = max > min ? (v - min) / (max - min) : 1;
    if (scale === "exponential") t = Math.pow(t, exponent);
    t = Math.round(t * (stepsCount - 1)) / (stepsCount - 1);
    return ramp(stops, colorOpts.reverse ? 1 - t : t);
  };
  grid.forEach((row, r) => {
    const y = plotH - (r + 1) * rowH;
    row.forEach((v, c) => {
      if (v === null || (hideAtOrBelow !== null && v <= hideAtOrBelow)) return;
      const x0 = xOf(times[c] - stepMs);
      const x1 = xOf(times[c]);
      if (x1 < axisW) return;
      g.fillStyle = colourOf(v);
      g.fillRect(Math.max(axisW, x0), y + cellGap / 2, Math.max(1, x1 - Math.max(axisW, x0) - cellGap), Math.max(1, rowH - cellGap));
    });
  });
  // Axes: bucket bounds on the left (as many as fit), times below.
  g.fillStyle = "#8e8e9e";
  g.font = "11px sans-serif";
  g.textAlign = "right";
  g.textBaseline = "middle";
  const every = Math.max(1, Math.ceil(14 / Math.max(1, rowH)));
  series.forEach((s, r) => {
    if (r % every) return;
    const le = bucketLabel(s);
    const n = Number(le);
    const text = le === "+Inf" ? "+Inf" : Number.isFinite(n) ? units.formatValue(n, yUnit) : le;
    g.fillText(text, axisW - 6, plotH - (r + 0.5) * rowH);
  });
  g.textAlign = "center";
  g.textBaseline = "top";
  for (let i = 0; i <= 4; i += 1) {
    const t = fromMs + ((toMs - fromMs) * i) / 4;
    g.textAlign = i === 0 ? "left" : i === 4 ? "right" : "center";
    g.fillText(units.formatTime(t, false).slice(0, 5), axisW + (plotW * i) / 4, plotH + 3);
  }

  // Tooltip: the cell under the pointer.
  const tip = document.createElement("div");
  tip.className = "chart-tip";
  tip.hidden = true;
  box.append(tip);
  canvas.addEventListener("mousemove", (event) => {
    const rect = canvas.getBoundingClientRect();
    const x = event.clientX - rect.left;
    const y = event.clientY - rect.top;
    const r = Math.floor((plotH - y) / rowH);
    const t = fromMs + ((x - axisW) / plotW) * (toMs - fromMs);
    const c = times.findIndex((tm) => tm >= t);
    if (x < axisW || y > plotH || r < 0 || r >= series.length || c < 0) {
      tip.hidden = true;
      return;
    }
    const v = grid[r][c];
    const lower = r > 0 ? bucketLabel(series[r - 1]) : "0";
    tip.textContent = `${units.formatTime(times[c])} · bucket ${lower}–${bucketLabel(series[r])} · ${v === null ? "no data" : units.formatValue(v, cellUnit, cellDecimals)}`;
    tip.style.left = `${event.clientX + 12}px`;
    tip.style.top = `${event.clientY + 12}px`;
    tip.hidden = false;
  });
  canvas.addEventListener("mouseleave", () => {
    tip.hidden = true;
  });

  if (legendH) {
    const legend = document.createElement("div");
    legend.className = "heatmap-legend";
    const rampEl = document.createElement("span");
    rampEl.className = "ramp";
    rampEl.style.background = `linear-gradient(to right, ${stops.join(",")})`;
    const lo = document.createElement("span");
    lo.textContent = Number.isFinite(min) ? units.formatValue(min, cellUnit, cellDecimals) : "";
    const hi = document.createElement("span");
    hi.textContent = Number.isFinite(max) ? units.formatValue(max, cellUnit, cellDecimals) : "";
    legend.append(lo, rampEl, hi);
    box.append(legend);
  }
}

// The server sends buckets in order; sort only when a frame does not say it is a heatmap.
function frame0IsCumulative(frames) {
  return !Object.values(frames).some((f) => f.format === "heatmap");
}
