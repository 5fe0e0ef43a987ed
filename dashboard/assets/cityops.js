/* Map styling functions for dash-leaflet, looked up by name ("cityops.gridStyle").
   Live updates change only each layer's `hideout` (status per id), so a tick sends a few
   KB instead of re-sending the geometry. */
const screenScale = function () { return Math.max(1, window.innerWidth / 1920); };  // 4K: twice the size

window.cityops = Object.assign({}, window.cityops, {
  gridStyle: function (feature, context) {
    const status = ((context.hideout || {}).status || {})[feature.properties.id] || "normal";
    const fill = { normal: "#1f6f4a", attention: "#c9a227", alarm: "#c0392b" }[status] || "#1f6f4a";
    return { color: "#5fa8d3", weight: 0.6, fillColor: fill, fillOpacity: status === "normal" ? 0.18 : 0.45 };
  },
  streetStyle: function () {
    return { color: "#9ecbff", weight: 2.2, fill: false, dashArray: "6 4" };
  },
  roadStyle: function () {
    return { color: "#e8e3c8", weight: 2.5 * screenScale(), opacity: 0.75 };
  },
  faintGridStyle: function () {
    return { color: "#3d6a93", weight: 0.5, fillColor: "#123049", fillOpacity: 0.25 };
  },
  /* Leader's heat map: complaints per grid in the period, in `hideout.counts`, scaled by `hideout.max`. */
  heatStyle: function (feature, context) {
    const h = context.hideout || {};
    const n = (h.counts || {})[feature.properties.id] || 0;
    const x = h.max ? n / h.max : 0;  // linear: the few hot grids stand out
    const colors = ["#0d2a3f", "#1d5b6e", "#3f8f6b", "#c9a227", "#e67e22", "#c0392b"];
    const fill = n === 0 ? colors[0] : colors[Math.min(colors.length - 1, 1 + Math.floor(x * (colors.length - 1)))];
    return { color: "#5fa8d3", weight: 0.4, fillColor: fill, fillOpacity: n === 0 ? 0.3 : 0.8 };
  },
  trailStyle: function (feature) {
    const face = feature.properties.kind === "face";
    return { color: face ? "#ff9f43" : "#48dbfb", weight: 3 * screenScale(), opacity: 0.85 };
  },
  routeStyle: function () {
    return { color: "#48dbfb", weight: 4, opacity: 0.9 };
  },
  cameraPoint: function (feature, latlng, context) {
    const online = ((context.hideout || {}).online || {})[feature.properties.id];
    const color = online === true ? "#2ecc71" : online === false ? "#e74c3c" : "#7f8c8d";
    return L.circleMarker(latlng, { radius: 5 * screenScale(), color: "#0b1a2a", weight: 1, fillColor: color,
                                    fillOpacity: 0.95 });
  },
  alertPoint: function (feature, latlng) {
    const critical = feature.properties.severity === "critical";
    return L.circleMarker(latlng, { radius: (critical ? 14 : 11) * screenScale(), color: critical ? "#ff4d4f" : "#ffb020",
                                    weight: 3 * screenScale(), fill: false, className: "alert-ring" });
  },
  routePoint: function (feature, latlng) {
    const last = feature.properties.last;
    return L.circleMarker(latlng, { radius: last ? 9 : 5, color: "#0b1a2a", weight: 1,
                                    fillColor: last ? "#ffdd59" : "#48dbfb", fillOpacity: 1 });
  },
});
