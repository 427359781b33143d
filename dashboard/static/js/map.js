// The map: MapLibre GL with no base tiles and no glyphs. Its only sources are the API's GeoJSON (an area's
// children, its outline, its cases); names are HTML markers, so no font is fetched from anywhere.
import * as maplibregl from "../vendor/maplibre-gl/maplibre-gl.mjs";
import { get } from "./api.js";
import { OPEN_STATES, STATES, el, stateColor } from "./labels.js";

// Cases per 10,000 residents: the steps of the colour scale (shown in the legend).
export const STEPS = [0, 1, 2, 5, 10, 20];
const COLOURS = ["#1f4e3d", "#2f7d4f", "#8fb339", "#f1b44c", "#f17c4c", "#d64545"];
const NO_DATA = "#2b3a4a";
const GAP = 6; // px between two names shown
// Room kept free around an area fitted in view: the breadcrumb and tools above, the legend at the left.
const PADDING = { top: 60, bottom: 30, left: 200, right: 50 };
const EMPTY = { type: "FeatureCollection", features: [] };

const STYLE = {
  version: 8,
  sources: {
    areas: { type: "geojson", data: EMPTY, promoteId: "code" },
    outline: { type: "geojson", data: EMPTY },
    cases: { type: "geojson", data: EMPTY },
  },
  layers: [
    { id: "background", type: "background", paint: { "background-color": "#0b1622" } },
    { id: "outline-fill", type: "fill", source: "outline", paint: { "fill-color": "#16304a", "fill-opacity": 0.6 } },
    { id: "area-fill", type: "fill", source: "areas", paint: { "fill-color": NO_DATA, "fill-opacity": 0.78 } },
    {
      id: "area-line", type: "line", source: "areas",
      paint: {
        "line-color": ["case", ["boolean", ["feature-state", "hover"], false], "#ffffff", "#9ec5e8"],
        "line-width": ["case", ["boolean", ["feature-state", "hover"], false], 2.5, 0.8],
      },
    },
    { id: "outline-line", type: "line", source: "outline", paint: { "line-color": "#3fa9f5", "line-width": 2 } },
    {
      id: "case-points", type: "circle", source: "cases",
      paint: {
        "circle-radius": ["interpolate", ["linear"], ["zoom"], 8, 3, 14, 7],
        "circle-color": ["match", ["get", "state"], ...Object.entries(STATES).flatMap(([s, [, c]]) => [s, c]), "#999"],
        "circle-stroke-color": ["case", ["get", "overdue"], "#ff2d2d", "#0b1622"],
        "circle-stroke-width": ["case", ["get", "overdue"], 2, 1],
      },
    },
  ],
};

function fillColour(metric) {
  const steps = STEPS.slice(1).flatMap((s, i) => [s, COLOURS[i + 1]]);
  return ["case", ["==", ["get", metric], null], NO_DATA, ["step", ["get", metric], COLOURS[0], ...steps]];
}

// A grid is named after its community ("春海社区第5网格"): on the map its number is enough.
const shortName = (p) => (p.level === "grid" && /第\d+网格$/.test(p.name) ? p.name.match(/第\d+网格$/)[0] : p.name);

export class AreaMap {
  constructor(container, { onArea, onCase, onError }) {
    this.onArea = onArea;
    this.onCase = onCase;
    this.onError = onError;
    this.metric = "open_per_10k";
    this.showClosed = false;
    this.markers = [];
    this.area = null;
    this.hovered = null;
    this.map = new maplibregl.Map({
      container, style: STYLE, center: [121.6, 39.1], zoom: 7.5, attributionControl: false,
      dragRotate: false, pitchWithRotate: false, preserveDrawingBuffer: true,
    });
    this.map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "bottom-right");
    this.map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-right");
    this.ready = new Promise((resolve) => this.map.on("load", resolve));
    this.map.on("click", (e) => this.click(e));
    this.map.on("mousemove", "area-fill", (e) => this.hover(e.features[0]));
    this.map.on("mouseleave", "area-fill", () => this.hover(null));
    this.map.on("mouseenter", "case-points", () => (this.map.getCanvas().style.cursor = "pointer"));
    this.map.on("mouseleave", "case-points", () => (this.map.getCanvas().style.cursor = ""));
    this.map.on("moveend", () => this.declutter());
  }

  // Names that would overlap are hidden, the areas with more open cases (then more residents) first shown;
  // a hidden one shows again when zooming in makes room. The polygon stays clickable either way.
  declutter() {
    const placed = [];
    for (const m of [...this.markers].sort((a, b) => b.priority - a.priority)) {
      const node = m.getElement();
      node.style.visibility = "visible";
      const r = node.getBoundingClientRect();
      const overlaps = placed.some((p) => r.left < p.right + GAP && r.right + GAP > p.left && r.top < p.bottom && r.bottom > p.top);
      if (overlaps) node.style.visibility = "hidden";
      else placed.push(r);
    }
  }

  click(e) {
    const hit = this.map.queryRenderedFeatures(e.point, { layers: ["case-points", "area-fill"] });
    const point = hit.find((f) => f.layer.id === "case-points");
    if (point) return this.onCase(point.properties.case_id);
    const area = hit.find((f) => f.layer.id === "area-fill");
    if (area) this.onArea(area.properties.code);
  }

  hover(feature) {
    if (this.hovered) this.map.setFeatureState({ source: "areas", id: this.hovered }, { hover: false });
    this.hovered = feature ? feature.properties.code : null;
    if (this.hovered) this.map.setFeatureState({ source: "areas", id: this.hovered }, { hover: true });
    this.map.getCanvas().style.cursor = feature ? "pointer" : "";
  }

  setMetric(metric) {
    this.metric = metric;
    this.map.setPaintProperty("area-fill", "fill-color", fillColour(metric));
  }

  // Draw `code`'s children and cases; fit the view to it unless `keepView` (a live refresh).
  async show(code, { keepView = false } = {}) {
    await this.ready;
    const areas = await get(code ? `/api/v1/map/areas?parent=${code}` : "/api/v1/map/areas");
    this.area = areas.area;
    this.map.getSource("areas").setData(areas);
    this.map.getSource("outline").setData({
      type: "FeatureCollection",
      features: [{ type: "Feature", geometry: areas.outline, properties: { code } }],
    });
    this.setMetric(this.metric);
    this.labels(areas.features);
    if (!keepView) {
      const [x0, y0, x1, y1] = areas.bbox;
      this.map.fitBounds([[x0, y0], [x1, y1]], { padding: PADDING, duration: 600 });
    }
    await this.loadCases(areas.area.code);
    return areas;
  }

  async loadCases(code = this.area && this.area.code) {
    if (!code) return null;
    const states = this.showClosed ? "" : OPEN_STATES.map((s) => `&state=${s}`).join("");
    const cases = await get(`/api/v1/map/cases?area_code=${code}${states}`);
    this.map.getSource("cases").setData(cases);
    this.casesShown = cases;
    return cases;
  }

  labels(features) {
    for (const m of this.markers) m.remove();
    this.markers = features.map((f) => {
      const p = f.properties;
      const label = el(
        "div",
        { class: `area-label ${p.level}`, dataset: { code: p.code }, title: `${p.name}：未结 ${p.open}，超期 ${p.overdue}` },
        shortName(p),
        p.open ? el("small", {}, `未结 ${p.open}${p.overdue ? ` · 超期 ${p.overdue}` : ""}`) : null,
      );
      label.addEventListener("click", (e) => {
        e.stopPropagation();
        this.onArea(p.code);
      });
      const marker = new maplibregl.Marker({ element: label }).setLngLat(p.label).addTo(this.map);
      marker.priority = p.open * 1e9 + (p.population || 0);
      return marker;
    });
    this.declutter();
  }

  legend(node) {
    const name = this.metric === "open_per_10k" ? "未结案件 / 万人" : "超期案件 / 万人";
    const rows = STEPS.map((s, i) => {
      const text = i + 1 < STEPS.length ? `${s} – ${STEPS[i + 1]}` : `≥ ${s}`;
      return el("div", { class: "row" }, el("span", { class: "sw", style: `background:${COLOURS[i]}` }), text);
    });
    rows.push(el("div", { class: "row" }, el("span", { class: "sw", style: `background:${NO_DATA}` }), "无人口数据"));
    const dots = Object.keys(STATES)
      .filter((s) => this.showClosed || OPEN_STATES.includes(s))
      .map((s) => el("div", { class: "row" }, el("span", { class: "dot", style: `background:${stateColor(s)}` }), STATES[s][0]));
    dots.push(el("div", { class: "row" }, el("span", { class: "dot", style: "border:2px solid #ff2d2d" }), "超期"));
    node.replaceChildren(
      el("div", { class: "cols" }, el("div", {}, el("b", {}, name), ...rows), el("div", {}, el("b", {}, "案件"), ...dots)),
    );
  }
}
