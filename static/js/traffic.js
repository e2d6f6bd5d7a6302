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

  function init(root) { (root || document).querySelectorAll("form.traffic").forEach(setup); }
  document.addEventListener("DOMContentLoaded", () => init());
  document.addEventListener("htmx:load", (event) => init(event.target));
})();
