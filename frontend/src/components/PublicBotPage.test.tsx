import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { beforeEach, describe, expect, it } from "vitest";
import { publicBotSlug } from "../api/publicBots";
import { I18nProvider } from "../i18n";
import { apiError, feedStream, json, mockFetch, sseEvent } from "../test/fetchMock";
import type { FeedStream, RecordedCall } from "../test/fetchMock";
import { PublicBotPage } from "./PublicBotPage";

const BOT = {
  slug: "shop-help",
  name: "Shop helper",
  greeting: "Hello! Ask me about **orders**.",
  suggestions: ["Where is my order?", "How do returns work?"],
};
const BASE = "/api/public/bots/shop-help";
const KEY = "rolechat.public.shop-help.conversation";

function limited(code: string, message: string, retryAfter: string): Response {
  return new Response(JSON.stringify({ error: { code, message } }), {
    status: 429,
    headers: { "Content-Type": "application/json", "Retry-After": retryAfter },
  });
}

function setup(extra: Record<string, (call: RecordedCall) => Response> = {}) {
  let feed: FeedStream | null = null;
  const calls = mockFetch({
    [`GET ${BASE}`]: () => json(BOT),
    [`POST ${BASE}/conversations`]: () => json({ id: "pc_1" }, 201),
    [`POST ${BASE}/conversations/pc_1/messages`]: () => {
      feed = feedStream();
      return feed.response;
    },
    ...extra,
  });
  render(
    <I18nProvider lang="en">
      <PublicBotPage slug="shop-help" />
    </I18nProvider>,
  );
  return { calls, stream: () => feed as FeedStream | null };
}

function message(id: string, role: "user" | "assistant", content: string) {
  return { id, role, content, status: "complete" };
}

beforeEach(() => sessionStorage.clear());

describe("publicBotSlug", () => {
  it("matches /b/{slug} only", () => {
    expect(publicBotSlug("/b/shop-help")).toBe("shop-help");
    expect(publicBotSlug("/b/ab")).toBeNull();
    expect(publicBotSlug("/b/Shop")).toBeNull();
    expect(publicBotSlug("/b/shop/x")).toBeNull();
    expect(publicBotSlug("/")).toBeNull();
  });
});

describe("PublicBotPage", () => {
  it("shows the name, greeting and suggestions without any signed-in call", async () => {
    const { calls } = setup();
    expect((await screen.findByTestId("public-bot-name")).textContent).toBe("Shop helper");
    expect(screen.getByTestId("public-greeting").querySelector("strong")?.textContent).toBe("orders");
    expect(screen.getAllByTestId("public-suggestion").map((b) => b.textContent)).toEqual(BOT.suggestions);
    expect(screen.getByTestId("public-footer").textContent).toBe("Powered by rolechat");
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([`GET ${BASE}`]);
  });

  it("a suggestion creates the conversation and streams the answer", async () => {
    const { calls, stream } = setup();
    fireEvent.click((await screen.findAllByTestId("public-suggestion"))[0]);
    await waitFor(() => expect(stream()).not.toBeNull());
    expect(calls.find((c) => c.path === `${BASE}/conversations`)?.method).toBe("POST");
    expect(calls.find((c) => c.path === `${BASE}/conversations/pc_1/messages`)?.body).toEqual({ content: "Where is my order?" });
    expect(sessionStorage.getItem(KEY)).toBe("pc_1");
    expect(screen.queryByTestId("public-suggestion")).toBeNull();
    expect(screen.getByTestId("public-question").textContent).toBe("Where is my order?");

    act(() => stream()!.send(sseEvent("delta", { content: "It ships " })));
    const answer = await screen.findByTestId("public-answer");
    act(() => stream()!.send(sseEvent("delta", { content: "**today**." })));
    await waitFor(() => expect(answer.textContent).toBe("It ships today."));
    expect(answer.getAttribute("data-status")).toBe("streaming");
    expect(screen.getByTestId("stop")).toBeTruthy();
    act(() => {
      stream()!.send(sseEvent("done", { message: message("m_2", "assistant", "It ships **today**.") }));
      stream()!.close();
    });
    await waitFor(() => expect(screen.getByTestId("public-answer").getAttribute("data-status")).toBe("complete"));
    expect(screen.getByTestId("public-send")).toBeTruthy();
  });

  it("Enter sends from the composer and Stop aborts the stream", async () => {
    const { stream } = setup();
    const input = await screen.findByTestId("public-composer");
    fireEvent.change(input, { target: { value: "Hi" } });
    fireEvent.keyDown(input, { key: "Enter", shiftKey: true });
    expect(stream()).toBeNull();
    fireEvent.keyDown(input, { key: "Enter" });
    await waitFor(() => expect(stream()).not.toBeNull());
    act(() => stream()!.send(sseEvent("delta", { content: "Hel" })));
    await screen.findByTestId("public-answer");
    fireEvent.click(screen.getByTestId("stop"));
    await waitFor(() => expect(screen.getByTestId("public-answer").getAttribute("data-status")).toBe("interrupted"));
    expect(stream()!.cancelled).toBe(true);
  });

  it("resumes the conversation kept for the tab", async () => {
    sessionStorage.setItem(KEY, "pc_1");
    setup({
      [`GET ${BASE}/conversations/pc_1`]: () =>
        json({ id: "pc_1", messages: [message("m_1", "user", "Old question"), message("m_2", "assistant", "Old answer")] }),
    });
    expect((await screen.findByTestId("public-answer")).textContent).toBe("Old answer");
    expect(screen.queryByTestId("public-suggestion")).toBeNull();
  });

  it("starts fresh when the kept conversation is gone", async () => {
    sessionStorage.setItem(KEY, "pc_old");
    setup();
    await waitFor(() => expect(sessionStorage.getItem(KEY)).toBeNull());
    expect(screen.getAllByTestId("public-suggestion")).toHaveLength(2);
  });

  it("says so when the bot does not exist", async () => {
    mockFetch({ [`GET ${BASE}`]: () => apiError(404, "not_found", "No such bot.") });
    render(
      <I18nProvider lang="en">
        <PublicBotPage slug="shop-help" />
      </I18nProvider>,
    );
    expect((await screen.findByTestId("public-not-found")).textContent).toContain("This bot does not exist or is not published.");
    expect(screen.queryByTestId("public-composer")).toBeNull();
  });

  it("shows a calm notice and disables the composer when the daily budget is spent", async () => {
    setup({
      [`POST ${BASE}/conversations/pc_1/messages`]: () =>
        limited("bot_budget_exhausted", "The bot has used its budget.", "3600"),
    });
    fireEvent.click((await screen.findAllByTestId("public-suggestion"))[1]);
    const notice = await screen.findByTestId("public-notice");
    expect(notice.textContent).toBe("This assistant has answered all the questions it can today. Please come back tomorrow.");
    expect(notice.getAttribute("role")).toBe("status");
    expect(screen.queryByRole("alert")).toBeNull();
    expect((screen.getByTestId("public-composer") as HTMLTextAreaElement).disabled).toBe(true);
    expect((screen.getByTestId("public-send") as HTMLButtonElement).disabled).toBe(true);
  });

  it("tells a visitor who is too fast how long to wait", async () => {
    setup({
      [`POST ${BASE}/conversations`]: () => limited("rate_limited", "Slow down.", "17"),
    });
    const input = await screen.findByTestId("public-composer");
    fireEvent.change(input, { target: { value: "Hello" } });
    fireEvent.click(screen.getByTestId("public-send"));
    expect((await screen.findByTestId("public-notice")).textContent).toBe(
      "You are sending messages too quickly; try again in 17 seconds.",
    );
    expect((screen.getByTestId("public-composer") as HTMLTextAreaElement).value).toBe("Hello");
  });

  it("offers Retry when the network is lost", async () => {
    let online = false;
    const { stream } = setup({
      [`POST ${BASE}/conversations`]: () => {
        if (!online) throw new TypeError("Failed to fetch");
        return json({ id: "pc_1" }, 201);
      },
    });
    fireEvent.click((await screen.findAllByTestId("public-suggestion"))[0]);
    expect((await screen.findByRole("alert")).textContent).toContain("Could not reach the server");
    online = true;
    fireEvent.click(screen.getByTestId("error-retry"));
    await waitFor(() => expect(stream()).not.toBeNull());
  });

  it("never turns an answer into HTML elements", async () => {
    const { stream } = setup();
    fireEvent.click((await screen.findAllByTestId("public-suggestion"))[0]);
    await waitFor(() => expect(stream()).not.toBeNull());
    const hostile =
      '<script>alert(1)</script> <img src="https://evil.example/x.png" onerror="alert(2)"> ![pic](https://evil.example/y.png) [x](javascript:alert(3))';
    act(() => {
      stream()!.send(sseEvent("delta", { content: hostile }));
      stream()!.send(sseEvent("done", {}));
      stream()!.close();
    });
    const answer = await screen.findByTestId("public-answer");
    await waitFor(() => expect(answer.getAttribute("data-status")).toBe("complete"));
    expect(document.querySelector("script")).toBeNull();
    expect(document.querySelector("img")).toBeNull();
    expect(document.querySelector("[onerror]")).toBeNull();
    expect(answer.querySelector("a[href^='javascript']")).toBeNull();
    expect(answer.textContent).toContain("<script>alert(1)</script>");
  });
});
