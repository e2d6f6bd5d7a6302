// The agent page: copy buttons for the router snippets, and the link that opens them.
(function () {
  // Copy buttons appear only where a script runs; without one the snippets stay selectable.
  document.querySelectorAll("[data-copy]").forEach((button) => { button.hidden = false; });
  // htmx re-runs this script when Back restores the page; one listener is enough.
  if (window.agentPageClicks) return;
  document.addEventListener("click", window.agentPageClicks = async (event) => {
    if (event.target.closest('a[href$="#connect-router"]')) {
      document.getElementById("connect-router").open = true;
    }
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const code = document.getElementById(button.dataset.copy);
    try {
      await navigator.clipboard.writeText(code.textContent);
      button.textContent = "Copied";
    } catch {
      // No clipboard outside HTTPS: select the text so that Ctrl+C copies it.
      getSelection().selectAllChildren(code);
      button.textContent = "Press Ctrl+C";
    }
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  });
})();
