/* Map styling functions for dash-leaflet, looked up by name ("cityops.gridStyle").
   Live updates change only each layer's `hideout` (status per id), so a tick sends a few
   KB instead of re-sending the geometry. */
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
    return { color: "#e8e3c8", weight: 2.5, opacity: 0.75 };
  },
  cameraPoint: function (feature, latlng, context) {
    const online = ((context.hideout || {}).online || {})[feature.properties.id];
    const color = online === true ? "#2ecc71" : online === false ? "#e74c3c" : "#7f8c8d";
    return L.circleMarker(latlng, { radius: 4, color: "#0b1a2a", weight: 1, fillColor: color, fillOpacity: 0.95 });
  },
});
