// Show what the chosen goal needs, read from its radio button (apps/experiments/forms.py
// GoalSelect): the criterion when an LLM judge scores it, optimize when its calls pass or
// fail, the smallest change in points or in percent. A hidden optimize box is unticked, so it
// is never sent by mistake; the goal itself cannot be a guardrail or a secondary metric.
(function () {
  const form = document.getElementById("experiment-form");
  if (!form) return;
  function wanted(facts, when) {
    return facts.judged === "yes" && when === "judged"
      || facts.optimizable === "yes" && when === "optimizable"
      || facts.effect === when;
  }
  function sync() {
    const goal = form.querySelector("[name=goal_kind]:checked");
    const facts = goal ? goal.dataset : {};
    form.querySelectorAll("[data-show-when]").forEach((el) => {
      el.hidden = !wanted(facts, el.dataset.showWhen);
      if (el.hidden) el.querySelectorAll("input[type=checkbox]").forEach((box) => { box.checked = false; });
    });
    form.querySelectorAll("[name=guardrails], [name=secondary]").forEach((box) => {
      const isGoal = goal && box.value === goal.value;
      box.disabled = isGoal;
      if (isGoal) box.checked = false;
    });
  }
  form.addEventListener("change", sync);
  sync();
})();
