// The build page's live log: the page shows the tail; this streams what follows it
// (Server-Sent Events, each id the byte offset after its lines, so the browser's own
// reconnect resumes with Last-Event-ID and nothing is repeated or missed). The view
// follows the log only while the reader is at its bottom.
(function () {
  var log = document.getElementById("log");
  if (!log || !log.dataset.stream) return;
  var state = document.getElementById("state");
  var source = new EventSource(log.dataset.stream);
  function atBottom() {
    return window.innerHeight + window.scrollY >= document.body.scrollHeight - 8;
  }
  source.addEventListener("line", function (event) {
    var follow = atBottom();
    log.insertAdjacentHTML("beforeend", event.data);  // escaped by the server
    log.dataset.offset = event.lastEventId;
    if (follow) window.scrollTo(0, document.body.scrollHeight);
  });
  source.addEventListener("done", function (event) {
    source.close();
    if (state) { state.textContent = event.data; state.className = event.data; }
    log.dataset.done = "true";
  });
})();
