import assert from "node:assert/strict";
import { Counter, Gauge, Histogram, MetricsRegistry } from "./prometheus.ts";

Deno.test("metrics render in Prometheus text format with labels and buckets", () => {
  const reg = new MetricsRegistry();
  const c = reg.add(new Counter("x_total", "X."));
  c.inc({ route: "/a", status: "200" });
  c.inc({ route: "/a", status: "200" }, 2);
  reg.add(new Gauge("g", "G.", () => 7));
  const h = reg.add(new Histogram("lat", "L.", [0.1, 1]));
  h.observe(0.05, { route: "/a" });
  h.observe(0.5, { route: "/a" });
  const text = reg.render();
  assert.match(text, /# TYPE x_total counter\nx_total\{route="\/a",status="200"\} 3/);
  assert.match(text, /\ng 7\n/);
  assert.match(text, /lat_bucket\{route="\/a",le="0.1"\} 1/);
  assert.match(text, /lat_bucket\{route="\/a",le="1"\} 2/);
  assert.match(text, /lat_bucket\{route="\/a",le="\+Inf"\} 2/);
  assert.match(text, /lat_count\{route="\/a"\} 2/);
});

Deno.test("label values are escaped", () => {
  const c = new Counter("e_total", "E.");
  c.inc({ v: 'a"b\\c' });
  assert.match(c.render().join("\n"), /e_total\{v="a\\"b\\\\c"\} 1/);
});
