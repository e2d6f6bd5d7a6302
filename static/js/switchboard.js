// Times in the reader's own time zone: <time datetime="ISO" data-local>fallback</time>.
(function () {
  const format = new Intl.DateTimeFormat([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  function localize(root) {
    (root || document).querySelectorAll("time[data-local]").forEach((el) => {
      const when = new Date(el.getAttribute("datetime"));
      if (!isNaN(when)) { el.title = when.toString(); el.textContent = format.format(when); }
    });
  }
  document.addEventListener("DOMContentLoaded", () => localize());
  document.addEventListener("htmx:load", (event) => localize(event.target));
})();
