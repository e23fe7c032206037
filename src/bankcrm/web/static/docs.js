// Swagger UI over the app's OpenAPI document (kept out of the page so the CSP needs no inline script).
"use strict";
window.addEventListener("load", function () {
  var node = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({ url: node.getAttribute("data-openapi-url"), dom_id: "#swagger-ui" });
});
