// Grafana's value display: units, decimals (picked by value when a panel sets none, as Grafana
// does), thresholds, value mappings, named colours and field overrides, for every panel module.

// Decimals Grafana shows for a value when the panel sets none: two significant digits, a third
// when the leading digits are above 2.25 (so 2.5 keeps its 5), none for whole numbers.
export function autoDecimals(value) {
  if (!Number.isFinite(value) || value === 0) return 0;
  const abs = Math.abs(value);
  let dec = -Math.floor(Math.log10(abs)) + 1;
  if (abs / Math.pow(10, -dec) > 2.25) dec += 1;
  if (value % 1 === 0) dec = 0;
  return Math.max(0, dec);
}

export function toFixed(value, decimals) {
  if (value === null || value === undefined || Number.isNaN(value)) return "";
  if (!Number.isFinite(value)) return value > 0 ? "∞" : "-∞";
  const d = decimals === null || decimals === undefined ? autoDecimals(value) : Math.max(0, Math.min(20, Math.round(decimals)));
  if (value === 0) return (0).toFixed(d);
  const factor = Math.pow(10, d);
  const rounded = Math.round(value * factor) / factor;
  const text = String(rounded);
  if (text.includes("e")) return text;
  // Pad to the asked precision (Grafana shows 1.50 when decimals is 2).
  return rounded.toFixed(d);
}

function scaled(factor, suffixes) {
  return (value, decimals) => {
    let v = value;
    let step = 0;
    while (Math.abs(v) >= factor && step < suffixes.length - 1) {
      v /= factor;
      step += 1;
    }
    return { text: toFixed(v, decimals), suffix: suffixes[step] };
  };
}

const countSuffixes = ["", "K", "M", "B", "T"];

function countUnit(symbol) {
  const scale = scaled(1000, countSuffixes);
  return (value, decimals) => {
    const r = scale(value, decimals);
    return { text: r.text, suffix: `${r.suffix} ${symbol}` };
  };
}

function fixedUnit(suffix) {
  return (value, decimals) => ({ text: toFixed(value, decimals), suffix });
}

function fromMilliseconds(ms, decimals) {
  const abs = Math.abs(ms);
  if (abs < 1000) return { text: toFixed(ms, decimals), suffix: " ms" };
  if (abs < 60000) return { text: toFixed(ms / 1000, decimals), suffix: " s" };
  if (abs < 3600000) return { text: toFixed(ms / 60000, decimals), suffix: " min" };
  if (abs < 86400000) return { text: toFixed(ms / 3600000, decimals), suffix: " hour" };
  if (abs < 31536000000) return { text: toFixed(ms / 86400000, decimals), suffix: " day" };
  return { text: toFixed(ms / 31536000000, decimals), suffix: " year" };
}

function fromSeconds(s, decimals) {
  const abs = Math.abs(s);
  if (abs === 0) return { text: toFixed(0, decimals), suffix: " s" };
  if (abs < 0.000001) return { text: toFixed(s * 1e9, decimals), suffix: " ns" };
  if (abs < 0.001) return { text: toFixed(s * 1e6, decimals), suffix: " µs" };
  if (abs < 1) return fromMilliseconds(s * 1000, decimals);
  if (abs < 60) return { text: toFixed(s, decimals), suffix: " s" };
  if (abs < 3600) return { text: toFixed(s / 60, decimals), suffix: " min" };
  if (abs < 86400) return { text: toFixed(s / 3600, decimals), suffix: " hour" };
  if (abs < 604800) return { text: toFixed(s / 86400, decimals), suffix: " day" };
  if (abs < 31536000) return { text: toFixed(s / 604800, decimals), suffix: " week" };
  return { text: toFixed(s / 31536000, decimals), suffix: " year" };
}

function currency(symbol) {
  const scale = scaled(1000, countSuffixes);
  return (value, decimals) => {
    const r = scale(value, decimals);
    return { prefix: symbol, text: r.text, suffix: r.suffix };
  };
}

export const UNITS = {
  none: fixedUnit(""),
  short: scaled(1000, ["", " K", " Mil", " Bil", " Tri", " Quadr", " Quint", " Sext", " Sept"]),
  percent: fixedUnit("%"),
  percentunit: (value, decimals) => ({ text: toFixed(value * 100, decimals), suffix: "%" }),
  s: fromSeconds,
  ms: fromMilliseconds,
  reqps: countUnit("req/s"),
  ops: countUnit("ops/s"),
  rps: countUnit("rd/s"),
  wps: countUnit("wr/s"),
  bytes: scaled(1024, [" B", " KiB", " MiB", " GiB", " TiB", " PiB", " EiB", " ZiB", " YiB"]),
  decbytes: scaled(1000, [" B", " kB", " MB", " GB", " TB", " PB", " EB", " ZB", " YB"]),
  currencyUSD: currency("$"),
  currencyEUR: currency("€"),
};

// Parts of a displayed value: {prefix, text, suffix}. A unit the console does not know is shown
// after the number, as Grafana does with a custom unit.
export function formatParts(value, unit, decimals) {
  if (value === null || value === undefined || (typeof value === "number" && Number.isNaN(value))) return { prefix: "", text: "", suffix: "" };
  if (typeof value !== "number") return { prefix: "", text: String(value), suffix: "" };
  // No unit is Grafana's "none" (its display processor's default), not "short".
  const fn = UNITS[unit || "none"] || ((v, d) => ({ text: toFixed(v, d), suffix: unit ? ` ${unit}` : "" }));
  const r = fn(value, decimals);
  return { prefix: r.prefix || "", text: r.text, suffix: r.suffix || "" };
}

export function formatValue(value, unit, decimals) {
  const p = formatParts(value, unit, decimals);
  return `${p.prefix}${p.text}${p.suffix}`;
}

// Grafana's named colours (its dark theme's shades), so a threshold's "red" looks like Grafana's.
const NAMED = {
  green: "#73BF69", "dark-green": "#37872D", "semi-dark-green": "#56A64B", "light-green": "#96D98D", "super-light-green": "#C8F2C2",
  red: "#F2495C", "dark-red": "#C4162A", "semi-dark-red": "#E02F44", "light-red": "#FF7383", "super-light-red": "#FFA6B0",
  yellow: "#FADE2A", "dark-yellow": "#E0B400", "semi-dark-yellow": "#F2CC0C", "light-yellow": "#FFEE52", "super-light-yellow": "#FFF899",
  orange: "#FF9830", "dark-orange": "#FA6400", "semi-dark-orange": "#FF780A", "light-orange": "#FFB357", "super-light-orange": "#FFCB7D",
  blue: "#5794F2", "dark-blue": "#1F60C4", "semi-dark-blue": "#3274D9", "light-blue": "#8AB8FF", "super-light-blue": "#C0D8FF",
  purple: "#B877D9", "dark-purple": "#8F3BB8", "semi-dark-purple": "#A352CC", "light-purple": "#CA95E5", "super-light-purple": "#DEB6F2",
  text: "#ccccdc", transparent: "transparent",
};

export function color(name) {
  if (!name) return NAMED.text;
  return NAMED[name] || NAMED[String(name).toLowerCase()] || name;
}

// Grafana's classic palette, for series and rows that have no colour of their own.
export const PALETTE = ["#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1", "#BA43A9", "#705DA0", "#508642", "#CCA300", "#447EBC", "#C15C17", "#890F02", "#0A437C", "#6D1F62", "#584477"];

export function paletteColor(i) {
  return PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length];
}

// The threshold step a value falls in (the last step whose value it reaches); percentage mode
// measures the value between min and max.
export function thresholdStep(value, thresholds, min, max) {
  const steps = (thresholds && thresholds.steps) || [];
  if (!steps.length || value === null || value === undefined || Number.isNaN(value)) return null;
  let v = value;
  if (thresholds.mode === "percentage") {
    const lo = min ?? 0;
    const hi = max ?? 100;
    v = hi === lo ? 0 : ((value - lo) / (hi - lo)) * 100;
  }
  let found = steps[0];
  for (const step of steps) {
    if (step.value === null || step.value === undefined || step.value === -Infinity || v >= step.value) found = step;
  }
  return found;
}

export function thresholdColor(value, config) {
  const step = thresholdStep(value, config.thresholds, config.min, config.max);
  return step ? color(step.color) : null;
}

// Value mappings (value, range, regex, special): {text, color} for the value, or null.
export function mapValue(value, mappings) {
  for (const mapping of mappings || []) {
    const o = mapping.options || {};
    if (mapping.type === "value") {
      const key = value === null || value === undefined ? null : String(value);
      if (key !== null && Object.prototype.hasOwnProperty.call(o, key)) return o[key];
      if (typeof value === "number") {
        for (const k of Object.keys(o)) if (Number(k) === value) return o[k];
      }
    } else if (mapping.type === "range" && typeof value === "number") {
      const from = o.from ?? -Infinity;
      const to = o.to ?? Infinity;
      if (value >= from && value <= to) return o.result || null;
    } else if (mapping.type === "regex" && value !== null && value !== undefined) {
      try {
        if (new RegExp(o.pattern).test(String(value))) return o.result || null;
      } catch {
        /* a bad pattern maps nothing, as in Grafana */
      }
    } else if (mapping.type === "special") {
      const m = o.match;
      const hit =
        (m === "null" && (value === null || value === undefined)) ||
        (m === "nan" && typeof value === "number" && Number.isNaN(value)) ||
        (m === "null+nan" && (value === null || value === undefined || Number.isNaN(value))) ||
        (m === "true" && value === true) ||
        (m === "false" && value === false) ||
        (m === "empty" && value === "");
      if (hit) return o.result || null;
    }
  }
  return null;
}

function matches(matcher, field) {
  if (!matcher) return false;
  const opt = matcher.options;
  switch (matcher.id) {
    case "byFrameRefID":
      return field.refId === opt;
    case "byName":
      return field.name === opt || field.displayName === opt;
    case "byRegexp":
      try {
        return new RegExp(opt).test(field.displayName ?? field.name ?? "");
      } catch {
        return false;
      }
    case "byType":
      return opt === (field.type || "number");
    default:
      return false;
  }
}

function setPath(target, id, value) {
  const parts = id.split(".");
  let obj = target;
  for (const part of parts.slice(0, -1)) {
    obj[part] = { ...(obj[part] || {}) };
    obj = obj[part];
  }
  obj[parts[parts.length - 1]] = value;
}

// A field's effective config: the panel's fieldConfig.defaults with every matching override's
// properties applied in order (unit, decimals, min, max, thresholds, mappings, color,
// displayName, custom.*). `field` is {refId, name, displayName, type}.
export function fieldConfig(panel, field = {}) {
  const fc = (panel && panel.fieldConfig) || {};
  const config = structuredClone(fc.defaults || {});
  config.custom = config.custom || {};
  for (const override of fc.overrides || []) {
    if (!matches(override.matcher, field)) continue;
    for (const prop of override.properties || []) setPath(config, prop.id, prop.value);
  }
  return config;
}

// The displayed text and colour of one value under a field config.
export function display(value, config) {
  const mapped = mapValue(value, config.mappings);
  if (mapped && mapped.text !== undefined && mapped.text !== "") {
    return { text: mapped.text, prefix: "", suffix: "", full: mapped.text, color: mapped.color ? color(mapped.color) : thresholdColor(value, config) };
  }
  const parts = formatParts(value, config.unit, config.decimals);
  const full = value === null || value === undefined ? "No data" : `${parts.prefix}${parts.text}${parts.suffix}`;
  let c = mapped && mapped.color ? color(mapped.color) : null;
  if (!c && config.color && config.color.mode === "fixed") c = color(config.color.fixedColor);
  if (!c) c = typeof value === "number" ? thresholdColor(value, config) : null;
  return { ...parts, full, color: c };
}

// The reducers of Grafana's reduceOptions.calcs, over a list of [ms, value] points.
export function reduce(points, calc) {
  const values = points.map((p) => p[1]).filter((v) => v !== null && v !== undefined && !Number.isNaN(v));
  switch (calc) {
    case "last":
      return points.length ? points[points.length - 1][1] : null;
    case "lastNotNull":
      return values.length ? values[values.length - 1] : null;
    case "first":
      return points.length ? points[0][1] : null;
    case "firstNotNull":
      return values.length ? values[0] : null;
    case "mean":
      return values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
    case "sum":
      return values.length ? values.reduce((a, b) => a + b, 0) : null;
    case "max":
      return values.length ? Math.max(...values) : null;
    case "min":
      return values.length ? Math.min(...values) : null;
    case "count":
      return values.length;
    case "range":
      return values.length ? Math.max(...values) - Math.min(...values) : null;
    case "delta": {
      let d = 0;
      for (let i = 1; i < values.length; i += 1) d += Math.max(0, values[i] - values[i - 1]);
      return values.length ? d : null;
    }
    case "diff":
      return values.length ? values[values.length - 1] - values[0] : null;
    default:
      return values.length ? values[values.length - 1] : null;
  }
}

export const CALC_NAMES = { last: "Last", lastNotNull: "Last *", first: "First", firstNotNull: "First *", mean: "Mean", sum: "Total", max: "Max", min: "Min", count: "Count", range: "Range", delta: "Delta", diff: "Difference" };

export function formatTime(ms, withDate = true) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return withDate ? `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}` : time;
}
