// Charts of the results panel by call date, drawn with the vendored Chart.js from the series
// in the page (apps/results/timeseries.py): each variant's goal metric over all calls so far,
// and the change vs control with its always-valid range, with markers where the split
// changed, a variant was paused or resumed, and the test stopped. The panel is morphed every
// 10 s; a chart is redrawn only when its data changed, so it does not flicker.
(function () {
  const colors = ["#5d6676", "#2f5bd3", "#c2410c", "#15803d", "#7c3aed", "#b45309"];

  function read(id) {
    const el = document.getElementById(id);
    return el ? { text: el.textContent, data: JSON.parse(el.textContent) } : null;
  }

  // A value of the goal as people read it, and a change on the goal's own scale
  // (apps/stats/scales.py): rates in percentage points, sentiment in points, duration in s.
  // The goal's scale comes with the series (apps/stats/scales.py: rate, score, seconds, ms,
  // usd or count), so any metric of the registry is written in its own unit.
  const units = {
    rate: [(v) => (v * 100).toFixed(1) + "%", (v) => (v * 100).toFixed(1) + " pts"],
    score: [(v) => v.toFixed(2), (v) => v.toFixed(2) + " pts"],
    seconds: [(v) => Math.round(v) + " s", (v) => Math.round(v) + " s"],
    ms: [(v) => Math.round(v) + " ms", (v) => Math.round(v) + " ms"],
    usd: [(v) => "$" + v.toFixed(3), (v) => "$" + v.toFixed(3)],
    count: [(v) => v.toFixed(1), (v) => v.toFixed(1)],
  };
  const sign = (v) => (v > 0 ? "+" : v < 0 ? "−" : "");
  function value(scale) {
    const fmt = (units[scale] || units.count)[0];
    return scale === "score" ? (v) => (v > 0 ? "+" : "") + fmt(v) : fmt;
  }
  function change(scale) {
    const fmt = (units[scale] || units.count)[1];
    return (v) => sign(v) + fmt(Math.abs(v));
  }

  function labels(series) {
    const options = series.step === "hour"
      ? { month: "short", day: "numeric", hour: "numeric" }
      : { month: "short", day: "numeric" };
    const format = new Intl.DateTimeFormat([], options);
    return series.points.map((p) => format.format(new Date(p.t)));
  }

  // The index of the first point at or after each marker: where its dashed line goes.
  function markerIndexes(series) {
    const times = series.points.map((p) => new Date(p.t).getTime());
    return (series.markers || []).map((m) => {
      const at = new Date(m.t).getTime();
      const i = times.findIndex((t) => t >= at);
      return { index: i < 0 ? times.length - 1 : i, text: m.text };
    });
  }

  const markerPlugin = {
    id: "markers",
    afterDatasetsDraw(chart, _args, options) {
      const marks = options.marks || [];
      if (!marks.length) return;
      const { ctx, chartArea, scales } = chart;
      ctx.save();
      ctx.strokeStyle = "#b42318";
      ctx.fillStyle = "#b42318";
      ctx.setLineDash([4, 3]);
      ctx.font = "11px system-ui, sans-serif";
      marks.forEach((m, n) => {
        const x = scales.x.getPixelForValue(m.index);
        ctx.beginPath();
        ctx.moveTo(x, chartArea.top);
        ctx.lineTo(x, chartArea.bottom);
        ctx.stroke();
        const width = ctx.measureText(m.text).width;
        const left = Math.min(Math.max(x + 3, chartArea.left), chartArea.right - width);
        ctx.fillText(m.text, left, chartArea.top + 11 + (n % 3) * 12);
      });
      ctx.restore();
    },
  };

  function common(series, format) {
    return {
      animation: false, responsive: true, maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      scales: {
        x: { ticks: { autoSkip: true, autoSkipPadding: 24, maxRotation: 0, maxTicksLimit: 5 } },
        y: { ticks: { callback: format } },
      },
      plugins: { markers: { marks: markerIndexes(series) } },
    };
  }

  function timeline(canvas, series) {
    const fmt = value(series.scale);
    const datasets = series.variants.map((v, i) => ({
      label: v.name,
      data: series.points.map((p) => p.mean[v.key]),
      borderColor: colors[i % colors.length], backgroundColor: colors[i % colors.length],
      pointRadius: series.points.length > 40 ? 0 : 2, borderWidth: 2, spanGaps: true,
    }));
    const options = common(series, fmt);
    options.plugins.tooltip = { callbacks: { label: (c) => c.dataset.label + ": " + (c.parsed.y == null ? "—" : fmt(c.parsed.y)) } };
    return new Chart(canvas, { type: "line", data: { labels: labels(series), datasets }, options, plugins: [markerPlugin] });
  }

  function lift(canvas, series) {
    const fmt = change(series.scale);
    const datasets = [];
    series.variants.forEach((v, i) => {
      if (v.is_control) return;
      const color = colors[i % colors.length];
      const at = (k) => series.points.map((p) => (p.lift[v.key] ? p.lift[v.key][k] : null));
      datasets.push({ label: v.name + " range low", data: at(1), borderWidth: 0, pointRadius: 0, fill: false, spanGaps: true });
      datasets.push({ label: v.name + " range", data: at(2), borderWidth: 0, pointRadius: 0, backgroundColor: color + "33", fill: "-1", spanGaps: true });
      datasets.push({ label: v.name, data: at(0), borderColor: color, backgroundColor: color, borderWidth: 2, pointRadius: 0, fill: false, spanGaps: true });
    });
    const options = common(series, fmt);
    options.scales.y.grid = { color: (ctx) => (ctx.tick.value === 0 ? "#1d2330" : "#e5e7eb"), lineWidth: (ctx) => (ctx.tick.value === 0 ? 2 : 1) };
    options.scales.y.suggestedMin = 0;
    options.scales.y.suggestedMax = 0;
    options.plugins.legend = { labels: { filter: (item) => !item.text.includes("range") } };
    options.plugins.tooltip = {
      filter: (item) => !item.dataset.label.includes("range low"),
      callbacks: { label: (c) => c.dataset.label.endsWith(" range") ? "Range up to " + fmt(c.parsed.y) : c.dataset.label + ": " + fmt(c.parsed.y) },
    };
    return new Chart(canvas, { type: "line", data: { labels: labels(series), datasets }, options, plugins: [markerPlugin] });
  }

  function draw(root) {
    if (typeof Chart === "undefined") return;
    const series = read("series-data");
    if (!series) return;
    (root || document).querySelectorAll("canvas[data-chart]").forEach((canvas) => {
      const existing = Chart.getChart(canvas);
      // A property, not a data- attribute: morphing would remove an attribute the server's
      // HTML does not have.
      if (existing && canvas.drawnFrom === series.text) return;
      if (existing) existing.destroy();
      canvas.drawnFrom = series.text;
      (canvas.dataset.chart === "lift" ? lift : timeline)(canvas, series.data);
    });
  }

  // Morphing would strip the size Chart.js gave a canvas (the server's HTML has none) and so
  // blank it: a drawn canvas is left as it is, and redrawn above when its data changed.
  if (typeof Idiomorph !== "undefined") {
    const before = Idiomorph.defaults.callbacks.beforeNodeMorphed;
    Idiomorph.defaults.callbacks.beforeNodeMorphed = function (oldNode, newNode) {
      if (oldNode.localName === "canvas" && typeof Chart !== "undefined" && Chart.getChart(oldNode)) return false;
      return before ? before(oldNode, newNode) : true;
    };
  }

  document.addEventListener("htmx:load", (event) => draw(event.target.closest("#results") || event.target));
  document.addEventListener("htmx:afterSettle", (event) => {
    if (event.detail.target && event.detail.target.id === "results") draw(event.detail.target);
  });
})();
