// Behaviour every page shares. No inline scripts or handlers anywhere: the Content-Security-
// Policy allows scripts only from these files, so pages say what they need with data-*.
(function () {
  // Times in the reader's own time zone: <time datetime="ISO" data-local>fallback</time>.
  const format = new Intl.DateTimeFormat([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  function localize(root) {
    (root || document).querySelectorAll("time[data-local]").forEach((el) => {
      const when = new Date(el.getAttribute("datetime"));
      if (!isNaN(when)) { el.title = when.toString(); el.textContent = format.format(when); }
    });
  }
  // <p data-needs-script hidden>: shown only where scripts run (e.g. "Counting calls…").
  function reveal(root) {
    (root || document).querySelectorAll("[data-needs-script]").forEach((el) => { el.hidden = false; });
  }
  document.addEventListener("DOMContentLoaded", () => { localize(); reveal(); });
  document.addEventListener("htmx:load", (event) => { localize(event.target); reveal(event.target); });

  // <form data-confirm="Start …?">: asks first. Capturing runs before htmx's own listener.
  document.addEventListener("submit", (event) => {
    const message = event.target.dataset && event.target.dataset.confirm;
    if (message && !window.confirm(message)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // <div hx-get=… data-load-error="…">: says so in place when the fragment cannot be loaded.
  document.addEventListener("htmx:responseError", (event) => {
    const target = event.detail.elt.closest("[data-load-error]");
    if (!target) return;
    const error = document.createElement("p");
    error.className = "error";
    error.textContent = target.dataset.loadError;
    target.replaceChildren(error);
  });
})();
