/**
 * The client's one error type: a problem+json answer of saeserve, or a request that got none.
 * @module
 */

/** An error answer (RFC 9457 problem details); `status` 0 when no answer came back. */
export class SaeServeError extends Error {
  /** HTTP status, or 0 for a transport failure or timeout. */
  readonly status: number;
  /** The problem's title (or the status text). */
  readonly title: string;
  /** The problem's detail. */
  readonly detail: string;
  /** The problem type URI. */
  readonly type: string;
  /** The whole problem body. */
  readonly body: Record<string, unknown>;

  constructor(
    status: number,
    title: string,
    options: {
      detail?: string;
      type?: string;
      body?: Record<string, unknown>;
    } = {},
  ) {
    const detail = options.detail ?? "";
    const head = status ? `${status} ${title}` : title;
    super(detail ? `${head}: ${detail}` : head);
    this.name = "SaeServeError";
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.type = options.type ?? "about:blank";
    this.body = options.body ?? {};
  }
}

/** The error for a non-2xx response: from its problem+json body, or its status line. */
export async function problemError(res: Response): Promise<SaeServeError> {
  const text = await res.text();
  try {
    const body = JSON.parse(text);
    if (body && typeof body === "object" && !Array.isArray(body)) {
      return new SaeServeError(
        Number(body.status ?? res.status),
        String(body.title ?? res.statusText),
        {
          detail: body.detail === undefined ? "" : String(body.detail),
          type: body.type === undefined ? undefined : String(body.type),
          body,
        },
      );
    }
  } catch { /* not JSON */ }
  return new SaeServeError(res.status, res.statusText, {
    detail: text.slice(0, 500),
  });
}
