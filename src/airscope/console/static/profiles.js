// /profiles: the CPU and memory profiles `airscope profile` and the drills wrote to <home>/profiles/,
// newest first; /profiles/<name>: one of them. A CPU profile (py-spy's speedscope file) opens in the
// vendored speedscope (static/speedscope/, the npm release as it ships), framed under the console's
// bar with its top functions above; speedscope fetches the file itself from /api/profiles/<name>
// (its #profileURL=). A memory profile (the kit's tracemalloc answer) is a table of the lines that
// grew most. The list and the header read /api/profiles and /api/profiles/<name>/summary.
import { api, showError } from "./app.js";
import { formatTime, formatValue } from "./units.js";

function injectStyle() {
  if (document.getElementById("profiles-style")) return;
  const style = document.createElement("style");
  style.id = "profiles-style";
  style.textContent = `
.profile-cpu { display: flex; flex-direction: column; height: calc(100vh - 48px); }
.profile-cpu .profile-head { flex: none; }
.profile-frame { flex: 1; min-height: 320px; width: 100%; border: 1px solid var(--border); background: #fff; }
.profile-head .crumb { margin-bottom: 4px; }
.profile-facts { display: flex; flex-wrap: wrap; gap: 4px 18px; margin: 0 0 8px; color: var(--muted); }
.profile-facts b { color: var(--text-strong); font-weight: 500; }
.profile-top { margin: 0 0 10px; padding: 0; list-style: none; display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 13px; }
.profile-top code { color: var(--text-strong); }
.profiles-table td.fn, .memory-table td.file { white-space: normal; }
.kind { display: inline-block; padding: 0 6px; border-radius: 2px; font-size: 12px; background: var(--raised); }
.kind-cpu { box-shadow: inset 3px 0 0 #f55f3e; }
.kind-memory { box-shadow: inset 3px 0 0 #6ed0e0; }
.share-bar { display: inline-block; height: 8px; background: #6ed0e0; vertical-align: middle; margin-right: 6px; }
.profiles-empty { max-width: 760px; }
`;
  document.head.append(style);
}

const bytes = (n) => (n === null || n === undefined ? "–" : formatValue(n, "bytes"));
const percent = (share) => `${(share * 100).toFixed(share >= 0.1 ? 0 : 1)}%`;

function when(entry) {
  return formatTime(entry.whenMs);
}

// `airscope profile`'s arguments for a supervisor program name: mcp-server@2 is --instance 2.
function profileArgs(program) {
  const [service, instance] = program.split("@");
  return instance ? `${service} --instance ${instance}` : service;
}

function code(text) {
  const c = document.createElement("code");
  c.textContent = text;
  return c;
}

function cell(text, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  if (text instanceof Node) td.append(text);
  else td.textContent = text;
  return td;
}

function kindBadge(kind) {
  const span = document.createElement("span");
  span.className = `kind kind-${kind}`;
  span.textContent = kind === "cpu" ? "CPU" : "memory";
  return span;
}

// What a list row says of the top: the function with the largest own share, or the line that grew most.
function topText(entry) {
  if (entry.problem) return entry.problem;
  const top = entry.top;
  if (!top) return entry.kind === "cpu" ? "no samples" : "nothing grew";
  if (entry.kind === "cpu") return `${top.name} (${top.file}:${top.line}) ${percent(top.own)} own`;
  return `${top.file}:${top.line} +${bytes(top.grown_bytes)}`;
}

function crumb(name) {
  const nav = document.createElement("nav");
  nav.className = "crumb";
  nav.setAttribute("aria-label", "Breadcrumb");
  const back = document.createElement("a");
  back.href = "/profiles";
  back.textContent = "Profiles";
  nav.append(back, ` / ${name}`);
  return nav;
}

function facts(pairs) {
  const p = document.createElement("p");
  p.className = "profile-facts";
  for (const [label, value] of pairs) {
    const span = document.createElement("span");
    const b = document.createElement("b");
    b.textContent = value;
    span.append(`${label} `, b);
    p.append(span);
  }
  return p;
}

async function list(el) {
  document.title = "Profiles · airscope console";
  const h1 = document.createElement("h1");
  h1.textContent = "Profiles";
  el.append(h1);
  let answer;
  try {
    answer = await api("/api/profiles");
  } catch (err) {
    showError(el, err.message, "Profiles not available");
    el.firstChild.dataset.state = "error";
    return;
  }
  const intro = document.createElement("p");
  intro.className = "muted";
  intro.append("CPU profiles (py-spy) and memory profiles (tracemalloc) taken by ", code("airscope profile SERVICE"), ` and by the drills, newest first, from ${answer.directory}.`);
  el.append(intro);
  if (!answer.profiles.length) {
    const empty = document.createElement("p");
    empty.className = "profiles-empty";
    empty.dataset.state = "empty";
    empty.append("No profile yet. Take one with ", code(".venv/bin/airscope profile mcp-server --duration 10s"), " (CPU) or add ", code("--memory"), "; a drill that slows or fills a service attaches one too.");
    el.append(empty);
    return;
  }
  const table = document.createElement("table");
  table.className = "data-table profiles-table";
  table.dataset.state = "data";
  table.innerHTML = `<thead><tr><th scope="col">When</th><th scope="col">Program</th><th scope="col">Kind</th>
    <th scope="col" class="num">Size</th><th scope="col">Top</th></tr></thead>`;
  const body = document.createElement("tbody");
  for (const entry of answer.profiles) {
    const tr = document.createElement("tr");
    tr.dataset.profile = entry.name;
    const a = document.createElement("a");
    a.href = entry.url;
    a.textContent = when(entry);
    a.title = entry.name;
    tr.append(cell(a), cell(entry.program), cell(kindBadge(entry.kind)), cell(bytes(entry.bytes), "num"), cell(topText(entry), "fn"));
    if (entry.problem) tr.lastChild.classList.add("muted");
    body.append(tr);
  }
  table.append(body);
  el.append(table);
}

function speedscopeUrl(entry) {
  // speedscope splits its hash on & and =, then decodes each value.
  const hash = [
    `profileURL=${encodeURIComponent(entry.raw)}`,
    `title=${encodeURIComponent(`${entry.program} ${when(entry)}`)}`,
    // Left heavy: the same stacks merged, widest first, so the hot path reads from the left.
    "view=left-heavy",
  ].join("&");
  return `/static/speedscope/index.html#${hash}`;
}

function cpu(el, entry) {
  el.className = "profile-cpu";
  const head = document.createElement("div");
  head.className = "profile-head";
  const h1 = document.createElement("h1");
  h1.textContent = `CPU profile of ${entry.program}`;
  const own = document.createElement("a");
  own.href = speedscopeUrl(entry);
  own.target = "_blank";
  own.textContent = "open speedscope alone";
  const raw = document.createElement("a");
  raw.href = entry.raw;
  raw.setAttribute("download", entry.name);
  raw.textContent = "download";
  head.append(
    crumb(entry.name),
    h1,
    facts([
      ["taken", when(entry)],
      ["samples", String(entry.samples)],
      ["threads", String(entry.threads)],
      ["size", bytes(entry.bytes)],
    ]),
  );
  const top = document.createElement("ul");
  top.className = "profile-top";
  top.setAttribute("aria-label", "Top functions by own time");
  for (const fn of entry.functions.slice(0, 5)) {
    const li = document.createElement("li");
    li.dataset.function = fn.name;
    const code = document.createElement("code");
    code.textContent = fn.name;
    li.append(code, ` ${percent(fn.own)} own, ${percent(fn.total)} total `, Object.assign(document.createElement("span"), { className: "muted", textContent: `${fn.file}:${fn.line}` }));
    top.append(li);
  }
  const links = document.createElement("p");
  links.className = "muted";
  links.style.margin = "0 0 6px";
  links.append("Flame graph by speedscope (left heavy: the same stacks merged; Sandwich lists every function) · ", own, " · ", raw);
  head.append(top, links);
  if (!entry.samples) {
    // speedscope would open an empty profile on its start screen: say why there is nothing instead.
    const empty = document.createElement("p");
    empty.className = "profiles-empty";
    empty.dataset.state = "empty";
    empty.append(`No samples: ${entry.program} ran no Python on a CPU while it was sampled (idle). `, code(`airscope profile ${profileArgs(entry.program)} --idle`), " samples its waiting threads too.");
    head.append(empty);
    el.append(head);
    return;
  }
  const frame = document.createElement("iframe");
  frame.className = "profile-frame";
  frame.title = `speedscope: ${entry.name}`;
  frame.src = speedscopeUrl(entry);
  frame.dataset.state = "data";
  el.append(head, frame);
}

function memory(el, entry) {
  const h1 = document.createElement("h1");
  h1.textContent = `Memory profile of ${entry.program}`;
  const p = document.createElement("p");
  p.className = "muted";
  p.textContent = `The source lines whose allocations grew most while tracemalloc watched for ${entry.seconds} s (25 frames deep, the line that allocated).`;
  el.append(
    crumb(entry.name),
    h1,
    facts([
      ["taken", when(entry)],
      ["watched", `${entry.seconds} s`],
      ["traced at the end", bytes(entry.traced_bytes)],
      ["peak", bytes(entry.peak_bytes)],
    ]),
    p,
  );
  if (!entry.lines.length) {
    const empty = document.createElement("p");
    empty.dataset.state = "empty";
    empty.textContent = "Nothing grew during the window.";
    el.append(empty);
    return;
  }
  const largest = Math.max(...entry.lines.map((line) => line.grown_bytes), 1);
  const table = document.createElement("table");
  table.className = "data-table memory-table";
  table.dataset.state = "data";
  table.innerHTML = `<thead><tr><th scope="col" class="num">#</th><th scope="col">File</th><th scope="col" class="num">Line</th>
    <th scope="col" class="num">Grown</th><th scope="col" class="num">Blocks</th></tr></thead>`;
  const body = document.createElement("tbody");
  entry.lines.forEach((line, i) => {
    const tr = document.createElement("tr");
    tr.dataset.file = line.file;
    tr.dataset.line = String(line.line);
    const grown = document.createElement("span");
    const bar = document.createElement("span");
    bar.className = "share-bar";
    bar.style.width = `${Math.max(1, Math.round((60 * line.grown_bytes) / largest))}px`;
    grown.append(bar, bytes(line.grown_bytes));
    tr.append(cell(String(i + 1), "num"), cell(line.file, "file"), cell(String(line.line), "num"), cell(grown, "num"), cell(String(line.count), "num"));
    body.append(tr);
  });
  table.append(body);
  el.append(table);
}

export async function mount(el, params) {
  injectStyle();
  if (!params.name) return list(el);
  const name = params.name;
  document.title = `${name} · Profiles · airscope console`;
  let entry;
  try {
    entry = await api(`/api/profiles/${encodeURIComponent(name)}/summary`);
  } catch (err) {
    showError(el, err.message, err.status === 404 ? "Profile not found" : "Profile not available");
    el.firstChild.dataset.state = "error";
    return;
  }
  if (entry.problem) {
    showError(el, `${entry.name}: ${entry.problem}`, "Profile not readable");
    el.firstChild.dataset.state = "error";
    return;
  }
  document.title = `${entry.program} ${entry.kind === "cpu" ? "CPU" : "memory"} profile · airscope console`;
  if (entry.kind === "cpu") cpu(el, entry);
  else memory(el, entry);
}
