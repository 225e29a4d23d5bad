// wiredesk desk page (#19): shows each time's exact value in the reader's
// time zone on hover. Served as /desk.js under a CSP that allows scripts
// from 'self' only; the page works the same without it.
(function () {
  "use strict";
  var format;
  try {
    format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
  } catch (e) {
    return;
  }
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
  var times = document.querySelectorAll("time[datetime]");
  for (var i = 0; i < times.length; i++) {
    var at = new Date(times[i].getAttribute("datetime"));
    if (!isNaN(at.getTime())) {
      times[i].title = format.format(at) + " (" + zone + ")";
    }
  }
  document.documentElement.setAttribute("data-local-times", String(times.length));
})();
