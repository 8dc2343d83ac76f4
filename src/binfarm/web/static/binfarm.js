// The build page's live log: the page shows the tail; this streams what follows it
// (Server-Sent Events, each id the byte offset after its lines, so the browser's own
// reconnect resumes with Last-Event-ID and nothing is repeated or missed). The view
// follows the log only while the reader is at its bottom. A hidden tab closes its stream
// (a browser allows six connections to a host) and reopens it from its offset.
(function () {
  var log = document.getElementById("log");
  if (!log || !log.dataset.stream) return;
  var state = document.getElementById("state");
  var base = log.dataset.stream.split("?")[0];
  var source = null;
  function atBottom() {
    return window.innerHeight + window.scrollY >= document.body.scrollHeight - 8;
  }
  function open() {
    source = new EventSource(base + "?from=" + log.dataset.offset);
    source.addEventListener("line", function (event) {
      var follow = atBottom();
      log.insertAdjacentHTML("beforeend", event.data);  // escaped by the server
      log.dataset.offset = event.lastEventId;
      if (follow) window.scrollTo(0, document.body.scrollHeight);
    });
    source.addEventListener("done", function (event) {
      source.close();
      source = null;
      if (state) { state.textContent = event.data; state.className = event.data; }
      log.dataset.done = "true";
    });
  }
  document.addEventListener("visibilitychange", function () {
    if (log.dataset.done) return;
    if (document.hidden && source) { source.close(); source = null; }
    else if (!document.hidden && !source) open();
  });
  open();
})();

// A live page (data-refresh: seconds) fetches itself again and swaps its content in:
// the page is whole without this, and it pauses while the tab is hidden or the reader
// is typing into one of its forms.
(function () {
  var main = document.getElementById("main");
  if (!main || !main.dataset.refresh) return;
  var period = Number(main.dataset.refresh) * 1000;
  function busy() {
    var active = document.activeElement;
    return document.hidden || (active && main.contains(active) && active.form);
  }
  function refresh() {
    if (busy()) return;
    fetch(window.location.href, {credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html || busy()) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("main");
        if (fresh && fresh.innerHTML !== main.innerHTML) main.innerHTML = fresh.innerHTML;
      })
      .catch(function () {});  // the farm restarting: the next period tries again
  }
  window.setInterval(refresh, period);
})();
