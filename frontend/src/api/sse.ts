/**
 * Server-Sent Events over fetch: the one stream reader of the app.
 *
 * EventSource cannot POST or carry a body, so message streams are read with fetch +
 * ReadableStream + TextDecoder and parsed here, following the WHATWG event-stream rules:
 * lines end with CRLF, LF or CR (also when split across chunks), `:` starts a comment
 * (the server's keep-alives), several `data:` lines join with "\n", a blank line
 * dispatches the event, and an event left unterminated at the end of the stream is dropped.
 */
import { abortError, errorFromResponse, networkError, ApiError } from "./errors";

export interface SseEvent {
  /** The `event:` field; "message" when the server sent none. */
  event: string;
  data: string;
  id?: string;
}

/** Incremental parser: feed decoded text in any chunking, get complete events back. */
export class SseParser {
  private partial = "";
  private skipLeadingLF = false;
  private dataLines: string[] = [];
  private eventType = "";
  private lastId: string | undefined;

  push(text: string): SseEvent[] {
    const events: SseEvent[] = [];
    if (this.skipLeadingLF && text.length > 0) {
      // The previous chunk ended with "\r": a "\n" here belongs to the same CRLF.
      if (text[0] === "\n") text = text.slice(1);
      this.skipLeadingLF = false;
    }
    const buf = this.partial + text;
    let start = 0;
    for (let i = 0; i < buf.length; i++) {
      const c = buf[i];
      if (c !== "\n" && c !== "\r") continue;
      const line = buf.slice(start, i);
      if (c === "\r") {
        if (i + 1 < buf.length) {
          if (buf[i + 1] === "\n") i++;
        } else {
          this.skipLeadingLF = true;
        }
      }
      start = i + 1;
      this.line(line, events);
    }
    this.partial = buf.slice(start);
    return events;
  }

  /** End of stream: an unterminated event is incomplete and is discarded. */
  finish(): SseEvent[] {
    this.partial = "";
    this.dataLines = [];
    this.eventType = "";
    this.skipLeadingLF = false;
    return [];
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === "") {
      if (this.dataLines.length > 0) {
        const ev: SseEvent = { event: this.eventType || "message", data: this.dataLines.join("\n") };
        if (this.lastId !== undefined) ev.id = this.lastId;
        out.push(ev);
      }
      this.dataLines = [];
      this.eventType = "";
      return;
    }
    if (line[0] === ":") return; // comment, e.g. ": keep-alive"
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value[0] === " ") value = value.slice(1);
    switch (field) {
      case "event":
        this.eventType = value;
        break;
      case "data":
        this.dataLines.push(value);
        break;
      case "id":
        if (!value.includes("\0")) this.lastId = value;
        break;
      default:
        break; // "retry" and unknown fields do not matter to a fetch-based reader
    }
  }
}

export interface StreamOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Aborting cancels the request and the reading; the promise then rejects with an AbortError. */
  signal?: AbortSignal;
  /** Called once the server has answered 2xx, before the first event. */
  onOpen?: (res: Response) => void;
  onEvent: (event: SseEvent) => void;
}

/**
 * Requests `url` and calls `onEvent` for each event until the stream ends.
 * Rejects with an ApiError for a non-2xx answer (read from its JSON error body) or a
 * network failure, and with an AbortError when `signal` aborts.
 */
export async function streamSse(url: string, opts: StreamOptions): Promise<void> {
  const { signal } = opts;
  if (signal?.aborted) throw abortError();

  let res: Response;
  try {
    res = await fetch(url, {
      method: opts.method ?? "GET",
      headers: { Accept: "text/event-stream", ...opts.headers },
      body: opts.body,
      signal,
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (err) {
    if (signal?.aborted) throw abortError();
    throw networkError(err);
  }
  if (signal?.aborted) {
    void res.body?.cancel().catch(() => undefined);
    throw abortError();
  }
  if (!res.ok) throw await errorFromResponse(res);
  if (!res.body) throw new ApiError(res.status, "empty_stream", "The server sent no stream.");

  opts.onOpen?.(res);

  const reader = res.body.getReader();
  const decoder = new TextDecoder("utf-8");
  const parser = new SseParser();
  let finished = false;
  const onAbort = () => {
    void reader.cancel().catch(() => undefined);
  };
  signal?.addEventListener("abort", onAbort, { once: true });

  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (err) {
        if (signal?.aborted) throw abortError();
        throw networkError(err);
      }
      if (signal?.aborted) throw abortError();
      if (chunk.done) {
        finished = true;
        emit(parser.push(decoder.decode()), opts.onEvent, signal);
        parser.finish();
        return;
      }
      emit(parser.push(decoder.decode(chunk.value, { stream: true })), opts.onEvent, signal);
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    if (!finished) void reader.cancel().catch(() => undefined);
  }
}

function emit(events: SseEvent[], onEvent: (e: SseEvent) => void, signal?: AbortSignal): void {
  for (const ev of events) {
    if (signal?.aborted) throw abortError();
    onEvent(ev);
  }
}
