// Progressive enhancement of the admin console: every page works without
// it. Copy buttons copy the value of the field they name; "select every
// user" ticks the page's checkboxes.
(function () {
  "use strict";
  document.querySelectorAll("button.copy[data-copy]").forEach(function (b) {
    var field = document.getElementById(b.getAttribute("data-copy"));
    if (!field || !navigator.clipboard) { return; }
    b.hidden = false;
    b.addEventListener("click", function () {
      navigator.clipboard.writeText(field.value).then(function () {
        b.textContent = "Copied";
        setTimeout(function () { b.textContent = "Copy"; }, 2000);
      });
    });
  });
  var all = document.getElementById("select-all");
  if (all) {
    all.hidden = false;
    all.addEventListener("change", function () {
      document.querySelectorAll("input.select").forEach(function (c) { c.checked = all.checked; });
    });
  }
})();
