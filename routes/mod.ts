/**
 * The HTTP app: every operation of the route table mounted on one Hono instance, with request
 * metrics, problem+json errors, 405 with `Allow` for a wrong method on a known path, and
 * /openapi.json generated from the same table.
 * @module
 */

import { Hono } from "hono";
import { cors } from "hono/cors";
import { Counter, Histogram } from "../service/prometheus.ts";
import { computeOperations } from "./compute.ts";
import { featureOperations } from "./features.ts";
import { featureSearchOperations } from "./feature_search.ts";
import { featureCardOperation } from "./feature_card.ts";
import { steeringVectorOperation } from "./steering_vector.ts";
import { probeOperations } from "./probes.ts";
import { circuitOperation } from "./circuits.ts";
import { alignedOperations } from "./aligned.ts";
import { visionOperations } from "./vision.ts";
import { uiOperations } from "./ui.ts";
import type { AppDeps } from "./deps.ts";
import { dictionaryOperations } from "./dictionaries.ts";
import { docsOperations } from "./docs.ts";
import type { AppEnv } from "./env.ts";
import { healthOperations } from "./health.ts";
import { allowedMethods, methodNotAllowed } from "./method_not_allowed.ts";
import { openApiDocument } from "./openapi.ts";
import type { Operation } from "./operation.ts";
import { errorResponse, problemResponse } from "./problem.ts";
import { setRequestSignal } from "./request_signal.ts";
import { BODY_CUT_SHORT } from "./body.ts";
import { SaeError } from "../domain/errors.ts";

export type { AppDeps } from "./deps.ts";

/** Service version reported in the OpenAPI document. */
export const VERSION = "0.1.0";

/** Every operation of the service, in the order the document lists them. */
function operationsOf(deps: AppDeps, options: { memoryBudget: number }): Operation[] {
  const operations: Operation[] = [
    ...healthOperations(deps, options),
    ...dictionaryOperations(deps),
    ...computeOperations(deps),
    ...featureOperations(deps),
    ...featureSearchOperations(deps),
    featureCardOperation(deps),
    steeringVectorOperation(deps),
    ...visionOperations(deps),
    ...probeOperations(deps),
    circuitOperation(deps),
    ...alignedOperations(deps),
    ...uiOperations(),
  ];
  let document: Record<string, unknown> | undefined;
  operations.push(
    ...docsOperations(() => document ??= openApiDocument(operations, { version: VERSION }), {
      version: VERSION,
    }),
  );
  return operations;
}

/** HTTP methods counted under their own name in /metrics (others count as "other"). */
const STANDARD_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);

/**
 * Build the app around its dependencies. Handlers see the typed environment ({@link AppEnv});
 * the app is mounted on a plain Hono, so callers get Hono's default environment.
 */
export function createApp(deps: AppDeps, options: { memoryBudget: number }): Hono {
  const app = new Hono<AppEnv>();
  const requests = deps.metrics.add(
    new Counter(
      "saeserve_http_requests_total",
      "HTTP requests by route, method, status and backend.",
    ),
  );
  const seconds = deps.metrics.add(
    new Histogram(
      "saeserve_http_request_seconds",
      "HTTP request latency by route, status and backend.",
      [
        0.001,
        0.0025,
        0.005,
        0.01,
        0.025,
        0.05,
        0.1,
        0.25,
        0.5,
        1,
        2.5,
        10,
      ],
    ),
  );
  app.use(async (c, next) => {
    const started = performance.now();
    const given = c.req.header("x-request-id");
    const id = given && /^[\x21-\x7e]{1,128}$/.test(given) ? given : crypto.randomUUID();
    c.header("X-Request-Id", id);
    // One signal per request: the deadline, a client that goes away. Work handed to the
    // backend or the job runner with it stops when it aborts.
    const controller = new AbortController();
    const clientGone = () =>
      controller.abort(new SaeError("unavailable", "the client closed the connection"));
    c.req.raw.signal.addEventListener("abort", clientGone, { once: true });
    setRequestSignal(c, controller.signal);
    const timeout = deps.requestTimeoutMs ?? 0;
    const timer = timeout > 0
      ? setTimeout(
        () =>
          controller.abort(
            // Not worth sending again as it is: the same work would meet the same deadline.
            new SaeError("unavailable", `the request exceeded its ${timeout} ms deadline`, {
              info: { retryable: false },
            }),
          ),
        timeout,
      )
      : undefined;
    const aborted = new Promise<"aborted">((resolve) =>
      controller.signal.addEventListener("abort", () => resolve("aborted"), { once: true })
    );
    try {
      const outcome = await Promise.race([next().then(() => "done" as const), aborted]);
      if (outcome === "aborted") {
        c.res = errorResponse(c, controller.signal.reason);
        c.res.headers.set("X-Request-Id", id);
      }
    } finally {
      clearTimeout(timer);
      c.req.raw.signal.removeEventListener("abort", clientGone);
    }
    const route = c.req.routePath ?? "unmatched";
    const status = String(c.res.status);
    const backend = c.res.headers.get("x-saeserve-backend") ?? "";
    // Any client may invent methods: only the standard ones become series of their own.
    const method = STANDARD_METHODS.has(c.req.method) ? c.req.method : "other";
    requests.inc({ route, method, status, backend });
    const elapsed = performance.now() - started;
    seconds.observe(elapsed / 1000, { route, status, backend });
    deps.log?.({
      time: new Date().toISOString(),
      request_id: id,
      method: c.req.method,
      route,
      dictionary: c.req.param("id") ?? undefined,
      backend: backend || undefined,
      rows: c.get("rows"),
      status: c.res.status,
      ms: Math.round(elapsed * 1000) / 1000,
    });
  });
  if (deps.corsOrigins?.length) {
    // Before the keys: a browser's preflight carries none.
    const origins = [...deps.corsOrigins];
    app.use(cors({
      origin: origins.includes("*") ? "*" : origins,
      allowHeaders: [
        "Content-Type",
        "Authorization",
        "Accept",
        "X-Saeserve-Backend",
        "X-Request-Id",
      ],
      exposeHeaders: [
        "X-Saeserve-Backend",
        "X-Saeserve-Metrics",
        "X-Saeserve-Max-Activation",
        "X-Request-Id",
        "Retry-After",
        "RateLimit",
        "RateLimit-Policy",
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
      ],
      maxAge: 600,
    }));
  }
  if (deps.auth) {
    app.use("/v1/*", deps.auth);
    if (deps.protectMetrics) app.use("/metrics", deps.auth);
  }
  app.onError((error, c) => errorResponse(c, deps.draining?.() ? duringShutdown(error) : error));
  const operations = operationsOf(deps, options);
  for (const op of operations) {
    app.on(op.method.toUpperCase(), op.path, op.handler);
  }
  // Registered after every operation: only a method no operation of the path takes gets here.
  for (const [path, allow] of allowedMethods(operations)) {
    app.all(path, methodNotAllowed(allow));
  }
  const root = new Hono();
  root.onError((error, c) => errorResponse(c, error));
  root.notFound((c) =>
    problemResponse(c, { status: 404, detail: noRouteDetail(c.req.method, c.req.url) })
  );
  return root.route("/", app);
}

/** The 404 detail for a path no route takes; an id with an unencoded `/` is told how to send it. */
/**
 * What an error means while the service drains: a body cut short by the closing connection, or a
 * backend already closed, is the shutdown's doing, not the request's: 503 with Retry-After (a
 * client retries, another replica takes it), not a 400 or a "backend closed".
 */
function duringShutdown(error: unknown): unknown {
  const cut = error instanceof SaeError && error.message.startsWith(BODY_CUT_SHORT);
  const closed = error instanceof SaeError && error.kind === "unavailable";
  if (!cut && !closed) return error;
  return new SaeError("unavailable", "the service is shutting down; send the request again", {
    info: { retry_after: 1 },
  });
}

function noRouteDetail(method: string, url: string): string {
  const path = new URL(url).pathname;
  const hint = /^\/v1\/(dictionaries|aligned)\/[^/]+\/[^/]+\/./.test(path)
    ? "; an id that holds / goes in one path segment, URL-encoded (/ as %2F)"
    : "";
  return `no route ${method} ${path}${hint}`;
}
