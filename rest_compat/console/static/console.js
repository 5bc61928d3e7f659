// The console's only script besides htmx: "select all" boxes, and focus on an htmx
// update's status message so screen readers announce it.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!(box instanceof HTMLInputElement) || !box.dataset.selectAll) { return; }
    document.querySelectorAll('input[type=checkbox][name="' + box.dataset.selectAll + '"]')
      .forEach(function (other) { if (!other.disabled) { other.checked = box.checked; } });
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var status = event.target.querySelector("[data-focus-after-swap]");
    if (status) { status.focus(); }
  });
})();
