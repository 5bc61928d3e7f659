// Draws the overview's charts with uPlot from the page's JSON data block
// (<script type="application/json" id="traffic-data">): one chart per measure,
// one series per channel. The table above the charts holds the same figures.
(function () {
  "use strict";
  var COLOURS = ["#0b4f8a", "#b35900", "#0f5c2e", "#8a1111", "#5b2c83", "#006d75",
                 "#7a5c00", "#3d3d3d", "#c2185b", "#2e7d32"];
  function draw() {
    var block = document.getElementById("traffic-data");
    if (!block || typeof uPlot === "undefined") { return; }
    var data = JSON.parse(block.textContent);
    var units = { rate: "/min", errors: "", latency: " ms" };
    document.querySelectorAll(".chart[data-measure]").forEach(function (el) {
      var measure = el.dataset.measure;
      var channels = data.channels.filter(function (c) {
        return c[measure].some(function (v) { return v !== null && v !== 0; });
      });
      if (!channels.length) { el.textContent = "—"; return; }
      var series = [{}].concat(channels.map(function (c, i) {
        // Errors and latency exist only in buckets that had traffic: show their points.
        return { label: c.name, stroke: COLOURS[i % COLOURS.length], width: 2,
                 spanGaps: measure !== "rate", points: { show: measure !== "rate" },
                 value: function (u, v) {
                   if (v === null || v === undefined) { return "—"; }
                   return measure === "errors" ? (v * 100).toFixed(1) + " %" : v + units[measure];
                 } };
      }));
      var width = Math.max(280, el.clientWidth || 480);
      var y = measure === "errors"
        ? { values: function (u, ticks) { return ticks.map(function (v) { return Math.round(v * 100) + " %"; }); }, size: 60 }
        : { size: 60 };
      new uPlot({ width: width, height: 220, series: series,
                  scales: { x: { time: true }, y: measure === "errors" ? { range: [0, 1] } : {} },
                  axes: [{}, y] },
                [data.x].concat(channels.map(function (c) { return c[measure]; })), el);
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else { draw(); }
})();
