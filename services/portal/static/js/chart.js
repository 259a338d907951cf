// The bureau's participation chart: the table's rows (data-rows) drawn with the vendored ECharts.
// The table stays the page's content; the chart only draws it.
(function () {
  const el = document.getElementById("chart");
  if (!el || typeof echarts === "undefined") return;
  const rows = JSON.parse(el.dataset.rows || "[]");
  const chart = echarts.init(el);
  chart.setOption({
    grid: { left: 48, right: 48, top: 24, bottom: 64 },
    tooltip: { trigger: "axis", valueFormatter: (v) => `${v.toFixed(1)}%` },
    xAxis: { type: "category", data: rows.map((r) => r.name), axisLabel: { rotate: 30 } },
    yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
    series: [{ type: "bar", data: rows.map((r) => Math.round(r.rate * 1000) / 10),
               markLine: { symbol: "none", data: [{ yAxis: 78.5, name: "78.5%" }] } }],
  });
  window.addEventListener("resize", () => chart.resize());
})();
