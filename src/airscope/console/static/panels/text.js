// Grafana's text panel: `options.content` as markdown (headings, paragraphs, lists, links, code,
// emphasis) or as plain text. No dashboard uses one today; this keeps a future one from failing.
// Markdown is rendered from escaped text only (no raw HTML), so a dashboard cannot inject markup.
import { ensureStyle, h } from "../waterfall.js";

const CSS = `
.text-panel { padding: 4px 8px; overflow: auto; height: 100%; }
.text-panel p, .text-panel ul, .text-panel ol { margin: 0 0 8px; }
.text-panel h1, .text-panel h2, .text-panel h3 { margin: 4px 0 8px; }
`;

function inline(text) {
  // Code spans, links, bold and italics, each to DOM nodes (never innerHTML).
  const out = [];
  const pattern = /`([^`]+)`|\[([^\]]+)\]\(([^)\s]+)\)|\*\*([^*]+)\*\*|\*([^*]+)\*/g;
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    out.push(text.slice(last, m.index));
    if (m[1] !== undefined) out.push(h("code", {}, m[1]));
    else if (m[2] !== undefined) out.push(/^(https?:|\/)/.test(m[3]) ? h("a", { href: m[3] }, m[2]) : m[2]);
    else if (m[4] !== undefined) out.push(h("strong", {}, m[4]));
    else out.push(h("em", {}, m[5]));
    last = m.index + m[0].length;
  }
  out.push(text.slice(last));
  return out;
}

export function markdown(source) {
  const blocks = [];
  let list = null;
  let para = [];
  const flush = () => {
    if (para.length) blocks.push(h("p", {}, inline(para.join(" "))));
    para = [];
  };
  for (const raw of String(source || "").split("\n")) {
    const line = raw.trimEnd();
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    const item = /^\s*(?:[-*]|\d+\.)\s+(.*)$/.exec(line);
    if (heading) {
      flush();
      list = null;
      blocks.push(h(`h${Math.min(6, heading[1].length + 1)}`, {}, inline(heading[2])));
    } else if (item) {
      flush();
      if (!list) blocks.push((list = h(/^\s*\d/.test(line) ? "ol" : "ul")));
      list.append(h("li", {}, inline(item[1])));
    } else if (!line.trim()) {
      flush();
      list = null;
    } else {
      list = null;
      para.push(line.trim());
    }
  }
  flush();
  return blocks;
}

export function render(el, panel) {
  ensureStyle("text-style", CSS);
  const options = panel?.options || {};
  const content = options.content ?? panel?.content ?? "";
  const box = h("div", { class: "text-panel" });
  if ((options.mode || "markdown") === "markdown") box.append(...markdown(content));
  else box.append(h("pre", { style: "white-space:pre-wrap;margin:0" }, content));
  el.replaceChildren(box);
  return content.trim() ? "data" : "empty";
}
