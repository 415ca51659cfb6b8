// Gatehouse pages: small progressive enhancements. Every page works without
// this file; the Content-Security-Policy allows scripts from this origin
// only, so everything here is wired by data attributes, never inline.
(function () {
  "use strict";

  // Destructive actions (revoke a token or an app, end a session) ask first:
  // <form data-confirm="Revoke the token “x”?">.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var msg = form && form.getAttribute && form.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) {
      e.preventDefault();
    }
  }, true);

  // Copy buttons: <button data-copy="id-of-field-or-list">. A field copies
  // its value; anything else (the recovery codes' list) its text, a line
  // per item.
  document.querySelectorAll("button[data-copy]").forEach(function (btn) {
    btn.hidden = false;
    btn.addEventListener("click", function () {
      var field = document.getElementById(btn.getAttribute("data-copy"));
      var status = document.getElementById(btn.getAttribute("data-copy") + "-copied");
      if (!field) { return; }
      var isField = "value" in field && typeof field.select === "function";
      var text = isField ? field.value : Array.prototype.map.call(
        field.children.length ? field.children : [field],
        function (el) { return el.textContent.trim(); }).join("\n") + "\n";
      var select = function () {
        if (isField) { field.select(); } else { window.getSelection().selectAllChildren(field); }
      };
      var done = function () { if (status) { status.textContent = "Copied to the clipboard."; } };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, select);
      } else {
        select();
        try { if (document.execCommand("copy")) { done(); } } catch (err) { /* selected: copy by hand */ }
      }
    });
  });

  // Links between sign-in and sign-up carry the email typed so far:
  // <a href="/signup?…" data-carry-email="id-of-email-field">.
  document.querySelectorAll("a[data-carry-email]").forEach(function (a) {
    a.addEventListener("click", function () {
      var field = document.getElementById(a.getAttribute("data-carry-email"));
      if (!field) { return; }
      var u = new URL(a.getAttribute("href"), window.location.href);
      if (field.value.trim()) {
        u.searchParams.set("email", field.value.trim());
      } else {
        u.searchParams.delete("email");
      }
      a.setAttribute("href", u.pathname + u.search);
    });
  });

  // Times are sent in UTC, named as such; show them in the browser's own
  // time zone, with its name: <time datetime="RFC 3339" data-local="datetime|date">.
  // The UTC text stays as the tooltip.
  document.querySelectorAll("time[data-local]").forEach(function (el) {
    var when = new Date(el.getAttribute("datetime"));
    if (isNaN(when.getTime()) || !window.Intl) { return; }
    var opts = el.getAttribute("data-local") === "date"
      ? { day: "numeric", month: "long", year: "numeric" }
      : { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
    try {
      var local = new Intl.DateTimeFormat(undefined, opts).format(when);
      el.title = el.textContent;
      el.textContent = local;
    } catch (err) { /* keep the UTC text */ }
  });

  // The error summary links to every field with an error, then takes focus
  // so screen readers announce it and keyboard users start there.
  var invalid = document.querySelectorAll("main [aria-invalid=true]");
  var summary = document.getElementById("form-error");
  if (invalid.length && !summary) {
    summary = document.createElement("div");
    summary.className = "alert error";
    summary.id = "form-error";
    summary.setAttribute("role", "alert");
    summary.textContent = "Please correct the following:";
    var h1 = document.querySelector("main h1");
    h1.parentNode.insertBefore(summary, h1.nextSibling);
  }
  if (invalid.length) {
    var list = document.createElement("ul");
    list.className = "error-links";
    invalid.forEach(function (field) {
      if (!field.id) { return; }
      var label = document.querySelector("label[for='" + field.id + "']");
      var described = (field.getAttribute("aria-describedby") || "").split(" ")
        .map(function (id) { return document.getElementById(id); })
        .filter(function (el) { return el && el.classList.contains("field-error"); });
      var a = document.createElement("a");
      a.href = "#" + field.id;
      a.textContent = (label ? label.textContent.trim() : field.name) +
        (described.length ? ": " + described[0].textContent.trim() : "");
      a.addEventListener("click", function (e) { e.preventDefault(); field.focus(); });
      var li = document.createElement("li");
      li.appendChild(a);
      list.appendChild(li);
    });
    if (list.childNodes.length) { summary.appendChild(list); }
  }
  if (summary) {
    summary.setAttribute("tabindex", "-1");
    summary.focus();
  }
})();
