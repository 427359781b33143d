// The two charts of the side panel, drawn by Apache ECharts: reports per day, and 按期结案率 per child.
import * as echarts from "../vendor/echarts/echarts.esm.min.mjs";

const TEXT = "#c7d6e6";
const GRID_LINE = "#24415e";
const FONT = "PingFang SC, Microsoft YaHei, WenQuanYi Micro Hei, sans-serif";
const charts = new Map();

function chart(node) {
  let c = charts.get(node);
  if (!c) {
    c = echarts.init(node, null, { renderer: "canvas" });
    charts.set(node, c);
    new ResizeObserver(() => c.resize()).observe(node);
  }
  return c;
}

const axis = { axisLine: { lineStyle: { color: GRID_LINE } }, axisLabel: { color: TEXT, fontFamily: FONT } };
const base = {
  animation: false,
  textStyle: { fontFamily: FONT, color: TEXT },
  grid: { left: 40, right: 12, top: 28, bottom: 28 },
  tooltip: { trigger: "axis" },
};

export function daily(node, series) {
  const days = series.days.map((d) => d.day.slice(5));
  chart(node).setOption(
    {
      ...base,
      legend: { data: ["上报", "其中待分拨"], textStyle: { color: TEXT }, top: 0, right: 0 },
      xAxis: { type: "category", data: days, ...axis },
      yAxis: { type: "value", minInterval: 1, ...axis, splitLine: { lineStyle: { color: GRID_LINE } } },
      series: [
        { name: "上报", type: "bar", data: series.days.map((d) => d.reports), itemStyle: { color: "#3fa9f5" } },
        { name: "其中待分拨", type: "line", data: series.days.map((d) => d.triage), itemStyle: { color: "#f1b44c" } },
      ],
    },
    true,
  );
}

// `rows`: [{name, rate (0–1 or null), due}] — a child with no due case has no rate and shows as a gap.
export function onTime(node, rows) {
  const names = rows.map((r) => r.name);
  chart(node).setOption(
    {
      ...base,
      grid: { left: 96, right: 36, top: 8, bottom: 24 },
      tooltip: {
        trigger: "axis",
        formatter: (items) => {
          const r = rows[items[0].dataIndex];
          return `${r.name}<br>按期结案率 ${r.rate === null ? "—（无应结案件）" : (r.rate * 100).toFixed(1) + "%"}<br>应结案 ${r.due}`;
        },
      },
      title: rows.some((r) => r.rate !== null)
        ? { show: false }
        : { show: true, text: "统计期内暂无应结案件", left: "center", top: "middle", textStyle: { color: "#8da4bb", fontSize: 13, fontFamily: FONT } },
      xAxis: { type: "value", min: 0, max: 100, ...axis, splitLine: { lineStyle: { color: GRID_LINE } } },
      yAxis: { type: "category", data: names, inverse: true, ...axis },
      series: [
        {
          type: "bar",
          data: rows.map((r) => (r.rate === null ? null : +(r.rate * 100).toFixed(1))),
          itemStyle: { color: (p) => (p.value >= 95 ? "#34c38f" : p.value >= 80 ? "#f1b44c" : "#f46a6a") },
          label: { show: true, position: "right", color: TEXT, formatter: (p) => (p.value === null ? "" : `${p.value}%`) },
        },
      ],
    },
    true,
  );
  node.style.height = `${Math.max(120, 22 * rows.length + 40)}px`;
  chart(node).resize();
}
