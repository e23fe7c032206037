// The 12-month AUM trend on the customer 360 page, drawn with Plotly from the element's data- attributes.
// Without this file (or without Plotly) the page still shows the same figures as a table.
"use strict";
(function () {
  var el = document.getElementById("aum-chart");
  if (!el || !window.Plotly) {
    return;
  }
  var s = JSON.parse(el.getAttribute("data-series"));
  var line = function (values, name, color, dash) {
    return { x: s.month_end, y: values, name: name, type: "scatter", mode: "lines+markers",
             line: { color: color, dash: dash || "solid" } };
  };
  var traces = [
    line(s.aum, el.dataset.labelAum, "#12355b"),
    line(s.aum_avg, el.dataset.labelAumAvg, "#2a9d8f", "dot"),
    line(s.liability, el.dataset.labelLiability, "#d1495b", "dash")
  ];
  var layout = {
    height: 320, margin: { l: 70, r: 20, t: 40, b: 40 }, showlegend: true,
    yaxis: { tickprefix: "¥", separatethousands: true, rangemode: "tozero" },
    xaxis: { type: "date", tickformat: "%Y-%m" },
    legend: { orientation: "h", x: 0, y: 1.15 }
  };
  window.Plotly.newPlot(el, traces, layout, { displayModeBar: false, responsive: true });
})();
