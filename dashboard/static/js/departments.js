// The department picker of a dispatch: the departments serving the case's township, district and city
// (GET /api/v1/departments?area_code=…), grouped by level; a case outside every district gets the city's.
import { get } from "./api.js";
import { el } from "./labels.js";

const cache = new Map();
let city = null;
export const setCity = (code) => (city = code);
const GROUPS = [
  ["township", "街道/乡镇"],
  ["district", "区县"],
  ["city", "市级"],
];

function serving(code) {
  if (!cache.has(code)) cache.set(code, get(`/api/v1/departments?area_code=${code}`).catch(() => []));
  return cache.get(code);
}

export function departmentPicker(kase) {
  const select = el("select", { name: "department", "aria-label": "责任部门" }, el("option", { value: "" }, "选择责任部门…"));
  const lead = kase.department && kase.department.code;
  (async () => {
    const placed = GROUPS.some(([level]) => kase.area[level]);
    for (const [level, label] of GROUPS) {
      const code = kase.area[level] || (!placed && level === "city" ? city : null);
      if (!code) continue;
      const found = (await serving(code)).filter((d) => d.code !== lead);
      if (!found.length) continue;
      select.append(el("optgroup", { label }, ...found.map((d) => el("option", { value: d.code }, d.name))));
    }
  })();
  return select;
}
