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

// ---------------------------------------------------------------------
// Pickers (views/components/picker.templ): a search box that chooses one
// user, package or feature among any number. Without script the box has a
// "Find" button that shows the matches as radio buttons; with it the box
// is an ARIA combobox that asks /admin/pick/{kind}?q=… as one types:
// arrow keys move through the matches, Enter chooses, Escape closes, and
// a live region says how many matched.
(function () {
  "use strict";

  var DELAY = 150; // ms after the last key before asking the server

  function setup(root, n) {
    var box = root.querySelector("input.picker-box");
    var shown = root.querySelector("input.picker-shown");
    var find = root.querySelector("button.picker-find");
    var form = box && box.form;
    if (!box || !shown || !form) return;
    var name = shown.name.replace(/\.shown$/, "");
    var what = root.getAttribute("data-picker-what") || "record";
    var src = root.getAttribute("data-picker");
    var id = box.id || "picker-" + n;

    var list = document.createElement("ul");
    list.id = id + "-listbox";
    list.className = "picker-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", (root.querySelector("label") || box).textContent.replace("*", "").trim() + " matches");
    list.hidden = true;
    var status = document.createElement("p");
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    box.parentNode.insertAdjacentElement("afterend", list);
    list.insertAdjacentElement("afterend", status);

    box.setAttribute("role", "combobox");
    box.setAttribute("aria-autocomplete", "list");
    box.setAttribute("aria-expanded", "false");
    box.setAttribute("aria-controls", list.id);
    if (find) find.hidden = true;
    var chosenNote = root.querySelector(".picker-chosen");
    function noneChosen() {
      if (chosenNote) chosenNote.textContent = root.getAttribute("data-picker-none") || "";
    }
    var initial = root.querySelector("input.picker-value");
    if (initial && initial.value === "") noneChosen();

    var items = [];
    var active = -1;
    var timer = 0;
    var pending = null;
    var lastDays = currentData("days");

    function valueInput() {
      var v = root.querySelector("input.picker-value");
      if (!v) {
        v = document.createElement("input");
        v.type = "hidden";
        v.name = name;
        v.className = "picker-value";
        shown.insertAdjacentElement("afterend", v);
      }
      return v;
    }

    function currentData(key) {
      var v = root.querySelector("input.picker-value") ||
        root.querySelector("input[type=radio][name='" + name + "']:checked");
      return (v && v.getAttribute("data-" + key)) || "";
    }

    function close() {
      list.hidden = true;
      box.setAttribute("aria-expanded", "false");
      box.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(i) {
      var lis = list.children;
      if (active >= 0 && lis[active]) lis[active].setAttribute("aria-selected", "false");
      active = i;
      if (i >= 0 && lis[i]) {
        lis[i].setAttribute("aria-selected", "true");
        box.setAttribute("aria-activedescendant", lis[i].id);
        lis[i].scrollIntoView({ block: "nearest" });
      } else {
        box.removeAttribute("aria-activedescendant");
      }
    }

    function render(answer) {
      items = answer.matches || [];
      list.textContent = "";
      items.forEach(function (m, i) {
        var li = document.createElement("li");
        li.id = id + "-opt-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.textContent = m.label;
        li.addEventListener("mousedown", function (e) {
          e.preventDefault(); // keep the focus in the box
          choose(i);
        });
        list.appendChild(li);
      });
      if (answer.more) {
        var more = document.createElement("li");
        more.className = "picker-more";
        more.setAttribute("aria-hidden", "true");
        more.textContent = "More match: keep typing to narrow the search.";
        list.appendChild(more);
      }
      if (items.length === 0) {
        var none = document.createElement("li");
        none.className = "picker-none";
        none.setAttribute("aria-hidden", "true"); // the live region says it
        none.textContent = "No " + what + " matches.";
        list.appendChild(none);
      }
      list.hidden = false;
      box.setAttribute("aria-expanded", "true");
      active = -1;
      var n = items.length;
      status.textContent = n === 0 ? "No matches." :
        (answer.more ? "The first " + n + " matches; more match, refine your search." :
          n + (n === 1 ? " match." : " matches.")) + (n ? " Use the arrow keys to choose." : "");
    }

    function search() {
      clearTimeout(timer);
      timer = 0;
      if (pending) pending.abort();
      var ctrl = window.AbortController ? new AbortController() : null;
      pending = ctrl;
      var url = src + (src.indexOf("?") < 0 ? "?" : "&") + "q=" + encodeURIComponent(box.value.slice(0, 100));
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, signal: ctrl ? ctrl.signal : undefined })
        .then(function (r) {
          if (!r.ok) throw new Error("status " + r.status);
          return r.json();
        })
        .then(function (answer) {
          if (pending !== ctrl) return;
          pending = null;
          render(answer);
        })
        .catch(function (err) {
          if (err && err.name === "AbortError") return;
          // The Find button still works.
          if (find) find.hidden = false;
          status.textContent = "The search failed; press Find.";
        });
    }

    function choose(i) {
      var m = items[i];
      if (!m) return;
      var results = root.querySelector(".picker-results");
      if (results) results.parentNode.removeChild(results);
      var v = valueInput();
      v.value = m.id;
      v.setAttribute("data-days", m.days ? String(m.days) : "");
      v.setAttribute("data-kind", m.kind || "");
      box.value = m.label;
      shown.value = m.label;
      if (chosenNote) {
        chosenNote.textContent = "Chosen: ";
        var strong = document.createElement("strong");
        strong.textContent = m.label;
        chosenNote.appendChild(strong);
      }
      close();
      status.textContent = m.label + " chosen.";
      changed();
    }

    // The chosen record's days or kind fill or switch other fields.
    function changed() {
      var daysField = document.getElementById(root.getAttribute("data-days-target") || "");
      if (daysField) {
        var next = currentData("days");
        if (daysField.value === "" || daysField.value === lastDays) daysField.value = next;
        lastDays = next;
      }
      var limit = document.getElementById(root.getAttribute("data-limit-target") || "");
      if (limit) {
        var kind = currentData("kind");
        limit.disabled = kind === "SWITCH";
        limit.required = kind === "LIMIT";
        if (kind === "SWITCH") limit.value = "";
      }
    }

    box.addEventListener("input", function () {
      // What was chosen no longer matches the box.
      var v = root.querySelector("input.picker-value");
      if (v && v.value !== "") {
        v.value = "";
        v.setAttribute("data-days", "");
        v.setAttribute("data-kind", "");
        noneChosen();
      }
      clearTimeout(timer);
      timer = setTimeout(search, DELAY);
    });

    box.addEventListener("keydown", function (e) {
      var open = !list.hidden;
      switch (e.key) {
        case "ArrowDown":
          e.preventDefault();
          if (!open) { search(); return; }
          highlight(Math.min(active + 1, items.length - 1));
          break;
        case "ArrowUp":
          e.preventDefault();
          if (open) highlight(Math.max(active - 1, 0));
          break;
        case "Home":
        case "End":
          if (open && items.length) {
            e.preventDefault();
            highlight(e.key === "Home" ? 0 : items.length - 1);
          }
          break;
        case "Enter":
          if (open && items.length) {
            e.preventDefault();
            swallow = true;
            choose(active >= 0 ? active : 0);
          } else if (open || timer || pending) {
            e.preventDefault(); // no answer yet: do not send the form
            swallow = true;
          }
          break;
        case "Escape":
          if (open) {
            e.preventDefault();
            close();
          }
          break;
      }
    });

    // An Enter that chose a match must not also send the form (some
    // input methods deliver its keypress even after keydown was
    // cancelled).
    var swallow = false;
    box.addEventListener("keypress", function (e) {
      if (e.key === "Enter" && swallow) e.preventDefault();
    });
    box.addEventListener("keyup", function () { swallow = false; });

    box.addEventListener("blur", close);

    root.addEventListener("change", function (e) {
      // A radio button of the no-script step chosen.
      if (e.target && e.target.type === "radio" && e.target.name === name) changed();
    });

    if (root.getAttribute("data-limit-target")) changed();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var roots = document.querySelectorAll("[data-picker]");
    Array.prototype.forEach.call(roots, setup);
  });
})();
