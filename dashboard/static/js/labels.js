// Words and colours the page shows. The API's own labels (state_label, role_label, a figure's label) win
// wherever an answer carries them; these are for what arrives as a code only (map points, live events).

export const STATES = {
  triage: ["待分拨", "#f1b44c"],
  dispatched: ["已派遣", "#3fa9f5"],
  in_progress: ["处置中", "#7b6cf6"],
  handled: ["已处置", "#50a5f1"],
  closed: ["已结案", "#34c38f"],
  evaluated: ["已评价", "#2a9d8f"],
  returned: ["已回退", "#e83e8c"],
  rework: ["返工", "#ff7f50"],
  suspended: ["缓办", "#adb5bd"],
  voided: ["已作废", "#6c757d"],
};
export const OPEN_STATES = ["triage", "dispatched", "in_progress", "handled", "returned", "rework", "suspended"];
export const stateLabel = (s) => (STATES[s] ? STATES[s][0] : s);
export const stateColor = (s) => (STATES[s] ? STATES[s][1] : "#999");

export const LEVELS = { city: "市", district: "区县", township: "街道", community: "社区", grid: "网格" };
export const CHILD_OF = { city: "district", district: "township", township: "community", community: "grid" };

export const DUE = { on_time: "正常", warning: "预警", overdue: "超期" };

export const EVENT_KINDS = {
  "report.routed": "新上报",
  "report.triaged": "待分拨",
  "case.transitioned": "状态变更",
  "case.escalated": "上报升级",
};

export const ACTIONS = {
  open: "立案", dispatch: "派遣", accept: "签收", return: "回退", handle: "处置完成", verify: "核查",
  evaluate: "综合评价", postpone: "申请延期", approve: "批准", reject: "驳回", suspend: "申请缓办",
  resume: "恢复办理", escalate: "上报", void: "作废", warn: "超时预警",
};

// Who does what on the page (the API decides; this only hides buttons a role can never use).
export const ROLE_QUEUES = {
  city_dispatch: ["triage", "approvals", "overdue"],
  district: ["approvals", "overdue"],
  township: ["approvals", "overdue"],
  community: ["approvals", "overdue"],
  department: ["new", "overdue"],
};
export const OFFICES = ["community", "township", "district", "city_dispatch"];

const pad = (n) => String(n).padStart(2, "0");
export function fmtTime(iso, withDate = true) {
  if (!iso) return "—";
  const d = new Date(iso);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return withDate ? `${d.getMonth() + 1}月${d.getDate()}日 ${time}` : time;
}
export const fmtPct = (r) => (r === null || r === undefined ? "—" : `${(r * 100).toFixed(1)}%`);
export const fmtNum = (n, digits = 0) =>
  n === null || n === undefined
    ? "—"
    : Number(n).toLocaleString("zh-CN", { minimumFractionDigits: digits, maximumFractionDigits: digits });

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
