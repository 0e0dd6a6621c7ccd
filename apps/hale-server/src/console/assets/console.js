// Hale operator console: the only script, written for this console (no
// framework, no build step). Served from /console/static/console.js under a
// Content-Security-Policy that allows no inline code. Every page works
// without it; it only adds:
//   1. times in the viewer's time zone: each <time datetime="…Z"> the server
//      wrote in UTC is rewritten as local "YYYY-MM-DD HH:MM:SS +HH:MM";
//   2. countdowns: <time data-countdown> ticks every second;
//   3. live parts: a page whose #live element has data-refresh="N" is
//      fetched again every N seconds and #live's content swapped in place,
//      unless the reader is typing in it or the tab is hidden; a fetched page
//      whose #live has no data-refresh (say, the operation finished) is the
//      last one. A lost session reloads the page (to sign in).
(function () {
  "use strict";

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  function local(d) {
    var off = -d.getTimezoneOffset();
    var sign = off >= 0 ? "+" : "-";
    var a = Math.abs(off);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) +
      " " + pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) +
      " " + sign + pad(Math.floor(a / 60)) + ":" + pad(a % 60);
  }

  function span(ms) {
    var s = Math.floor(ms / 1000);
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
    var m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (d > 0) return d + "d " + h + "h";
    if (h > 0) return h + "h " + m + "m";
    if (m > 0) return m + "m " + sec + "s";
    return sec + "s";
  }

  function localize(root) {
    root.querySelectorAll("time[datetime]:not([data-countdown])").forEach(function (el) {
      var iso = el.getAttribute("datetime");
      var d = new Date(iso);
      if (isNaN(d.getTime())) return;
      el.title = iso;
      el.textContent = local(d);
    });
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-countdown]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d.getTime())) return;
      el.title = local(d);
      var ms = d.getTime() - now;
      el.textContent = ms > 0 ? "in " + span(ms) : "expired";
    });
  }

  function zone() {
    var name = "";
    try {
      name = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (e) {
      name = "";
    }
    var off = local(new Date()).slice(-6);
    document.querySelectorAll("[data-tz]").forEach(function (el) {
      el.textContent = (name ? name + ", " : "") + "UTC" + off;
    });
  }

  function typing(live) {
    var a = document.activeElement;
    return a && live.contains(a) && /^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName);
  }

  function watch(live) {
    var secs = parseInt(live.getAttribute("data-refresh"), 10);
    if (!(secs > 0)) return;
    var busy = false;
    var timer = setInterval(function () {
      if (busy || document.hidden || typing(live)) return;
      busy = true;
      fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (res) {
          if (res.redirected || !res.ok) {
            window.location.reload();
            return null;
          }
          return res.text();
        })
        .then(function (html) {
          if (html === null) return;
          var doc = new DOMParser().parseFromString(html, "text/html");
          var next = doc.querySelector("#live");
          if (!next) return;
          live.replaceChildren.apply(live, Array.from(next.childNodes));
          localize(live);
          tick();
          if (!next.hasAttribute("data-refresh")) clearInterval(timer);
        })
        .catch(function () {
          // The server is unreachable for now; keep what is shown.
        })
        .finally(function () {
          busy = false;
        });
    }, secs * 1000);
  }

  function start() {
    localize(document);
    zone();
    tick();
    setInterval(tick, 1000);
    var live = document.querySelector("#live[data-refresh]");
    if (live) watch(live);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
