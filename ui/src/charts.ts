// Small SVG charts, drawn here rather than pulled from a charting library: two chart kinds,
// no interaction, and everything must work offline.
import { el } from "./dom";
import type { DayCount } from "./transport";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Horizontal bars, largest first: e.g. how memories spread over tags. */
export function barChart(title: string, bars: { label: string; value: number }[]): HTMLElement {
  const figure = el("figure", { className: "chart bar-chart" }, el("figcaption", {}, title));
  if (bars.length === 0) {
    figure.append(el("p", { className: "muted" }, "Nothing yet."));
    return figure;
  }
  const max = Math.max(...bars.map((b) => b.value));
  const row = 18;
  const chart = svg("svg", { width: 320, height: bars.length * row, role: "img", "aria-label": title });
  bars.forEach((bar, i) => {
    const width = Math.max(2, (bar.value / max) * 180);
    chart.append(
      svg("text", { x: 0, y: i * row + 13, class: "label" }, bar.label.slice(0, 16)),
      svg("rect", { x: 110, y: i * row + 3, width, height: row - 6, rx: 2, class: "bar" }),
      svg("text", { x: 114 + width, y: i * row + 13, class: "value" }, String(bar.value)));
  });
  figure.append(chart);
  return figure;
}

/** One column per day, at least the last 30 days up to the newest memory. */
export function timelineChart(title: string, days: DayCount[]): HTMLElement {
  const figure = el("figure", { className: "chart timeline-chart" }, el("figcaption", {}, title));
  if (days.length === 0) {
    figure.append(el("p", { className: "muted" }, "Nothing yet."));
    return figure;
  }
  const last = Date.parse(days[days.length - 1].day);
  const first = Math.min(Date.parse(days[0].day), last - 29 * 86_400_000);
  const span = Math.round((last - first) / 86_400_000) + 1;
  const max = Math.max(...days.map((d) => d.count));
  const width = 320;
  const height = 80;
  const column = width / span;
  const chart = svg("svg", { width, height: height + 16, role: "img", "aria-label": title });
  for (const day of days) {
    const x = (Math.round((Date.parse(day.day) - first) / 86_400_000)) * column;
    const h = Math.max(2, (day.count / max) * height);
    const bar = svg("rect", { x, y: height - h, width: Math.max(1, column - 1), height: h, class: "bar" });
    bar.append(svg("title", {}, `${day.day}: ${day.count}`));
    chart.append(bar);
  }
  chart.append(
    svg("text", { x: 0, y: height + 13, class: "label" }, new Date(first).toISOString().slice(0, 10)),
    svg("text", { x: width, y: height + 13, class: "label", "text-anchor": "end" }, days[days.length - 1].day));
  figure.append(chart);
  return figure;
}
