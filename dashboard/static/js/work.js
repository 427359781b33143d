// 工作台: the caller's queues (GET /api/v1/queues/{name}: triage with its reasons, approvals, overdue, …) and
// the live feed's list. A queue item opens its case card; approvals can be decided from the list itself.
import { ApiError, current, get, request } from "./api.js";
import { openCase } from "./card.js";
import { ACTIONS, DUE, EVENT_KINDS, LEVELS, ROLE_QUEUES, el, fmtTime, stateColor, stateLabel } from "./labels.js";

const $ = (id) => document.getElementById(id);
const FEED_MAX = 200;
let active = null;
let names = () => null;
let categories = new Map();

export function setNames(lookup, cats) {
  names = lookup;
  categories = cats;
}

export function setupQueues() {
  const mine = ROLE_QUEUES[current().user.role] || [];
  for (const tab of document.querySelectorAll(".work-tabs button")) {
    tab.hidden = !mine.includes(tab.dataset.queue);
    tab.onclick = () => showQueue(tab.dataset.queue);
  }
  active = mine[0] || null;
  return refreshQueues();
}

export async function refreshQueues() {
  const mine = ROLE_QUEUES[current().user.role] || [];
  await Promise.all(
    mine.map(async (name) => {
      const tab = document.querySelector(`.work-tabs button[data-queue="${name}"]`);
      try {
        const page = await get(`/api/v1/queues/${name}?size=50`);
        tab.querySelector(".count").textContent = page.total;
        if (name === active) renderQueue(page);
      } catch (e) {
        tab.querySelector(".count").textContent = "!";
        if (name === active) $("queue").replaceChildren(el("p", { class: "error" }, e.message));
      }
    }),
  );
}

function showQueue(name) {
  active = name;
  for (const tab of document.querySelectorAll(".work-tabs button")) tab.classList.toggle("active", tab.dataset.queue === name);
  return refreshQueues();
}

function place(item) {
  const n = item.area.names || {};
  const codes = item.area.codes || {};
  return ["district", "township", "community", "grid"].map((l) => n[l] || codes[l]).filter(Boolean).join(" / ") || "不在辖区内";
}

async function decide(item, action, line) {
  line.textContent = "提交中…";
  try {
    const updated = await request(`/api/v1/cases/${item.case_id}/actions`, { method: "POST", body: { action } });
    line.textContent = `已${action === "approve" ? "批准" : "驳回"}：${updated.state_label}`;
    setTimeout(refreshQueues, 600);
  } catch (e) {
    line.textContent = e instanceof ApiError ? `${e.status}：${e.message}` : String(e);
    line.className = "error";
  }
}

function renderQueue(page) {
  for (const tab of document.querySelectorAll(".work-tabs button")) tab.classList.toggle("active", tab.dataset.queue === page.name);
  if (!page.items.length) {
    $("queue").replaceChildren(el("p", { class: "empty" }, `${page.label}：暂无案件`));
    return;
  }
  $("queue").replaceChildren(
    ...page.items.map((item) => {
      const line = el("div", { class: "where" });
      const buttons = [];
      if (page.name === "approvals") {
        buttons.push(
          el("button", { dataset: { action: "approve" }, onclick: (e) => (e.stopPropagation(), decide(item, "approve", line)) }, "批准"),
          el("button", { class: "ghost", dataset: { action: "reject" }, onclick: (e) => (e.stopPropagation(), decide(item, "reject", line)) }, "驳回"),
        );
      } else if (page.name === "triage") {
        buttons.push(el("button", { dataset: { action: "dispatch" } }, "派遣 / 作废"));
      }
      const reason = item.triage_label || (item.pending ? `${item.pending.kind === "postpone" ? "延期" : "缓办"}申请：${item.pending.reason}` : null);
      return el(
        "div",
        { class: "q-item", dataset: { caseId: item.case_id, state: item.state }, onclick: () => openCase(item.case_id) },
        el(
          "div",
          { class: "top" },
          el("b", {}, item.category_name || item.category),
          el("span", { class: "badge", style: `background:${stateColor(item.state)}` }, item.state_label),
        ),
        reason ? el("div", { class: "reason" }, reason, item.triage_detail ? `（${item.triage_detail}）` : "") : null,
        el("div", { class: "where" }, place(item), ` · ${LEVELS[item.level] || item.level}持有 · ${fmtTime(item.opened_at)}`),
        item.deadline_at ? el("div", { class: `where due-${item.due}` }, `时限 ${fmtTime(item.deadline_at)}（${DUE[item.due]}）`) : null,
        buttons.length ? el("div", { class: "buttons" }, ...buttons) : null,
        line,
      );
    }),
  );
}

// One line of the live feed: what happened, where, when; a click opens the case.
export function feedLine(kind, data) {
  const area = data.area || {};
  const at = data.routed_at || data.triaged_at || data.at || data.observed_at || new Date().toISOString();
  // The most precise place whose name the page knows (the areas it has drawn), else the code itself.
  const levels = ["grid", "community", "township", "district"].map((l) => area[l]).filter(Boolean);
  const where = levels.find((code) => names(code)) || levels[0];
  const cat = data.category ? categories.get(data.category) || data.category : null;
  let what;
  if (kind === "report.routed") what = `${cat}，派往 ${data.department ? data.department.name || data.department.code : ""}`;
  else if (kind === "report.triaged") what = `${cat}，${data.detail || data.reason}`;
  else {
    const from = data.from_state ? `${stateLabel(data.from_state)} → ` : "";
    what = `${ACTIONS[data.action] || data.action}：${from}${stateLabel(data.to_state)}${data.reason ? `（${data.reason}）` : ""}`;
  }
  const item = el(
    "li",
    {
      class: kind.split(".")[1],
      dataset: { kind, caseId: data.case_id || "", reportId: data.report_id || "" },
      onclick: () => data.case_id && openCase(data.case_id),
    },
    el("span", { class: "when" }, fmtTime(at, false)),
    el("span", { class: "kind" }, EVENT_KINDS[kind] || kind),
    what,
    where ? el("span", { class: "muted" }, ` · ${names(where) || where}`) : null,
  );
  const feed = $("feed");
  feed.prepend(item);
  while (feed.children.length > FEED_MAX) feed.lastChild.remove();
}
