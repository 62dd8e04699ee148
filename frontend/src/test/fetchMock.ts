/** Test fakes: a routing stand-in for `fetch` and a response stream the test feeds by hand. */
import { vi } from "vitest";

export interface RecordedCall {
  method: string;
  path: string;
  body: unknown;
  signal?: AbortSignal | null;
}

type Handler = (call: RecordedCall) => Response | Promise<Response>;

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

export function noContent(): Response {
  return new Response(null, { status: 204 });
}

export function apiError(status: number, code: string, message: string): Response {
  return json({ error: { code, message } }, status);
}

/**
 * Installs a fake `fetch` answering "METHOD /path" keys (a handler or a fixed Response
 * factory); unknown routes answer 404. Returns the list of calls made.
 */
export function mockFetch(routes: Record<string, Handler>): RecordedCall[] {
  const calls: RecordedCall[] = [];
  const fake = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(typeof input === "string" ? input : input.toString(), "http://localhost");
    const method = (init?.method ?? "GET").toUpperCase();
    let body: unknown = undefined;
    if (typeof init?.body === "string") {
      try {
        body = JSON.parse(init.body);
      } catch {
        body = init.body;
      }
    }
    const call: RecordedCall = { method, path: url.pathname, body, signal: init?.signal };
    calls.push(call);
    const handler = routes[`${method} ${url.pathname}`];
    if (!handler) return apiError(404, "not_found", `no route ${method} ${url.pathname}`);
    return handler(call);
  });
  vi.stubGlobal("fetch", fake);
  return calls;
}

export interface FeedStream {
  response: Response;
  /** Sends text (UTF-8 encoded) as one chunk. */
  send: (text: string) => void;
  /** Sends raw bytes as one chunk. */
  sendBytes: (bytes: Uint8Array) => void;
  close: () => void;
  readonly cancelled: boolean;
}

export function feedStream(status = 200): FeedStream {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel() {
      cancelled = true;
    },
  });
  const encoder = new TextEncoder();
  return {
    response: new Response(stream, { status, headers: { "Content-Type": "text/event-stream" } }),
    send: (text) => controller.enqueue(encoder.encode(text)),
    sendBytes: (bytes) => controller.enqueue(bytes),
    close: () => controller.close(),
    get cancelled() {
      return cancelled;
    },
  };
}

export function sseEvent(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
