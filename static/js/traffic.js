// Traffic sliders: moving one slider rebalances the others so the total stays 100.
// Typing a number changes only that variant; the total is shown live. Without this
// script the form is plain number inputs, and the server checks the sum.
(function () {
  function setup(form) {
    if (form.dataset.ready) return;
    form.dataset.ready = "1";
    const numbers = [...form.querySelectorAll("[data-weight]")];
    const sliders = [...form.querySelectorAll("[data-slider]")];
    const total = form.querySelector("[data-total]");
    form.querySelectorAll("[hidden]").forEach((el) => el.removeAttribute("hidden"));

    const value = (input) => Math.max(0, Math.min(100, parseInt(input.value, 10) || 0));
    const show = () => {
      const sum = numbers.reduce((acc, input) => acc + value(input), 0);
      total.textContent = sum + "%";
      total.classList.toggle("bad", sum !== 100);
      sliders.forEach((slider, i) => { slider.value = value(numbers[i]); });
      startWithSplitOnScreen(form, numbers);
    };
    const assign = (values) => {
      numbers.forEach((input, i) => { input.value = values[i]; });
      show();
    };

    function rebalance(moved, target) {
      const others = numbers.map((_, i) => i).filter((i) => i !== moved);
      const rest = 100 - target;
      const current = others.map((i) => value(numbers[i]));
      const base = current.reduce((a, b) => a + b, 0);
      const shares = others.map((_, j) => (base ? current[j] / base : 1 / others.length) * rest);
      const rounded = shares.map(Math.floor);
      let left = rest - rounded.reduce((a, b) => a + b, 0);
      const order = shares.map((s, j) => [s - Math.floor(s), j]).sort((a, b) => b[0] - a[0]);
      for (const [, j] of order) { if (left-- > 0) rounded[j] += 1; }
      const values = numbers.map(value);
      values[moved] = target;
      others.forEach((i, j) => { values[i] = rounded[j]; });
      assign(values);
    }

    sliders.forEach((slider, i) => slider.addEventListener("input", () => rebalance(i, value(slider))));
    numbers.forEach((input) => input.addEventListener("input", show));
    form.querySelectorAll("[data-preset]").forEach((button) => button.addEventListener("click", () => {
      const preset = button.dataset.preset;
      if (preset === "even") {
        const n = numbers.length, each = Math.floor(100 / n);
        assign(numbers.map((_, i) => each + (i >= n - (100 - each * n) ? 1 : 0)));
      } else {
        assign(preset.split(",").map(Number));
      }
    }));
    show();
  }

  // Start uses the split the person sees: while the numbers differ from the saved split, the
  // Start form carries them (the server saves them first) and its question says so.
  function startWithSplitOnScreen(form, numbers) {
    const start = document.querySelector("form[data-start]");
    if (!start) return;
    start.dataset.savedConfirm = start.dataset.savedConfirm || start.dataset.confirm;
    start.querySelectorAll("[data-on-screen]").forEach((el) => el.remove());
    // data-unsaved: the server refused these numbers, so what is on screen is not the saved split
    const changed = form.hasAttribute("data-unsaved") ||
      numbers.some((input) => input.value !== input.defaultValue);
    const note = form.querySelector("[data-unsaved-note]");
    if (note) note.hidden = !changed;
    if (!changed) { start.dataset.confirm = start.dataset.savedConfirm; return; }
    const carry = (name, value) => {
      const input = document.createElement("input");
      Object.assign(input, { type: "hidden", name, value });
      input.dataset.onScreen = "";
      start.append(input);
    };
    numbers.forEach((input) => carry(input.name, input.value));
    const version = form.querySelector("[name=expected_version]");
    if (version) carry("expected_version", version.value);
    const split = numbers.map((input) => {
      const label = form.querySelector(`label[for="${input.id}"]`);
      return `${label ? label.textContent.trim() : input.name} ${input.value || 0}%`;
    }).join(", ");
    start.dataset.confirm = `Start “${start.dataset.name}” with the split on screen (${split})? ` +
      "It is not saved yet: it is saved first, then routers start sending callers to the variants.";
  }

  function init(root) { (root || document).querySelectorAll("form.traffic").forEach(setup); }
  document.addEventListener("DOMContentLoaded", () => init());
  document.addEventListener("htmx:load", (event) => init(event.target));
})();
