// A case's card: its reports and photos, history, deadline and who holds it, and the actions the signed-in
// role may take. Each action goes to the API; its answer is the case as it now stands, shown at once, and a
// refusal (403, 404, 409) shows the API's Chinese detail.
import { ApiError, current, get, request } from "./api.js";
import { ACTIONS, DUE, LEVELS, OFFICES, el, fmtTime, stateColor, stateLabel } from "./labels.js";
import { departmentPicker } from "./departments.js";

const node = () => document.getElementById("case-card");
const CAN_DISPATCH = ["triage", "returned"];
const CAN_REASSIGN = ["dispatched", "in_progress", "rework"];
const CLOSED = ["closed", "evaluated", "voided"];
let shown = null;
let changed = () => {};

export const onCaseChanged = (fn) => (changed = fn);
export const shownCase = () => shown;

function uuid4() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function closeCase() {
  shown = null;
  node().hidden = true;
}

export async function openCase(caseId) {
  const card = node();
  card.hidden = false;
  card.replaceChildren(el("p", { class: "muted" }, "正在加载案件…"));
  try {
    const [kase, reports] = await Promise.all([
      get(`/api/v1/cases/${caseId}`),
      get(`/api/v1/map/cases/${caseId}/reports`).catch(() => null),
    ]);
    render(kase, reports);
  } catch (e) {
    card.replaceChildren(el("button", { class: "close", onclick: closeCase }, "×"), el("p", { class: "error" }, e.message));
  }
}

async function photo(reportId, sha) {
  const img = el("img", { alt: "现场照片", title: sha.slice(0, 12) });
  try {
    const answer = await fetch(`/api/v1/reports/${reportId}/attachments/${sha}`, {
      headers: { Authorization: `Bearer ${current().access}` },
    });
    if (answer.ok) img.src = URL.createObjectURL(await answer.blob());
  } catch {
    /* a photo that cannot be loaded stays an empty frame */
  }
  return img;
}

function reportList(kase, reports) {
  if (!reports) return el("p", { class: "muted" }, `${kase.report_ids.length} 条上报`);
  return el(
    "ol",
    { class: "reports" },
    ...reports.features.map((f) => {
      const p = f.properties;
      const photos = el("div", { class: "photos" });
      Promise.all(p.attachments.map((sha) => photo(p.report_id, sha))).then((imgs) => photos.append(...imgs));
      return el("li", { dataset: { reportId: p.report_id } }, fmtTime(p.observed_at), " ", p.description || "（无描述）", photos);
    }),
  );
}

function history(kase) {
  return el(
    "ol",
    { class: "history" },
    ...kase.history.map((h) =>
      el(
        "li",
        {},
        `${fmtTime(h.at)} ${h.action_label || ACTIONS[h.action] || h.action}`,
        h.from_state ? ` ${stateLabel(h.from_state)} → ${stateLabel(h.to_state)}` : ` → ${stateLabel(h.to_state)}`,
        el("span", { class: "muted" }, ` ${h.actor}`),
        h.reason ? `：${h.reason}` : "",
        h.note ? `（${h.note}）` : "",
      ),
    ),
  );
}

function where(kase) {
  const n = kase.area.names || {};
  const parts = ["district", "township", "community", "grid"].map((l) => n[l] || kase.area[l]).filter(Boolean);
  return parts.length ? parts.join(" / ") : "不在辖区内";
}

async function act(kase, body, result) {
  result.className = "result";
  result.textContent = "提交中…";
  try {
    const updated = await request(`/api/v1/cases/${kase.case_id}/actions`, {
      method: "POST", body, headers: { "Idempotency-Key": uuid4() },
    });
    render(updated, null, `${ACTIONS[body.action] || body.action}成功：当前状态 ${updated.state_label}`);
    changed(updated);
  } catch (e) {
    result.className = "result bad";
    result.textContent = e instanceof ApiError ? `${e.status}：${e.message}` : String(e);
  }
}

function reasonRow(kase, action, label, result, { danger = false, optional = false } = {}) {
  const input = el("input", { placeholder: optional ? "理由（可选）" : "理由（必填）", name: `${action}-reason` });
  const go = el("button", { class: danger ? "danger" : "", dataset: { action } }, label);
  go.addEventListener("click", () => {
    const reason = input.value.trim();
    if (!reason && !optional) {
      result.className = "result bad";
      result.textContent = `请填写${label}理由`;
      return;
    }
    act(kase, reason || !optional ? { action, reason } : { action }, result);
  });
  return el("div", { class: "row" }, input, go);
}

function actions(kase, result) {
  const user = current().user;
  const rows = [];
  if (user.role === "city_dispatch" && (CAN_DISPATCH.includes(kase.state) || CAN_REASSIGN.includes(kase.state))) {
    const picker = departmentPicker(kase);
    const label = CAN_DISPATCH.includes(kase.state) ? "派遣" : "改派";
    const go = el("button", { dataset: { action: "dispatch" } }, label);
    go.addEventListener("click", () => {
      if (!picker.value) {
        result.className = "result bad";
        result.textContent = "请选择责任部门";
        return;
      }
      act(kase, { action: "dispatch", department_code: picker.value }, result);
    });
    rows.push(el("div", { class: "row" }, picker, go));
  }
  if (kase.pending && OFFICES.includes(user.role)) {
    const approve = el("button", { dataset: { action: "approve" } }, "批准");
    approve.addEventListener("click", () => act(kase, { action: "approve" }, result));
    rows.push(el("div", { class: "row" }, approve), reasonRow(kase, "reject", "驳回", result, { optional: true }));
  }
  if (!CLOSED.includes(kase.state) && OFFICES.includes(user.role) && kase.level !== "city") {
    rows.push(reasonRow(kase, "escalate", "上报", result));
  }
  if (user.role === "city_dispatch" && !CLOSED.includes(kase.state)) {
    rows.push(reasonRow(kase, "void", "作废", result, { danger: true }));
  }
  return rows;
}

function render(kase, reports, message = "") {
  shown = kase;
  const card = node();
  const result = el("p", { class: message ? "result ok" : "result", role: "status" }, message);
  const pending = kase.pending
    ? el("p", { class: "due-warning" }, `待审批：${kase.pending.kind === "postpone" ? `延期 ${kase.pending.hours} 小时` : "缓办"}（${kase.pending.reason}）`)
    : null;
  const dept = kase.department ? kase.department.name || kase.department.code : "—（待分拨）";
  const keep = reports || (card.querySelector(".reports") ? card.querySelector(".reports").cloneNode(true) : null);
  const parts = [
    el(
      "header",
      {},
      el("div", {}, el("h2", {}, kase.category_name || kase.category), el("span", { class: "muted" }, kase.case_id)),
      el("button", { class: "close", title: "关闭", onclick: closeCase }, "×"),
    ),
    el("p", { class: "state", dataset: { state: kase.state }, style: `color:${stateColor(kase.state)}` }, kase.state_label),
    el(
      "dl",
      {},
      el("dt", {}, "位置"), el("dd", {}, where(kase)),
      el("dt", {}, "主办部门"), el("dd", { class: "department" }, dept),
      el("dt", {}, "协办部门"), el("dd", {}, kase.helpers.map((h) => h.name || h.code).join("、") || "—"),
      el("dt", {}, "持有层级"), el("dd", {}, LEVELS[kase.level] || kase.level),
      el("dt", {}, "处置时限"), el("dd", { class: `due-${kase.due}` }, kase.deadline_at ? `${fmtTime(kase.deadline_at)}（${DUE[kase.due]}）` : "—"),
      el("dt", {}, "立案时间"), el("dd", {}, fmtTime(kase.opened_at)),
      el("dt", {}, "上报人数"), el("dd", {}, kase.reporter_count),
    ),
    pending,
    el("h3", {}, "上报与照片"),
    reports || !keep ? reportList(kase, reports) : keep,
    el("h3", {}, "办理过程"),
    history(kase),
    el("div", { class: "actions" }, ...actions(kase, result), result),
  ];
  card.replaceChildren(...parts.filter(Boolean));
}
