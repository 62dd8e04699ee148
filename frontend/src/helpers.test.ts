import { describe, expect, it } from "vitest";
import { ApiError, errorFromResponse, parseRetryAfter } from "./api/errors";
import type { Conversation } from "./api/types";
import { parseContext } from "./contextInfo";
import { dateGroup, groupByDate, matchesTitle } from "./dates";
import { describeError } from "./errorText";
import { translate } from "./i18n";
import { isFineTuned, tokenSize } from "./components/ModelPicker";

const t = (key: Parameters<typeof translate>[1], vars?: Record<string, string>) => translate("en", key, vars);

function conv(id: string, updated_at: string, title = ""): Conversation {
  return { id, title, instructions: "", model: "m", created_at: updated_at, updated_at };
}

describe("dates", () => {
  const now = new Date(2025, 5, 15, 10, 0, 0); // local time, 15 June 2025 10:00
  const at = (days: number, hours = 0) => new Date(2025, 5, 15 - days, 9 - hours).toISOString();

  it("puts each conversation in today, yesterday, the previous 7 days or older", () => {
    expect(dateGroup(at(0), now)).toBe("today");
    expect(dateGroup(at(1), now)).toBe("yesterday");
    expect(dateGroup(at(3), now)).toBe("week");
    expect(dateGroup(at(7), now)).toBe("week");
    expect(dateGroup(at(30), now)).toBe("older");
    expect(dateGroup("not a date", now)).toBe("older");
  });

  it("groups newest first and leaves out empty groups", () => {
    const groups = groupByDate([conv("old", at(40)), conv("a", at(0, 2)), conv("b", at(0)), conv("w", at(4))], now);
    expect(groups.map((g) => g.group)).toEqual(["today", "week", "older"]);
    expect(groups[0].items.map((c) => c.id)).toEqual(["b", "a"]);
  });

  it("matches every word of a search in the title, ignoring case", () => {
    expect(matchesTitle(conv("1", at(0), "Python Decorators"), "decor py", "Untitled")).toBe(true);
    expect(matchesTitle(conv("1", at(0), "Python Decorators"), "rust", "Untitled")).toBe(false);
    expect(matchesTitle(conv("1", at(0), ""), "untit", "Untitled chat")).toBe(true);
  });
});

describe("context meter data", () => {
  it("reads the documented shape", () => {
    expect(parseContext({ window: 8000, budget: 7000, role: 100, pins: 50, summary: 0, history: 850, omitted_messages: 3 }))
      .toEqual({
        window: 8000,
        used: 1000,
        omitted: 3,
        parts: [
          { part: "role", tokens: 100 },
          { part: "pins", tokens: 50 },
          { part: "summary", tokens: 0 },
          { part: "history", tokens: 850 },
        ],
      });
  });

  it("reads nested and differently named fields", () => {
    const info = parseContext({ context_window: 4096, tokens: { role: { tokens: 10 }, history_tokens: 90 }, omitted: 1 });
    expect(info).toMatchObject({ window: 4096, used: 100, omitted: 1 });
  });

  it("shows nothing without a window or without any figures", () => {
    expect(parseContext(null)).toBeNull();
    expect(parseContext({ role: 10 })).toBeNull();
    expect(parseContext({ window: 100 })).toBeNull();
    expect(parseContext({ window: "big", role: 1 })).toBeNull();
  });
});

describe("errors a person can act on", () => {
  it("reads Retry-After as seconds or as a date", () => {
    expect(parseRetryAfter("7")).toBe(7);
    expect(parseRetryAfter(new Date(Date.now() + 30_000).toUTCString())).toBeGreaterThanOrEqual(29);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });

  it("says when to retry after a 429", async () => {
    const res = new Response(JSON.stringify({ error: { code: "rate_limited", message: "Slow down." } }), {
      status: 429,
      headers: { "Retry-After": "12" },
    });
    const err = await errorFromResponse(res);
    expect(err.retryAfter).toBe(12);
    expect(describeError(err, t)).toEqual({
      text: "Too many requests. Try again in 12 seconds.",
      retryAfter: 12,
      retryable: true,
    });
    expect(describeError(new ApiError(429, "rate_limited", "x"), t).text).toBe(
      "Too many requests. Wait a moment, then try again.",
    );
  });

  it("offers retry for lost connections and server failures, not for refused input", () => {
    expect(describeError(new ApiError(0, "network_error", "Failed to fetch"), t)).toMatchObject({
      text: t("errorNetwork"),
      retryable: true,
    });
    expect(describeError(new ApiError(502, "http_502", "Bad Gateway"), t)).toMatchObject({
      text: t("errorServer"),
      retryable: true,
    });
    expect(describeError(new ApiError(413, "message_too_long", "Too long."), t)).toEqual({
      text: "Too long.",
      retryable: false,
    });
  });
});

describe("model facts", () => {
  it("formats context sizes and spots fine-tuned models", () => {
    expect(tokenSize(128000)).toBe("128K");
    expect(tokenSize(1_048_576)).toBe("1M");
    expect(tokenSize(512)).toBe("512");
    expect(isFineTuned({ id: "ft:gpt-4o-mini:acme:x:1" }, "ft:gpt-4o-mini:acme:x:1")).toBe(true);
    expect(isFineTuned({ id: "custom", fine_tuned: true }, "custom")).toBe(true);
    expect(isFineTuned({ id: "gpt-4o" }, "gpt-4o")).toBe(false);
  });
});
