// 指挥中心: sign-in, then the map, the panel, the work queues and the live feed, wired together. A user starts
// at their own area (the city for the dispatch center, their district for a district office) and can only
// drill down from there; whatever the API answers 404 is simply not shown.
import * as api from "./api.js";
import { closeCase, onCaseChanged, openCase, shownCase } from "./card.js";
import { setCity } from "./departments.js";
import { CHILD_OF, el } from "./labels.js";
import { LiveFeed } from "./live.js";
import { AreaMap } from "./map.js";
import { showView } from "./panel.js";
import { feedLine, refreshQueues, setNames, setupQueues } from "./work.js";

const $ = (id) => document.getElementById(id);
const state = { trail: [], names: new Map(), map: null, feed: null, home: null, timers: {} };

function debounce(key, ms, fn) {
  clearTimeout(state.timers[key]);
  state.timers[key] = setTimeout(fn, ms);
}

function message(text) {
  $("map-message").hidden = !text;
  $("map-message").textContent = text || "";
}

function breadcrumb() {
  const parts = state.trail.flatMap((a, i) => {
    const last = i === state.trail.length - 1;
    const link = el("a", { class: last ? "current" : "", dataset: { code: a.code } }, a.name);
    if (!last) link.addEventListener("click", () => navigate(a.code));
    return i ? [el("span", { class: "sep" }, "›"), link] : [link];
  });
  $("breadcrumb").replaceChildren(...parts);
}

async function navigate(code, { live = false } = {}) {
  const current = state.trail[state.trail.length - 1];
  try {
    const areas = await state.map.show(code, { keepView: live });
    const area = areas.area;
    state.names.set(area.code, area.name);
    for (const f of areas.features) state.names.set(f.properties.code, f.properties.name);
    if (area.level === "city") setCity(area.code);
    const at = state.trail.findIndex((a) => a.code === area.code);
    if (at >= 0) state.trail = state.trail.slice(0, at + 1);
    else state.trail.push({ code: area.code, name: area.name, level: area.level });
    breadcrumb();
    $("area-title").textContent = `· ${area.name}`;
    state.map.legend($("legend"));
    message("");
    document.body.dataset.area = area.code;
    if (!live) $("overview").scrollTop = 0;
    await showView(area.code, { onChild: (c) => drill(c) }).catch((e) => console.warn("view", e));
    document.body.dataset.viewArea = area.code;
  } catch (e) {
    if (e.status === 404) message(current ? "无权查看该区域，或该区域不存在" : "本账号没有可查看的区域");
    else message(e.message);
    setTimeout(() => message(""), 4000);
  }
}

function drill(code) {
  const here = state.trail[state.trail.length - 1];
  if (!here || code === here.code || !CHILD_OF[here.level]) return;
  navigate(code);
}

// Whether an event's area codes lie in the area shown (the city holds everything, placed or not).
function under(codes, here) {
  return here.level === "city" || Object.values(codes || {}).includes(here.code);
}

function onLive(kind, data) {
  feedLine(kind, data);
  const here = state.trail[state.trail.length - 1];
  if (here && under(data.area, here)) {
    debounce("map", 300, () => state.map.loadCases().catch(() => {}));
    debounce("areas", 1500, () => navigate(here.code, { live: true }));
  }
  debounce("queues", 400, () => refreshQueues());
  const open = shownCase();
  // The card follows its case; a step it already shows (its own action's answer, which may come back after
  // the event) is not fetched again, so the action's result line stays.
  if (open && data.case_id === open.case_id) {
    debounce("card", 400, () => {
      const now = shownCase();
      if (now && now.case_id === data.case_id && !now.history.some((h) => h.seq === data.seq)) openCase(now.case_id);
    });
  }
}

async function start() {
  const user = api.current().user;
  $("signin").hidden = true;
  $("app").hidden = false;
  $("user-name").textContent = `${user.username}（${user.role_label}）`;
  document.body.dataset.role = user.role;
  const cats = await api.get("/api/v1/categories").catch(() => []);
  setNames((code) => state.names.get(code), new Map(cats.map((c) => [c.code, c.name])));
  if (!state.map) {
    state.map = new AreaMap($("map"), { onArea: drill, onCase: openCase, onError: message });
    state.map.map.on("idle", () => (document.body.dataset.mapIdle = String(Date.now())));
  }
  state.trail = [];
  state.home = user.area_code || (user.grid_codes.length ? user.grid_codes[0] : null);
  if (user.role === "department") {
    message("职能部门账号没有区域地图：请在工作台办理本部门案件");
    showPane("work");
  } else {
    await navigate(state.home);
  }
  const feedArea = state.trail.length ? state.trail[0].code : null;
  if (feedArea) state.feed.start(feedArea);
  await setupQueues();
}

function showSignin(error = "") {
  if (state.feed) state.feed.stop();
  closeCase();
  $("app").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = error;
}

function showPane(name) {
  for (const b of document.querySelectorAll(".pane-tabs button")) b.classList.toggle("active", b.dataset.pane === name);
  for (const p of document.querySelectorAll(".pane")) p.classList.toggle("active", p.id === name);
}

function wire() {
  state.feed = new LiveFeed({
    onEvent: onLive,
    onStatus: (s, text) => {
      $("live-status").dataset.state = s;
      $("live-status").textContent = text;
    },
    onReset: () => {
      const here = state.trail[state.trail.length - 1];
      if (here) navigate(here.code, { live: true });
      refreshQueues();
    },
  });
  $("signin-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    $("signin-error").textContent = "正在登录…";
    try {
      await api.signIn(form.get("username"), form.get("password"));
      e.target.reset();
      await start();
    } catch (err) {
      $("signin-error").textContent = err.status === 401 ? "用户名或密码错误" : err.message;
    }
  });
  $("signout").addEventListener("click", () => api.signOut());
  api.onSession((s) => !s && showSignin("已退出登录"));
  $("metric").addEventListener("change", (e) => {
    state.map.setMetric(e.target.value);
    state.map.legend($("legend"));
  });
  $("show-closed").addEventListener("change", (e) => {
    state.map.showClosed = e.target.checked;
    state.map.loadCases();
    state.map.legend($("legend"));
  });
  for (const b of document.querySelectorAll(".pane-tabs button")) b.addEventListener("click", () => showPane(b.dataset.pane));
  onCaseChanged(() => {
    debounce("queues", 200, () => refreshQueues());
    debounce("map", 200, () => state.map.loadCases().catch(() => {}));
  });
  const tick = () => ($("clock").textContent = new Date().toLocaleString("zh-CN", { hour12: false }));
  tick();
  setInterval(tick, 1000);
}

wire();
if (api.current()) start().catch((e) => showSignin(e.message));
else showSignin();
