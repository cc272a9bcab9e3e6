// Grafana's table panel: a frame's columns and rows (an instant or format: table target), or a
// time series frame as Time, labels and Value; the `organize` transformation (hide, order and
// rename columns); cells formatted by the column's field config; columns sort by their header.

function labelKeys(series) {
  const keys = new Set();
  for (const s of series) for (const k of Object.keys(s.labels || {})) if (k !== "__name__") keys.add(k);
  return [...keys].sort();
}

// A frame as {columns, rows}; null when it is not a table of values.
function asTable(frame) {
  if (frame.kind === "table") return { columns: [...(frame.columns || [])], rows: (frame.rows || []).map((r) => [...r]) };
  if (frame.kind === "series") {
    const keys = labelKeys(frame.series || []);
    const columns = ["Time", ...keys, "Value"];
    const rows = [];
    for (const s of frame.series || []) {
      for (const [ms, value] of s.points || []) rows.push([ms, ...keys.map((k) => (s.labels || {})[k] ?? ""), value]);
    }
    return { columns, rows };
  }
  return null;
}

function organize(table, options) {
  const exclude = options.excludeByName || {};
  const order = options.indexByName || {};
  const rename = options.renameByName || {};
  let indexes = table.columns.map((_, i) => i).filter((i) => !exclude[table.columns[i]]);
  if (Object.keys(order).length) {
    indexes = indexes
      .map((i, pos) => ({ i, pos }))
      .sort((a, b) => (order[table.columns[a.i]] ?? 1000 + a.pos) - (order[table.columns[b.i]] ?? 1000 + b.pos))
      .map((x) => x.i);
  }
  return {
    columns: indexes.map((i) => table.columns[i]),
    display: indexes.map((i) => rename[table.columns[i]] || table.columns[i]),
    rows: table.rows.map((r) => indexes.map((i) => r[i])),
  };
}

function transform(table, transformations) {
  let t = { ...table, display: [...table.columns] };
  for (const tr of transformations || []) {
    if (tr.disabled) continue;
    if (tr.id === "organize") t = organize(t, tr.options || {});
    else if (tr.id === "filterFieldsByName") {
      const names = (tr.options && tr.options.include && tr.options.include.names) || null;
      if (names) t = organize(t, { excludeByName: Object.fromEntries(t.columns.filter((c) => !names.includes(c)).map((c) => [c, true])) });
    }
  }
  return t;
}

function isNumeric(value) {
  return typeof value === "number" || (typeof value === "string" && value.trim() !== "" && !Number.isNaN(Number(value)));
}

function drawTable(holder, panel, refId, table, ctx, caption) {
  const { units } = ctx;
  const t = transform(table, panel.transformations);
  const configs = t.columns.map((name, i) => units.fieldConfig(panel, { refId, name, displayName: t.display[i], type: name === "Time" ? "time" : "number" }));
  const numericCols = t.columns.map((name, i) => name !== "Time" && t.rows.length > 0 && t.rows.every((r) => r[i] === null || r[i] === undefined || isNumeric(r[i])));
  const wrap = document.createElement("div");
  wrap.className = "table-wrap";
  const table_ = document.createElement("table");
  table_.className = "data-table";
  if (caption) {
    const c = document.createElement("caption");
    c.className = "muted";
    c.style.textAlign = "left";
    c.textContent = caption;
    table_.append(c);
  }
  const thead = document.createElement("thead");
  const headRow = document.createElement("tr");
  const tbody = document.createElement("tbody");
  let sortIndex = -1;
  let sortDir = 1;
  const headers = t.display.map((title, i) => {
    const th = document.createElement("th");
    th.scope = "col";
    th.setAttribute("aria-sort", "none");
    if (numericCols[i]) th.style.textAlign = "right";
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = configs[i].displayName || title;
    button.addEventListener("click", () => {
      sortDir = sortIndex === i ? -sortDir : 1;
      sortIndex = i;
      for (const h of headers) h.setAttribute("aria-sort", "none");
      th.setAttribute("aria-sort", sortDir > 0 ? "ascending" : "descending");
      fill();
    });
    th.append(button);
    headRow.append(th);
    return th;
  });
  thead.append(headRow);
  table_.append(thead, tbody);

  function fill() {
    const rows = [...t.rows];
    if (sortIndex >= 0) {
      rows.sort((a, b) => {
        const x = numericCols[sortIndex] ? Number(a[sortIndex]) : String(a[sortIndex] ?? "");
        const y = numericCols[sortIndex] ? Number(b[sortIndex]) : String(b[sortIndex] ?? "");
        return (x < y ? -1 : x > y ? 1 : 0) * sortDir;
      });
    }
    const body = document.createDocumentFragment();
    for (const row of rows) {
      const tr = document.createElement("tr");
      row.forEach((value, i) => {
        const td = document.createElement("td");
        const name = t.columns[i];
        if (name === "Time" && typeof value === "number") {
          td.textContent = units.formatTime(value);
        } else if (numericCols[i] && value !== null && value !== undefined) {
          const shown = units.display(Number(value), configs[i]);
          td.textContent = shown.full;
          td.className = "num";
          const mode = configs[i].custom && (configs[i].custom.cellOptions?.type || configs[i].custom.displayMode);
          if (shown.color && (mode === "color-text")) td.style.color = shown.color;
          if (shown.color && (mode === "color-background" || mode === "color-background-solid")) td.style.background = shown.color;
        } else {
          const mapped = units.mapValue(value, configs[i].mappings);
          td.textContent = mapped && mapped.text ? mapped.text : value === null || value === undefined ? "" : String(value);
        }
        tr.append(td);
      });
      body.append(tr);
    }
    tbody.replaceChildren(body);
  }
  fill();
  wrap.append(table_);
  holder.append(wrap);
}

export function render(el, panel, frames, ctx) {
  const tables = [];
  for (const [refId, frame] of Object.entries(frames)) {
    const table = asTable(frame);
    if (table && table.rows.length) tables.push([refId, table]);
  }
  if (tables.length === 1) {
    drawTable(el, panel, tables[0][0], tables[0][1], ctx, null);
    return;
  }
  // Several frames: one table each (Grafana offers a frame picker; here they stack).
  const stack = document.createElement("div");
  stack.style.cssText = "height:100%;overflow:auto";
  for (const [refId, table] of tables) {
    const part = document.createElement("div");
    drawTable(part, panel, refId, table, ctx, `Query ${refId}`);
    part.firstChild.style.height = "auto";
    stack.append(part);
  }
  el.append(stack);
}
