// The side panel: the four-level view's figures for the area shown (GET /api/v1/views/{code}) — headline
// indicators, cases by state, flows up and down, staffing against 18 per 10,000, the children ranked by the
// composite score — and the charts. A view without `figures` (totals only) still fills what it can.
import { get } from "./api.js";
import * as charts from "./charts.js";
import { LEVELS, el, fmtNum, fmtPct, stateColor, stateLabel } from "./labels.js";

const $ = (id) => document.getElementById(id);
let shown = null; // the area whose figures are on the panel: a late answer for another is dropped

function kpi(label, value, { bad = false, title = "", change = null } = {}) {
  return el(
    "div",
    { class: `kpi${bad ? " bad" : ""}`, title },
    el("b", {}, value),
    el("span", {}, label),
    change ? el("em", {}, change) : null,
  );
}

// The change on the previous period of the same length (较上期): counts as a difference, rates in points.
function change(now, before, rate = false) {
  if (before === undefined || now === null || before === null) return null;
  const d = rate ? (now - before) * 100 : now - before;
  const text = rate ? `${Math.abs(d).toFixed(1)}pt` : `${Math.abs(d)}`;
  return d > 0 ? `↑${text}` : d < 0 ? `↓${text}` : "持平";
}

function shiftDays(iso, days) {
  const d = new Date(`${iso}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

// The same area's view over the period before the one shown, for the headline's changes; null if none.
async function previous(code, view) {
  if (!view.figures || !view.period) return null;
  const from = view.period.from;
  const days = Math.round((new Date(view.period.to) - new Date(from)) / 86400000) + 1;
  const to = shiftDays(from, -1);
  return get(`/api/v1/views/${code}?from=${shiftDays(to, 1 - days)}&to=${to}`).catch(() => null);
}

function facts(node, rows) {
  node.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function headline(view, before) {
  const f = view.figures;
  if (!f) {
    const t = view.totals;
    return [
      kpi("上报总数", t.reports),
      kpi("待分拨", t.triage, { bad: t.triage > 0 }),
      ...Object.entries(t.by_status).map(([s, n]) => kpi(s === "routed" ? "已派遣" : stateLabel(s), n)),
    ];
  }
  const i = f.indicators;
  const b = before && before.figures ? before.figures.indicators : {};
  const count = (name) => change(i[name].value, b[name] && b[name].value);
  const rate = (name) => change(i[name], b[name], true);
  return [
    kpi("受理(上报)", view.totals.reports, { title: "全部上报，含重复" }),
    kpi(i.registered.label, i.registered.value, { change: count("registered") }),
    kpi(i.dispatched.label, i.dispatched.value, { change: count("dispatched") }),
    kpi(i.closed.label, i.closed.value, { change: count("closed") }),
    kpi("结案率", fmtPct(i.closure_rate), { title: "结案数 ÷ (应结案数 − 缓办数)", change: rate("closure_rate") }),
    kpi("按期结案率", fmtPct(i.on_time_rate), { title: "按期结案数 ÷ (应结案数 − 缓办数)", change: rate("on_time_rate") }),
    kpi("返工率", fmtPct(i.rework_rate), { change: rate("rework_rate") }),
    kpi("延期率", fmtPct(i.postpone_rate), { change: rate("postpone_rate") }),
    kpi(i.open_overdue.label, i.open_overdue.value, { bad: i.open_overdue.value > 0 }),
    kpi("平均结案(工时)", fmtNum(i.mean_close_hours, 1)),
    kpi("综合得分", fmtNum(f.score.score, 1), { title: f.score.note || "" }),
    kpi("待分拨", (f.cases_by_state.triage || { value: view.totals.triage }).value, { bad: true }),
  ];
}

function states(view) {
  const f = view.figures;
  const pairs = f
    ? Object.entries(f.cases_by_state).map(([s, fig]) => [s, fig.label, fig.value])
    : Object.entries(view.totals.by_status).map(([s, n]) => [s, stateLabel(s), n]);
  return pairs
    .filter(([, , n]) => n > 0)
    .map(([s, label, n]) => el("span", { class: "chip" }, el("i", { style: `background:${stateColor(s)}` }), `${label} ${n}`));
}

function ranking(view, onChild) {
  const head = el("tr", {}, ...["名次", "区域", "综合得分", "按期结案率", "超期未结", "上报"].map((h) => el("th", {}, h)));
  const rows = view.children.map((c, i) => {
    const f = c.figures;
    return el(
      "tr",
      { dataset: { code: c.code }, onclick: () => onChild(c.code) },
      el("td", {}, f && f.score.rank ? f.score.rank : i + 1),
      el("td", {}, c.name, c.synthetic ? el("span", { class: "muted", title: "边界为生成数据" }, " *") : null),
      el("td", {}, f ? fmtNum(f.score.score, 1) : "—"),
      el("td", {}, f ? fmtPct(f.indicators.on_time_rate) : "—"),
      el("td", {}, f ? f.indicators.open_overdue.value : "—"),
      el("td", {}, c.totals.reports),
    );
  });
  return [el("thead", {}, head), el("tbody", {}, ...rows)];
}

export async function showView(code, { onChild }) {
  const [view, series] = await Promise.all([
    get(`/api/v1/views/${code}`),
    get(`/api/v1/map/series?area_code=${code}&days=30`).catch(() => null),
  ]);
  const level = LEVELS[view.area.level] || "";
  $("view-title").textContent = `${view.area.name}（${level}）`;
  $("view-period").textContent = view.period
    ? `统计期 ${view.period.from || view.period.start} 至 ${view.period.to || view.period.end}` +
      (view.area.synthetic ? " · 边界为生成数据" : "")
    : "";
  $("kpis").replaceChildren(...headline(view, null));
  shown = code;
  previous(code, view).then((before) => before && shown === code && $("kpis").replaceChildren(...headline(view, before)));
  $("states").replaceChildren(...states(view));
  const f = view.figures;
  facts($("flows"), f
    ? [
        [f.flows.escalated_in.label || "下级上报", f.flows.escalated_in.value],
        [f.flows.escalated_out.label || "向上报送", f.flows.escalated_out.value],
        [f.flows.dispatched_down.label || "下派", f.flows.dispatched_down.value],
        [f.flows.returned.label || "回退", f.flows.returned.value],
      ]
    : [["（视图尚未提供流转数据）", ""]]);
  const s = f && f.staffing;
  facts($("staffing"), s
    ? [
        ["网格员", s.grid_workers],
        ["常住人口", s.residents === null ? "—" : `${fmtNum(s.residents)}${s.residents_estimated ? "（估）" : ""}`],
        ["每万人", fmtNum(s.per_10k, 2)],
        ["标准", `${s.target_per_10k} 人/万人`],
        ["达标", s.meets_target === null ? "—" : s.meets_target ? "是" : "否"],
      ]
    : [["（视图尚未提供人员数据）", ""]]);
  $("ranking").replaceChildren(...ranking(view, onChild));
  if (series) charts.daily($("chart-daily"), series);
  charts.onTime(
    $("chart-ontime"),
    view.children.map((c) => ({
      name: c.name,
      rate: c.figures ? c.figures.indicators.on_time_rate : null,
      due: c.figures ? c.figures.indicators.due.value : 0,
    })),
  );
  return view;
}
