// Show the direction for duration goals and the criterion for custom goals only.
(function () {
  const form = document.getElementById("experiment-form");
  if (!form) return;
  function sync() {
    const goal = (form.querySelector("[name=goal_kind]:checked") || {}).value;
    form.querySelectorAll("[data-show-for]").forEach((el) => { el.hidden = !el.dataset.showFor.split(" ").includes(goal); });
  }
  form.addEventListener("change", sync);
  sync();
})();
