// Gatehouse admin: optional progressive enhancement. Every page works
// without this file; it only saves a few clicks.
(function () {
  "use strict";

  // User package form: when the package changes, put its days into the
  // days field unless the admin typed a different number.
  function prefillDays() {
    var pkg = document.querySelector("select[data-days-target]");
    if (!pkg) return;
    var days = document.getElementById(pkg.getAttribute("data-days-target"));
    if (!days) return;
    var last = optionDays(pkg);
    pkg.addEventListener("change", function () {
      var next = optionDays(pkg);
      if (days.value === "" || days.value === last) {
        days.value = next;
      }
      last = next;
    });
  }

  function optionDays(sel) {
    var o = sel.options[sel.selectedIndex];
    return (o && o.getAttribute("data-days")) || "";
  }

  // Feature pickers (package form rows, the content form): a limit field
  // is for LIMIT features only, so it is disabled while a SWITCH feature is
  // chosen. The server checks the same rule without this.
  function limitFields() {
    var selects = document.querySelectorAll("select[name$='featureKey']");
    Array.prototype.forEach.call(selects, function (sel) {
      var name = sel.getAttribute("name").replace(/featureKey$/, "limit");
      var limit = sel.form && sel.form.querySelector("input[name='" + name + "']");
      if (!limit) return;
      function update() {
        var o = sel.options[sel.selectedIndex];
        var kind = (o && o.getAttribute("data-kind")) || "";
        var isSwitch = kind === "SWITCH";
        limit.disabled = isSwitch;
        limit.required = kind === "LIMIT";
        if (isSwitch) limit.value = "";
      }
      sel.addEventListener("change", update);
      update();
    });
  }

  // "Copy" buttons (hidden without script) copy the text of their target.
  function copyButtons() {
    var buttons = document.querySelectorAll("button[data-copy]");
    Array.prototype.forEach.call(buttons, function (b) {
      var target = document.getElementById(b.getAttribute("data-copy"));
      if (!target || !navigator.clipboard) return;
      b.hidden = false;
      b.addEventListener("click", function () {
        var text = target.value !== undefined ? target.value : target.textContent;
        navigator.clipboard.writeText(text).then(function () {
          b.textContent = "Copied";
        });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    prefillDays();
    limitFields();
    copyButtons();
  });
})();
