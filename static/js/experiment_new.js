// Show the direction for duration goals, the criterion for custom goals and optimize for the
// goals it serves only; a hidden optimize box is unticked, so it is never sent by mistake.
(function () {
  const form = document.getElementById("experiment-form");
  if (!form) return;
  function sync() {
    const goal = (form.querySelector("[name=goal_kind]:checked") || {}).value;
    form.querySelectorAll("[data-show-for]").forEach((el) => {
      el.hidden = !el.dataset.showFor.split(" ").includes(goal);
      if (el.hidden) el.querySelectorAll("input[type=checkbox]").forEach((box) => { box.checked = false; });
    });
  }
  form.addEventListener("change", sync);
  sync();
})();
