// Draws the dashboard's charts from the JSON the page already holds (#chart-data).
// Every chart has a table of the same figures next to it; the charts add no information.
(function () {
  "use strict";

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  // Expense bars are hatched, so income and expense differ without relying on colour.
  function hatch(color) {
    const tile = document.createElement("canvas");
    tile.width = 8;
    tile.height = 8;
    const ctx = tile.getContext("2d");
    ctx.fillStyle = color;
    ctx.globalAlpha = 0.35;
    ctx.fillRect(0, 0, 8, 8);
    ctx.globalAlpha = 1;
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(0, 8);
    ctx.lineTo(8, 0);
    ctx.stroke();
    return ctx.createPattern(tile, "repeat");
  }

  function draw() {
    const source = document.getElementById("chart-data");
    if (!source || typeof Chart === "undefined") {
      return;
    }
    const data = JSON.parse(source.textContent);
    const money = new Intl.NumberFormat(document.documentElement.lang || undefined, {
      style: "currency",
      currency: data.currency,
    });
    const ticks = new Intl.NumberFormat(document.documentElement.lang || undefined, {
      style: "currency",
      currency: data.currency,
      notation: "compact",
    });
    const income = cssVar("--income");
    const expense = cssVar("--expense");
    const text = cssVar("--text");
    const grid = cssVar("--border");
    Chart.defaults.color = text;
    Chart.defaults.borderColor = grid;
    Chart.defaults.font.family = cssVar("--font");
    const tooltip = {
      callbacks: {
        label: (item) => `${item.dataset.label}: ${money.format(item.raw)}`,
      },
    };

    const trendCanvas = document.getElementById("trend-chart");
    if (trendCanvas) {
      new Chart(trendCanvas, {
        type: "bar",
        data: {
          labels: data.trend.map((p) => p.period),
          datasets: [
            {
              label: "Income",
              data: data.trend.map((p) => Number(p.income)),
              backgroundColor: income,
              order: 2,
            },
            {
              label: "Expense",
              data: data.trend.map((p) => Number(p.expense)),
              backgroundColor: hatch(expense),
              borderColor: expense,
              borderWidth: 1,
              order: 2,
            },
            {
              label: "Net",
              type: "line",
              data: data.trend.map((p) => Number(p.net)),
              borderColor: text,
              backgroundColor: text,
              borderDash: [6, 4],
              pointStyle: "rectRot",
              pointRadius: data.trend.length > 60 ? 0 : 3,
              order: 1,
            },
          ],
        },
        options: {
          maintainAspectRatio: false,
          animation: false,
          interaction: { mode: "index", intersect: false },
          plugins: { tooltip: tooltip, legend: { labels: { usePointStyle: true } } },
          scales: { y: { ticks: { callback: (value) => ticks.format(value) } } },
        },
      });
    }

    // Balances: one thin line per account (each its own dash and point shape, so they differ
    // without colour), net worth a thick solid line.
    const balanceCanvas = document.getElementById("balance-chart");
    if (balanceCanvas && data.balances) {
      const palette = [cssVar("--accent"), income, expense, "#8a5cd1", "#c77d1a", "#2b8a8a"];
      const dashes = [[], [6, 3], [2, 3], [10, 4, 2, 4], [4, 4], [1, 2]];
      const shapes = ["circle", "triangle", "rect", "crossRot", "star", "rectRot"];
      const few = data.balances.periods.length <= 60;
      const accounts = data.balances.accounts.map((a, i) => ({
        label: a.name,
        data: a.data.map(Number),
        borderColor: palette[i % palette.length],
        backgroundColor: palette[i % palette.length],
        borderDash: dashes[i % dashes.length],
        borderWidth: 1.5,
        pointStyle: shapes[i % shapes.length],
        pointRadius: few ? 3 : 0,
      }));
      new Chart(balanceCanvas, {
        type: "line",
        data: {
          labels: data.balances.periods,
          datasets: accounts.concat([
            {
              label: "Net worth",
              data: data.balances.net_worth.map(Number),
              borderColor: text,
              backgroundColor: text,
              borderWidth: 3,
              pointRadius: few ? 3 : 0,
            },
          ]),
        },
        options: {
          maintainAspectRatio: false,
          animation: false,
          interaction: { mode: "index", intersect: false },
          plugins: { tooltip: tooltip, legend: { labels: { usePointStyle: true } } },
          scales: { y: { ticks: { callback: (value) => ticks.format(value) } } },
        },
      });
    }

    const categoryCanvas = document.getElementById("category-chart");
    if (categoryCanvas) {
      const top = data.expense.slice(0, 10);
      new Chart(categoryCanvas, {
        type: "bar",
        data: {
          labels: top.map((c) => c.category),
          datasets: [
            {
              label: "Expense",
              data: top.map((c) => Number(c.total)),
              backgroundColor: hatch(expense),
              borderColor: expense,
              borderWidth: 1,
            },
          ],
        },
        options: {
          indexAxis: "y",
          maintainAspectRatio: false,
          animation: false,
          plugins: { tooltip: tooltip, legend: { display: false } },
          scales: { x: { ticks: { callback: (value) => ticks.format(value) } } },
        },
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
