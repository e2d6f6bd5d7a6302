// Charts of the results panel, drawn with the vendored Chart.js from data in the page.
(function () {
  const colors = ["#5d6676", "#2f5bd3", "#c2410c", "#15803d", "#7c3aed", "#b45309"];
  const percentGoals = ["conversion", "custom"];

  function read(id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function format(goal) {
    if (percentGoals.includes(goal)) return (v) => (v * 100).toFixed(1) + "%";
    if (goal === "sentiment") return (v) => v.toFixed(2);
    return (v) => Math.round(v) + " s";
  }

  function timeline(canvas, data) {
    const goal = canvas.dataset.goal, fmt = format(goal);
    const series = data.series || [];
    if (!series.length || !series[0].points.length) return;
    const labels = series[0].points.map((p) => new Date(p.t).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }));
    const datasets = [];
    series.forEach((s, i) => {
      const color = colors[i % colors.length];
      datasets.push({ label: s.name + " (range)", data: s.points.map((p) => p.low), borderWidth: 0, pointRadius: 0, fill: false });
      datasets.push({ label: s.name + " range", data: s.points.map((p) => p.high), borderWidth: 0, pointRadius: 0, backgroundColor: color + "22", fill: "-1" });
      datasets.push({ label: s.name, data: s.points.map((p) => p.mean), borderColor: color, backgroundColor: color, pointRadius: 0, borderWidth: 2, fill: false });
    });
    new Chart(canvas, {
      type: "line", data: { labels, datasets },
      options: {
        animation: false, responsive: true, interaction: { mode: "index", intersect: false },
        plugins: { legend: { labels: { filter: (item) => !item.text.includes("range") } },
                   tooltip: { callbacks: { label: (c) => c.dataset.label + ": " + fmt(c.parsed.y) } } },
        scales: { y: { ticks: { callback: fmt } } },
      },
    });
  }

  function lift(canvas, variants) {
    const rows = variants.filter((v) => v.lift && v.lift.ok);
    if (!rows.length) return;
    // The change in the goal's own unit (apps/stats/scales.py): rates in percentage points,
    // sentiment in points on -1..1, duration in seconds.
    const goal = canvas.dataset.goal;
    const pct = (v) => goal === "sentiment" ? v.toFixed(2) + " pts" : goal === "duration" ? v.toFixed(0) + " s" : (v * 100).toFixed(1) + " pts";
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: rows.map((v) => v.name),
        datasets: [
          { type: "bar", label: "Range", data: rows.map((v) => [v.lift.ci_low, v.lift.ci_high]), backgroundColor: rows.map((_, i) => colors[(i + 1) % colors.length] + "55"), borderSkipped: false, barPercentage: 0.4 },
          { type: "line", label: "Lift", data: rows.map((v) => v.lift.absolute), showLine: false, pointRadius: 6, pointBackgroundColor: "#1d2330" },
        ],
      },
      options: {
        animation: false, indexAxis: "y", responsive: true,
        plugins: { legend: { display: false },
                   tooltip: { callbacks: { label: (c) => Array.isArray(c.raw) ? "Range " + pct(c.raw[0]) + " to " + pct(c.raw[1]) : "Change " + pct(c.raw) } } },
        scales: { x: { ticks: { callback: pct }, grid: { color: (ctx) => (ctx.tick.value === 0 ? "#1d2330" : "#e5e7eb") } } },
      },
    });
  }

  function draw(root) {
    if (typeof Chart === "undefined") return;
    const scope = root || document;
    const fresh = (c) => !Chart.getChart(c);
    scope.querySelectorAll("canvas[data-chart='timeline']").forEach((c) => fresh(c) && timeline(c, read("timeline-data") || {}));
    scope.querySelectorAll("canvas[data-chart='lift']").forEach((c) => fresh(c) && lift(c, read("variants-data") || []));
  }

  document.addEventListener("htmx:beforeSwap", (event) => {
    event.detail.target.querySelectorAll("canvas").forEach((c) => { const chart = Chart.getChart(c); if (chart) chart.destroy(); });
  });
  document.addEventListener("htmx:load", (event) => draw(event.target));
})();
