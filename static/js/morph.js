// The results panel refreshes itself every 10 s by morphing the new HTML into the old
// (idiomorph), so nodes the reader is using stay in place: focus stays where it was, and a
// <details> the reader opened or closed keeps that state instead of the server's default.
(function () {
  if (typeof Idiomorph === "undefined") return;
  Idiomorph.defaults.callbacks.beforeAttributeUpdated = function (name, element) {
    return !(name === "open" && element.localName === "details");
  };
})();
