// Grafana's state timeline: one lane per series, each value held until the next point, equal
// neighbours merged (mergeValues), coloured and named by value mappings or thresholds.

function labelsText(labels) {
  const e = Object.entries(labels || {}).filter(([k]) => k !== "__name__");
  return e.length ? `{${e.map(([k, v]) => `${k}="${v}"`).join(", ")}}` : "";
}

function axis(fromMs, toMs, units) {
  const row = document.createElement("div");
  row.className = "axis";
  row.setAttribute("aria-hidden", "true");
  const span = toMs - fromMs;
  for (let i = 0; i <= 4; i += 1) {
    const s = document.createElement("span");
    s.textContent = units.formatTime(fromMs + (span * i) / 4, span > 86400000).slice(0, span > 86400000 ? 16 : 5);
    row.append(s);
  }
  return row;
}

export function render(el, panel, frames, ctx) {
  const { units } = ctx;
  const options = panel.options || {};
  const merge = options.mergeValues !== false;
  const showValue = options.showValue || "auto";
  const rowHeight = Math.min(1, Math.max(0.1, options.rowHeight ?? 0.9));
  const fromMs = ctx.fromMs;
  const toMs = ctx.toMs;
  const span = Math.max(1, toMs - fromMs);
  const lanes = [];
  for (const [refId, frame] of Object.entries(frames)) {
    if (frame.kind !== "series") continue;
    for (const s of frame.series || []) {
      const name = s.name || labelsText(s.labels) || refId;
      lanes.push({ name, points: s.points || [], config: units.fieldConfig(panel, { refId, name, displayName: name }), step: (frame.step || 0) * 1000 });
    }
  }
  const box = document.createElement("div");
  box.className = "st";
  const rows = document.createElement("div");
  rows.className = "st-rows";
  const width = Math.max(50, (el.clientWidth || 400) - 140);
  const legend = new Map();
  lanes.forEach((lane, laneIndex) => {
    const row = document.createElement("div");
    row.className = "st-row";
    row.dataset.series = lane.name;
    const name = document.createElement("div");
    name.className = "st-name";
    name.textContent = lane.name;
    name.title = lane.name;
    const track = document.createElement("div");
    track.className = "st-lane";
    track.setAttribute("role", "list");
    track.setAttribute("aria-label", `${lane.name} states`);
    const pad = ((1 - rowHeight) / 2) * 100;
    track.style.margin = `${pad}% 0`;
    // Segments: a value holds until the next point; a gap longer than two steps is no data.
    const segments = [];
    const pts = lane.points.filter((p) => p[0] <= toMs);
    pts.forEach(([ms, value], i) => {
      const next = i + 1 < pts.length ? pts[i + 1][0] : Math.min(toMs, ms + (lane.step || span));
      const end = lane.step && next - ms > 2 * lane.step ? ms + lane.step : next;
      if (value === null || value === undefined) return;
      const last = segments[segments.length - 1];
      if (merge && last && last.value === value && last.end >= ms) last.end = end;
      else segments.push({ start: ms, end, value });
    });
    for (const seg of segments) {
      const shown = units.display(seg.value, lane.config);
      const colour = shown.color || units.paletteColor(laneIndex);
      legend.set(shown.full, colour);
      const left = Math.max(0, (seg.start - fromMs) / span);
      const right = Math.min(1, (seg.end - fromMs) / span);
      if (right <= left) continue;
      const div = document.createElement("div");
      div.className = "st-seg";
      div.setAttribute("role", "listitem");
      div.style.left = `${left * 100}%`;
      div.style.width = `${(right - left) * 100}%`;
      div.style.background = colour;
      const opacity = lane.config.custom && lane.config.custom.fillOpacity;
      if (opacity !== undefined) div.style.opacity = String(Math.max(0.2, opacity / 100));
      const label = `${lane.name}: ${shown.full} from ${units.formatTime(seg.start)} to ${units.formatTime(seg.end)}`;
      div.title = label;
      div.setAttribute("aria-label", label);
      const px = (right - left) * width;
      if (showValue === "always" || (showValue === "auto" && px > shown.full.length * 7 + 6)) div.textContent = shown.full;
      track.append(div);
    }
    row.append(name, track);
    rows.append(row);
  });
  box.append(rows, axis(fromMs, toMs, units));
  const legendOpts = options.legend || {};
  if (legendOpts.showLegend !== false && legend.size) {
    const list = document.createElement("div");
    list.className = "axis";
    list.style.justifyContent = "flex-start";
    list.style.gap = "12px";
    for (const [text, colour] of legend) {
      const item = document.createElement("span");
      item.className = "legend-row";
      item.dataset.series = text;
      item.innerHTML = `<span style="display:inline-block;width:10px;height:10px;background:${colour};margin-right:4px"></span>`;
      item.append(text);
      list.append(item);
    }
    box.append(list);
  }
  el.append(box);
}
