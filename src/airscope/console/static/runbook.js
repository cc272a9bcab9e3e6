// /runbooks/<AlertName>: docs/runbooks/<AlertName>.md as the server renders it (markdown-it-py, no
// raw HTML from the file). Links to other runbooks are console links already; the shell's link
// handler opens them without a reload, and a #fragment scrolls to its heading.
import { api, showError } from "./app.js";

function injectStyle() {
  if (document.getElementById("runbook-style")) return;
  const style = document.createElement("style");
  style.id = "runbook-style";
  style.textContent = `
.runbook { max-width: 920px; line-height: 1.55; }
.runbook h1, .runbook h2, .runbook h3 { scroll-margin-top: 60px; }
.runbook h2 { margin-top: 28px; border-bottom: 1px solid #2c3235; padding-bottom: 4px; }
.runbook code { background: #22252b; padding: 1px 4px; border-radius: 2px; }
.runbook pre { background: #181b1f; border: 1px solid #2c3235; padding: 8px 12px; overflow-x: auto; }
.runbook pre code { background: none; padding: 0; }
.runbook table { border-collapse: collapse; margin: 12px 0; }
.runbook th, .runbook td { border: 1px solid #2c3235; padding: 4px 8px; text-align: left; vertical-align: top; }
.runbook blockquote { border-left: 3px solid #2c3235; margin: 0; padding-left: 12px; color: #9fa7b3; }
.crumb { margin-bottom: 4px; }
`;
  document.head.append(style);
}

export async function mount(el, params) {
  injectStyle();
  const name = params.name;
  document.title = `${name} · Runbook · airscope console`;
  let page;
  try {
    page = await api(`/api/runbooks/${encodeURIComponent(name)}`);
  } catch (err) {
    showError(el, err.message, err.status === 404 ? "Runbook not found" : "Runbook not available");
    el.firstChild.dataset.state = "error";
    return;
  }
  document.title = `${page.title} · Runbook · airscope console`;
  const nav = document.createElement("nav");
  nav.className = "crumb";
  nav.setAttribute("aria-label", "Breadcrumb");
  const back = document.createElement("a");
  back.href = "/alerting/list";
  back.textContent = "Alerts";
  const index = document.createElement("a");
  index.href = "/runbooks/README";
  index.textContent = "All runbooks";
  nav.append(back, " / ", index, ` / ${page.name}`);
  const article = document.createElement("article");
  article.className = "runbook";
  article.dataset.runbook = page.name;
  article.dataset.state = "data";
  // The server escaped every piece of text and refused raw HTML: this is markdown-it-py's own output.
  article.innerHTML = page.html;
  for (const a of article.querySelectorAll('a[href^="http"]')) a.target = "_blank";
  el.append(nav, article);
  if (location.hash) {
    const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (target) target.scrollIntoView();
  }
}
