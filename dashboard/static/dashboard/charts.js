/* Draws every .csms-chart element with uPlot (shipped in vendor/uplot, no CDN).
 * data-chart: {title, series: [{label, unit, colour, step, dashed, axis, points: [[t, v]]}],
 *              range?: [t0, t1], empty}; times in Unix seconds, drawn in the browser's time. */
(function () {
  "use strict";
  const pad = (n) => String(n).padStart(2, "0");
  // One date format with seconds throughout the console: YYYY-MM-DD HH:MM:SS.
  const stamp = (t) => {
    const d = new Date(t * 1000);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  };

  function merge(series) {
    // uPlot wants one shared x array: the union of every series' times, gaps as null.
    const times = Array.from(new Set(series.flatMap((s) => s.points.map((p) => p[0]))));
    times.sort((a, b) => a - b);
    const index = new Map(times.map((t, i) => [t, i]));
    const columns = series.map((s) => {
      const column = new Array(times.length).fill(null);
      s.points.forEach(([t, v]) => { column[index.get(t)] = v; });
      return column;
    });
    return [times, ...columns];
  }

  function draw(element, data) {
    if (data === undefined) data = JSON.parse(element.dataset.chart);
    element.dataset.chart = JSON.stringify(data);
    if (element._csmsPlot) { element._csmsPlot.destroy(); element._csmsPlot = null; }
    element.textContent = "";
    const total = data.series.reduce((n, s) => n + s.points.length, 0);
    if (!total) {
      const p = document.createElement("p");
      p.className = "csms-chart-empty";
      p.textContent = `${data.title}: ${data.empty || "No values"}`;
      element.appendChild(p);
      return null;
    }
    const axes = [{
      values: (u, ticks) => ticks.map((t) => {
        const d = new Date(t * 1000);
        const span = u.scales.x.max - u.scales.x.min;
        return span > 86400
          ? `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`
          : `${pad(d.getHours())}:${pad(d.getMinutes())}${span < 600 ? ":" + pad(d.getSeconds()) : ""}`;
      }),
    }];
    const scales = { x: { time: true } };
    const units = [];
    data.series.forEach((s) => {
      if (units[s.axis] === undefined) units[s.axis] = s.unit;
    });
    units.forEach((unit, i) => {
      scales[`y${i}`] = { range: (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] };
      axes.push({ scale: `y${i}`, label: unit, side: i === 0 ? 3 : 1, grid: { show: i === 0 } });
    });
    if (data.range) scales.x.range = () => data.range;
    const options = {
      title: data.title,
      width: Math.max(320, Math.min(element.clientWidth || 720, 1100)),
      height: Number(element.dataset.height || 260),
      scales,
      axes,
      series: [
        { label: "Time", value: (u, t) => (t == null ? "—" : stamp(t)) },
        ...data.series.map((s) => ({
          label: s.label,
          scale: `y${s.axis}`,
          stroke: s.colour,
          width: 2,
          dash: s.dashed ? [6, 4] : undefined,
          spanGaps: true,
          paths: s.step ? uPlot.paths.stepped({ align: 1 }) : undefined,
          value: (u, v) => (v == null ? "—" : `${v} ${s.unit}`),
        })),
      ],
    };
    element._csmsPlot = new uPlot(options, merge(data.series), element);
    return element._csmsPlot;
  }

  function drawAll() {
    document.querySelectorAll(".csms-chart").forEach((element) => {
      if (!element._csmsPlot) draw(element);
    });
  }

  window.csmsCharts = { draw, drawAll, stamp };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawAll);
  else drawAll();
})();
