// Loaded just before plotly.min.js. The pages' CSP allows no inline styles, and Plotly would otherwise
// add <style> elements when it loads (its own rules, and the map library's): it leaves them out when it
// finds these markers. A line chart needs neither. tests/e2e/test_customer360_chart.py fails on any CSP
// violation, so a Plotly upgrade that changes a marker is noticed.
"use strict";
(function () {
  var markers = [
    { id: "plotly.js-style-global", className: "no-inline-styles" },
    { id: "9f215cf04c5486422605d13261cb87401f4e7763b6296af81e98efbc0130da53", className: "" }
  ];
  markers.forEach(function (m) {
    if (!document.getElementById(m.id)) {
      var el = document.createElement("meta");
      el.id = m.id;
      if (m.className) {
        el.className = m.className;
      }
      document.head.appendChild(el);
    }
  });
})();
