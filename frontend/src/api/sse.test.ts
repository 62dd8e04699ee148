import { describe, expect, it, vi } from "vitest";
import { SseParser, streamSse } from "./sse";
import type { SseEvent } from "./sse";
import { sendMessage } from "./client";
import { ApiError } from "./errors";
import { apiError, feedStream, mockFetch, sseEvent } from "../test/fetchMock";

function parseChunks(chunks: string[]): SseEvent[] {
  const parser = new SseParser();
  const events = chunks.flatMap((c) => parser.push(c));
  return [...events, ...parser.finish()];
}

const STREAM =
  ": keep-alive\n\n" +
  'event: delta\ndata: {"content":"Hel"}\n\n' +
  'event: delta\ndata: {"content":"lo, 世界"}\n\n' +
  ": keep-alive\n\n" +
  'event: done\ndata: {"message":{"id":"m_1"},"user_message":{"id":"m_0"}}\n\n';

const EXPECTED: SseEvent[] = [
  { event: "delta", data: '{"content":"Hel"}' },
  { event: "delta", data: '{"content":"lo, 世界"}' },
  { event: "done", data: '{"message":{"id":"m_1"},"user_message":{"id":"m_0"}}' },
];

describe("SseParser", () => {
  it("parses a whole stream and ignores comment lines", () => {
    expect(parseChunks([STREAM])).toEqual(EXPECTED);
  });

  it("gives the same events however the stream is split into chunks", () => {
    for (let i = 0; i <= STREAM.length; i++) {
      expect(parseChunks([STREAM.slice(0, i), STREAM.slice(i)])).toEqual(EXPECTED);
    }
    // and one character at a time
    expect(parseChunks(STREAM.split(""))).toEqual(EXPECTED);
  });

  it("handles CRLF line endings, also when CR and LF arrive in different chunks", () => {
    const crlf = STREAM.replace(/\n/g, "\r\n");
    expect(parseChunks([crlf])).toEqual(EXPECTED);
    for (let i = 0; i <= crlf.length; i++) {
      expect(parseChunks([crlf.slice(0, i), crlf.slice(i)])).toEqual(EXPECTED);
    }
  });

  it("handles lone CR line endings", () => {
    expect(parseChunks([STREAM.replace(/\n/g, "\r")])).toEqual(EXPECTED);
  });

  it("returns several events from one chunk", () => {
    const parser = new SseParser();
    expect(parser.push(STREAM)).toHaveLength(3);
  });

  it("joins multi-line data with newlines and strips one leading space only", () => {
    const events = parseChunks(["data: line one\ndata:line two\ndata:   indented\ndata\n\n"]);
    expect(events).toEqual([{ event: "message", data: "line one\nline two\n  indented\n" }]);
  });

  it("ignores comments between fields, unknown fields and events without data", () => {
    const events = parseChunks([
      "event: delta\n: a comment\nretry: 1000\nfoo: bar\ndata: x\n\n",
      "event: orphan\n\n",
      ":\n\n",
    ]);
    expect(events).toEqual([{ event: "delta", data: "x" }]);
  });

  it("keeps the last event id", () => {
    expect(parseChunks(["id: 7\ndata: a\n\ndata: b\n\n"])).toEqual([
      { event: "message", data: "a", id: "7" },
      { event: "message", data: "b", id: "7" },
    ]);
  });

  it("drops an event the stream did not finish", () => {
    expect(parseChunks(['event: delta\ndata: {"content":"a"}\n\nevent: delta\ndata: {"conte'])).toEqual([
      { event: "delta", data: '{"content":"a"}' },
    ]);
  });
});

describe("streamSse", () => {
  it("decodes UTF-8 split across chunks and reports events as they arrive", async () => {
    const feed = feedStream();
    mockFetch({ "POST /stream": () => feed.response });
    const seen: SseEvent[] = [];
    const opened = vi.fn();
    const done = streamSse("/stream", { method: "POST", body: "{}", onOpen: opened, onEvent: (e) => seen.push(e) });

    const bytes = new TextEncoder().encode('event: delta\ndata: {"content":"こんにちは"}\n\n');
    const cut = bytes.indexOf(0xe3) + 1; // inside the first three-byte character
    expect(cut).toBeGreaterThan(1);
    feed.sendBytes(bytes.slice(0, cut));
    feed.sendBytes(bytes.slice(cut));
    await vi.waitFor(() => expect(seen).toHaveLength(1));
    expect(opened).toHaveBeenCalledTimes(1);
    expect(JSON.parse(seen[0].data)).toEqual({ content: "こんにちは" });

    feed.send(": keep-alive\r\n\r\nevent: done\r\ndata: {}\r\n\r\n");
    feed.close();
    await done;
    expect(seen.map((e) => e.event)).toEqual(["delta", "done"]);
  });

  it("turns a JSON error answer into an ApiError without opening the stream", async () => {
    mockFetch({ "POST /stream": () => apiError(400, "message_too_long", "The message is too long.") });
    const onOpen = vi.fn();
    const err = await streamSse("/stream", { method: "POST", onOpen, onEvent: () => undefined }).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 400, code: "message_too_long", message: "The message is too long." });
    expect(onOpen).not.toHaveBeenCalled();
  });

  it("falls back to the status when the error body is not JSON", async () => {
    mockFetch({ "GET /stream": () => new Response("<html>Bad gateway</html>", { status: 502 }) });
    const err = await streamSse("/stream", { onEvent: () => undefined }).catch((e) => e);
    expect(err).toMatchObject({ status: 502, code: "http_502" });
  });

  it("reports a network failure as an ApiError", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => Promise.reject(new TypeError("Failed to fetch"))));
    const err = await streamSse("/stream", { onEvent: () => undefined }).catch((e) => e);
    expect(err).toMatchObject({ status: 0, code: "network_error" });
  });

  it("stops reading and rejects with an AbortError when aborted mid-stream", async () => {
    const feed = feedStream();
    const calls = mockFetch({ "POST /stream": () => feed.response });
    const controller = new AbortController();
    const seen: SseEvent[] = [];
    const done = streamSse("/stream", { method: "POST", signal: controller.signal, onEvent: (e) => seen.push(e) });
    feed.send(sseEvent("delta", { content: "partial" }));
    await vi.waitFor(() => expect(seen).toHaveLength(1));

    controller.abort();
    await expect(done).rejects.toMatchObject({ name: "AbortError" });
    expect(calls[0].signal).toBe(controller.signal); // the request itself is aborted too
    expect(feed.cancelled).toBe(true);
    expect(seen).toHaveLength(1);
  });

  it("rejects at once when the signal is already aborted", async () => {
    const calls = mockFetch({});
    const controller = new AbortController();
    controller.abort();
    await expect(streamSse("/stream", { signal: controller.signal, onEvent: () => undefined })).rejects.toMatchObject({
      name: "AbortError",
    });
    expect(calls).toHaveLength(0);
  });
});

describe("sendMessage", () => {
  it("collects deltas and returns the done event", async () => {
    const feed = feedStream();
    const calls = mockFetch({ "POST /api/conversations/c_1/messages": () => feed.response });
    const deltas: string[] = [];
    const result = sendMessage("c_1", "Hi", { signal: new AbortController().signal, onDelta: (t) => deltas.push(t) });
    feed.send(sseEvent("delta", { content: "Hel" }) + sseEvent("delta", { content: "lo" }));
    feed.send(sseEvent("done", { message: { id: "m_2" }, user_message: { id: "m_1" } }));
    feed.close();
    expect(await result).toEqual({ kind: "done", done: { message: { id: "m_2" }, user_message: { id: "m_1" } } });
    expect(deltas).toEqual(["Hel", "lo"]);
    expect(calls[0].body).toEqual({ content: "Hi" });
  });

  it("returns the error event", async () => {
    const feed = feedStream();
    mockFetch({ "POST /api/conversations/c_1/messages": () => feed.response });
    const result = sendMessage("c_1", "Hi", { signal: new AbortController().signal, onDelta: () => undefined });
    feed.send(sseEvent("error", { code: "upstream_error", message: "The model failed." }));
    feed.close();
    expect(await result).toEqual({ kind: "error", error: { code: "upstream_error", message: "The model failed." } });
  });

  it("says when the stream ended without a final event", async () => {
    const feed = feedStream();
    mockFetch({ "POST /api/conversations/c_1/messages": () => feed.response });
    const result = sendMessage("c_1", "Hi", { signal: new AbortController().signal, onDelta: () => undefined });
    feed.send(sseEvent("delta", { content: "Hel" }));
    feed.close();
    expect(await result).toEqual({ kind: "cut" });
  });
});
