// bankcrm: light progressive enhancement only; every page works without this file.
"use strict";
document.addEventListener("submit", function (event) {
  var button = event.target.querySelector("button.danger");
  if (button && !window.confirm(button.textContent.trim() + "?")) {
    event.preventDefault();
  }
});
