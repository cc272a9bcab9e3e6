// Grafana's stat panel: one big value per series (reduced by reduceOptions.calcs), coloured by
// thresholds or value mappings (colorMode value or background), with an optional sparkline
// (graphMode area) and the name shown when there are several values (textMode auto).

const SVG = "http://www.w3.org/2000/svg";

function labelsText(labels) {
  const entries = Object.entries(labels || {}).filter(([k]) => k !== "__name__");
  return entries.length ? `{${entries.map(([k, v]) => `${k}="${v}"`).join(", ")}}` : "";
}

// Every value the panel shows: {name, value, points, config}.
function values(panel, frames, units) {
  const calc = ((panel.options && panel.options.reduceOptions && panel.options.reduceOptions.calcs) || ["lastNotNull"])[0] || "lastNotNull";
  const out = [];
  const refIds = (panel.targets || []).map((t) => t.refId).filter((r) => r in frames);
  for (const r of Object.keys(frames)) if (!refIds.includes(r)) refIds.push(r);
  for (const refId of refIds) {
    const frame = frames[refId];
    if (!frame) continue;
    if (frame.kind === "series") {
      for (const s of frame.series || []) {
        const name = s.name || labelsText(s.labels) || refId;
        const config = units.fieldConfig(panel, { refId, name, displayName: name, type: "number" });
        const points = s.points || [];
        out.push({ name: config.displayName || name, value: units.reduce(points, calc), points, config });
      }
    } else if (frame.kind === "table") {
      const cols = frame.columns || [];
      const valueIndex = cols.lastIndexOf("Value") >= 0 ? cols.lastIndexOf("Value") : cols.length - 1;
      const timeIndex = cols.indexOf("Time");
      for (const row of frame.rows || []) {
        const labels = {};
        cols.forEach((c, i) => {
          if (i !== valueIndex && i !== timeIndex && c !== "__name__") labels[c] = row[i];
        });
        const name = labelsText(labels) || cols[valueIndex] || refId;
        const config = units.fieldConfig(panel, { refId, name, displayName: name, type: "number" });
        const raw = row[valueIndex];
        const value = typeof raw === "string" && raw.trim() !== "" && !Number.isNaN(Number(raw)) ? Number(raw) : raw;
        out.push({ name: config.displayName || name, value, points: [], config });
      }
    }
  }
  return out;
}

function sparkline(points, colour, width, height) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "stat-spark");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("aria-hidden", "true");
  svg.style.height = `${height}px`;
  const pts = points.filter((p) => p[1] !== null && p[1] !== undefined && Number.isFinite(p[1]));
  if (pts.length < 2) return null;
  const x0 = pts[0][0];
  const x1 = pts[pts.length - 1][0];
  let lo = Math.min(...pts.map((p) => p[1]));
  let hi = Math.max(...pts.map((p) => p[1]));
  if (hi === lo) {
    hi += 1;
    lo -= 1;
  }
  const xs = (t) => ((t - x0) / (x1 - x0 || 1)) * width;
  const ys = (v) => height - ((v - lo) / (hi - lo)) * (height - 2) - 1;
  const line = pts.map((p, i) => `${i ? "L" : "M"}${xs(p[0]).toFixed(1)},${ys(p[1]).toFixed(1)}`).join("");
  const area = document.createElementNS(SVG, "path");
  area.setAttribute("d", `${line}L${width},${height}L0,${height}Z`);
  area.setAttribute("fill", colour);
  area.setAttribute("fill-opacity", "0.18");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", line);
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", colour);
  path.setAttribute("stroke-width", "1.5");
  svg.append(area, path);
  return svg;
}

export function render(el, panel, frames, ctx) {
  const { units } = ctx;
  const options = panel.options || {};
  const items = values(panel, frames, units);
  const box = document.createElement("div");
  box.className = "stat";
  el.append(box);
  const width = el.clientWidth || 200;
  const height = el.clientHeight || 100;
  const vertical = options.orientation === "vertical" || ((options.orientation || "auto") === "auto" && items.length > 1 && height > width);
  if (vertical) box.classList.add("vertical");
  const textMode = options.textMode || "auto";
  const showName = textMode === "name" || textMode === "value_and_name" || (textMode === "auto" && items.length > 1);
  const showValue = textMode !== "name" && textMode !== "none";
  const colorMode = options.colorMode || "value";
  const cellW = vertical ? width : width / Math.max(1, items.length) - 8;
  const cellH = vertical ? height / Math.max(1, items.length) - 8 : height;

  for (const item of items) {
    const shown = units.display(item.value, item.config);
    const colour = shown.color || units.color("text");
    const cell = document.createElement("div");
    cell.className = "stat-item";
    cell.dataset.series = item.name;
    if (colorMode === "background" || colorMode === "background_solid") {
      cell.style.background = colorMode === "background_solid" ? colour : `linear-gradient(120deg, ${colour}, ${colour}cc)`;
      cell.style.color = "#fff";
    }
    if (showName) {
      const name = document.createElement("div");
      name.className = "stat-name";
      name.textContent = item.name;
      name.title = item.name;
      cell.append(name);
    }
    if (showValue) {
      const value = document.createElement("div");
      value.className = "stat-value";
      value.textContent = shown.full;
      value.title = shown.full;
      if (colorMode === "value") value.style.color = colour;
      // Grafana sizes the number to its box: by height, and narrower for longer texts.
      const byHeight = (showName ? 0.55 : 0.7) * cellH;
      const byWidth = (cellW * 0.9) / Math.max(2, shown.full.length * 0.58);
      value.style.fontSize = `${Math.max(12, Math.min(byHeight, byWidth, 80))}px`;
      cell.append(value);
    }
    if (options.graphMode === "area" && item.points.length > 1 && cellH > 50) {
      const spark = sparkline(item.points, colorMode === "background" ? "#ffffff" : colour, Math.max(20, Math.round(cellW)), Math.round(cellH * 0.4));
      if (spark) cell.append(spark);
    }
    box.append(cell);
  }
}
