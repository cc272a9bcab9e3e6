// The home page (dashboards and the other views) and the /dashboards list, from /api/search.
import { api } from "./app.js";

function tagList(tags) {
  const span = document.createElement("span");
  span.className = "tags";
  for (const tag of tags || []) {
    const t = document.createElement("span");
    t.className = "tag";
    t.textContent = tag;
    span.append(t, " ");
  }
  return span;
}

function dashboardList(items) {
  const ul = document.createElement("ul");
  ul.className = "dash-list";
  for (const item of items) {
    const li = document.createElement("li");
    li.dataset.uid = item.uid;
    const a = document.createElement("a");
    a.className = "dash-title";
    a.href = item.url;
    a.textContent = item.title;
    const count = document.createElement("span");
    count.className = "muted";
    count.textContent = `${item.panels} panels`;
    li.append(a, tagList(item.tags), count);
    ul.append(li);
  }
  return ul;
}

function linksCard() {
  const card = document.createElement("section");
  card.className = "card";
  card.setAttribute("aria-labelledby", "home-views");
  card.innerHTML = `
    <h2 id="home-views">Other views</h2>
    <ul class="link-list">
      <li><a href="/explore?tab=logs">Explore logs</a> <span class="muted">· like Grafana Explore with Loki</span></li>
      <li><a href="/explore?tab=traces">Explore traces</a> <span class="muted">· like Explore with Tempo</span></li>
      <li><a href="/explore?tab=metrics">Explore metrics</a> <span class="muted">· a PromQL box</span></li>
      <li><a href="/alerting/list">Alerts</a> <span class="muted">· firing, pending, notified</span></li>
      <li><a href="/alerting/silences">Silences</a> <span class="muted">· Alertmanager's</span></li>
      <li><a href="/profiles">Profiles</a> <span class="muted">· CPU and memory, from airscope profile and the drills</span></li>
    </ul>
    <p class="muted">This is the local console: it renders the same dashboard files production Grafana loads,
    against the local Prometheus, logs and traces.</p>`;
  return card;
}

export async function mount(el, params, query) {
  const isList = params.path.startsWith("/dashboards");
  document.title = `${isList ? "Dashboards" : "Home"} · airscope console`;
  const h1 = document.createElement("h1");
  h1.textContent = isList ? "Dashboards" : "airscope local console";
  el.append(h1);
  let items;
  try {
    items = await api("/api/search");
  } catch (err) {
    const p = document.createElement("p");
    p.className = "page-error";
    p.setAttribute("role", "alert");
    p.textContent = `The dashboards could not be listed: ${err.message}`;
    el.append(p);
    if (!isList) el.append(linksCard());
    return;
  }
  if (!isList) {
    const grid = document.createElement("div");
    grid.className = "home-grid";
    const card = document.createElement("section");
    card.className = "card";
    card.setAttribute("aria-labelledby", "home-dashboards");
    const h2 = document.createElement("h2");
    h2.id = "home-dashboards";
    h2.textContent = "Dashboards";
    card.append(h2, dashboardList(items));
    grid.append(card, linksCard());
    el.append(grid);
    return;
  }
  const form = document.createElement("form");
  form.className = "search-box";
  form.setAttribute("role", "search");
  form.innerHTML = `<label for="dash-search" class="visually-hidden">Search dashboards</label>
    <input id="dash-search" type="search" placeholder="Search dashboards by name or tag" autocomplete="off">`;
  form.addEventListener("submit", (e) => e.preventDefault());
  const input = form.querySelector("input");
  input.value = query.get("query") || "";
  const holder = document.createElement("div");
  const draw = () => {
    const words = input.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const shown = items.filter((d) => words.every((w) => d.title.toLowerCase().includes(w) || (d.tags || []).some((t) => t.toLowerCase().includes(w))));
    holder.replaceChildren(shown.length ? dashboardList(shown) : Object.assign(document.createElement("p"), { className: "muted", textContent: "No dashboard matches." }));
  };
  input.addEventListener("input", draw);
  draw();
  el.append(form, holder);
}
