import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { Bot } from "../api/bots";
import { botLinks, slugFrom } from "../api/bots";
import type { Role } from "../api/types";
import { I18nProvider } from "../i18n";
import { apiError, json, mockFetch, noContent } from "../test/fetchMock";
import type { RecordedCall } from "../test/fetchMock";
import { Chat } from "./Chat";

const TEACHER: Role = { id: "preset-teacher", name: "Teacher", instructions: "Teach.", builtin: true };
const MINE: Role = { id: "r_1", name: "Shop Helper", instructions: "Help shoppers.", builtin: false };
const BOT: Bot = {
  slug: "shop-helper",
  role_id: "r_1",
  name: "Shop Helper",
  greeting: "Hi!",
  suggestions: ["Where is my order?"],
  daily_token_budget: 50000,
  published: true,
};

function setup(extra: Record<string, (call: RecordedCall) => Response> = {}, bots: Bot[] = []) {
  const calls = mockFetch({
    "GET /api/models": () => json({ models: [{ id: "small" }], default: "small" }),
    "GET /api/roles": () => json({ roles: [TEACHER, MINE] }),
    "GET /api/conversations": () => json({ conversations: [] }),
    "GET /api/bots": () => json({ bots }),
    ...extra,
  });
  render(
    <I18nProvider lang="en">
      <Chat onAuthLost={vi.fn()} />
    </I18nProvider>,
  );
  return calls;
}

async function openPublish() {
  fireEvent.click(await screen.findByTestId("roles-manage"));
  await waitFor(() => expect(screen.getAllByTestId("role-item")).toHaveLength(2));
  const [builtin, own] = screen.getAllByTestId("role-item");
  expect(within(builtin).queryByTestId("role-publish")).toBeNull();
  fireEvent.click(within(own).getByTestId("role-publish"));
  return screen.findByTestId("bot-form");
}

describe("publishing helpers", () => {
  it("suggests a slug from a role name and builds the embed snippet", () => {
    expect(slugFrom("Shop Helper!")).toBe("shop-helper");
    expect(slugFrom("日本")).toBe("");
    expect(botLinks("shop-helper", "https://chat.example.com")).toEqual({
      url: "https://chat.example.com/b/shop-helper",
      embed: expect.stringContaining('<iframe src="https://chat.example.com/b/shop-helper"'),
    });
  });
});

describe("bots panel", () => {
  it("publishes an own role and lists the bot with its link and embed code", async () => {
    const calls = setup({ "POST /api/bots": () => json(BOT, 201) });
    await openPublish();
    expect((screen.getByTestId("bot-form-slug") as HTMLInputElement).value).toBe("shop-helper");
    fireEvent.change(screen.getByTestId("bot-form-greeting"), { target: { value: "Hi!" } });
    fireEvent.change(screen.getAllByTestId("bot-form-suggestion")[0], { target: { value: "Where is my order?" } });
    fireEvent.change(screen.getByTestId("bot-form-budget"), { target: { value: "50000" } });
    fireEvent.click(screen.getByTestId("bot-form-save"));

    const item = await screen.findByTestId("bot-item");
    expect(calls.find((c) => c.method === "POST" && c.path === "/api/bots")?.body).toEqual({
      role_id: "r_1",
      slug: "shop-helper",
      greeting: "Hi!",
      suggestions: ["Where is my order?"],
      daily_token_budget: 50000,
    });
    expect(screen.queryByTestId("bot-form")).toBeNull();
    expect(within(item).getByTestId("bot-link").getAttribute("href")).toBe("/b/shop-helper");
    expect(within(item).getByTestId("bot-embed").textContent).toContain(`src="${window.location.origin}/b/shop-helper"`);
  });

  it("shows the server's message when the slug is taken", async () => {
    setup({ "POST /api/bots": () => apiError(409, "slug_taken", "The address shop-helper is already taken.") });
    await openPublish();
    fireEvent.click(screen.getByTestId("bot-form-save"));
    expect((await screen.findByTestId("bot-form-error")).textContent).toBe("The address shop-helper is already taken.");
    expect(screen.getByTestId("bot-form")).toBeTruthy();
  });

  it("unpublishes and deletes a bot", async () => {
    const calls = setup(
      {
        "PATCH /api/bots/shop-helper": () => json({ ...BOT, published: false }),
        "DELETE /api/bots/shop-helper": () => noContent(),
      },
      [BOT],
    );
    fireEvent.click(await screen.findByTestId("roles-manage"));
    fireEvent.click(screen.getByTestId("roles-bots"));
    const item = await screen.findByTestId("bot-item");
    fireEvent.click(within(item).getByTestId("bot-toggle-published"));
    await waitFor(() => expect(within(item).getByTestId("bot-toggle-published").textContent).toBe("Publish again"));
    expect(calls.find((c) => c.method === "PATCH")?.body).toEqual({ published: false });
    fireEvent.click(within(item).getByTestId("bot-delete"));
    fireEvent.click(within(item).getByTestId("bot-delete-confirm"));
    await waitFor(() => expect(screen.queryByTestId("bot-item")).toBeNull());
    expect(calls.some((c) => c.method === "DELETE" && c.path === "/api/bots/shop-helper")).toBe(true);
  });

  it("shows a new API key once, lists usage, and revokes a key", async () => {
    let keys = [
      { id: "k_1", name: "Website", created_at: "2025-01-01T00:00:00Z", last_used_at: null, usage_this_month: { tokens: 1200, requests: 7 } },
    ];
    const calls = setup(
      {
        "GET /api/bots/shop-helper/keys": () => json({ keys }),
        "POST /api/bots/shop-helper/keys": (call) => {
          const name = (call.body as { name: string }).name;
          keys = [...keys, { id: "k_2", name, created_at: "2025-01-02T00:00:00Z", last_used_at: null, usage_this_month: { tokens: 0, requests: 0 } }];
          return json({ id: "k_2", name, key: "rk_secret_value" }, 201);
        },
        "DELETE /api/bots/shop-helper/keys/k_1": () => noContent(),
      },
      [BOT],
    );
    fireEvent.click(await screen.findByTestId("roles-manage"));
    fireEvent.click(screen.getByTestId("roles-bots"));
    fireEvent.click(await screen.findByTestId("bot-keys-toggle"));
    expect((await screen.findByTestId("bot-key")).textContent).toContain("1200 tokens, 7 requests this month");

    fireEvent.change(screen.getByTestId("bot-key-name"), { target: { value: "App" } });
    fireEvent.click(screen.getByTestId("bot-key-create"));
    const secret = await screen.findByTestId("bot-key-secret");
    expect(within(secret).getByTestId("bot-key-value").textContent).toBe("rk_secret_value");
    expect(secret.textContent).toContain("you will not see it again");
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ name: "App" });
    await waitFor(() => expect(screen.getAllByTestId("bot-key")).toHaveLength(2));
    // The list never shows the secret; once dismissed it is gone.
    expect(screen.getAllByTestId("bot-key").some((k) => k.textContent?.includes("rk_secret_value"))).toBe(false);
    fireEvent.click(screen.getByTestId("bot-key-done"));
    expect(screen.queryByTestId("bot-key-secret")).toBeNull();
    expect(document.body.textContent).not.toContain("rk_secret_value");

    fireEvent.click(screen.getAllByTestId("bot-key-revoke")[0]);
    fireEvent.click(screen.getByTestId("bot-key-revoke-confirm"));
    await waitFor(() => expect(screen.getAllByTestId("bot-key")).toHaveLength(1));
    expect(calls.some((c) => c.method === "DELETE" && c.path === "/api/bots/shop-helper/keys/k_1")).toBe(true);
  });

  it("shows today's usage and lists visitor conversations, opening one", async () => {
    const calls = setup(
      {
        "GET /api/bots/shop-helper/usage": () =>
          json({
            days: [{ day: "2025-01-02", prompt_tokens: 900, completion_tokens: 300, total_tokens: 1200, turns: 3 }],
            daily_token_budget: 50000,
            tokens_today: 1200,
            remaining_today: 48800,
            resets_in_seconds: 3600,
          }),
        "GET /api/bots/shop-helper/conversations": () =>
          json({
            conversations: [
              { id: "v_2", visitor: "visitor-b", created_at: "2025-01-02T10:00:00Z", updated_at: "2025-01-02T10:05:00Z", messages: 2, first_message: "Where is my order?" },
              { id: "v_1", visitor: "visitor-a", created_at: "2025-01-01T10:00:00Z", updated_at: "2025-01-01T10:05:00Z", messages: 4, first_message: "Do you ship abroad?" },
            ],
          }),
        "GET /api/bots/shop-helper/conversations/v_2": () =>
          json({
            id: "v_2",
            visitor: "visitor-b",
            created_at: "2025-01-02T10:00:00Z",
            updated_at: "2025-01-02T10:05:00Z",
            messages: [
              { id: "m_1", role: "user", content: "Where is my order? <b>now</b>", status: "complete", created_at: "2025-01-02T10:00:00Z" },
              { id: "m_2", role: "assistant", content: "It ships **tomorrow**. <img src=x onerror=alert(1)>", status: "complete", created_at: "2025-01-02T10:00:05Z" },
            ],
          }),
      },
      [BOT],
    );
    fireEvent.click(await screen.findByTestId("roles-manage"));
    fireEvent.click(screen.getByTestId("roles-bots"));
    expect((await screen.findByTestId("bot-usage")).textContent).toBe("Today: 1200 tokens (48800 left of 50000)");

    fireEvent.click(screen.getByTestId("bot-transcripts-toggle"));
    const panel = await screen.findByTestId("bot-transcripts");
    await waitFor(() => expect(within(panel).getAllByTestId("bot-transcript-item")).toHaveLength(2));
    const [first, second] = within(panel).getAllByTestId("bot-transcript-item");
    expect(first.textContent).toContain("Where is my order?");
    expect(first.textContent).toContain("visitor-b");
    expect(second.textContent).toContain("4 messages");
    expect(calls.some((c) => c.path === "/api/bots/shop-helper/conversations")).toBe(true);

    fireEvent.click(first);
    await waitFor(() => expect(within(panel).getAllByTestId("bot-transcript-message")).toHaveLength(2));
    const [question, answer] = within(panel).getAllByTestId("bot-transcript-message");
    expect(question.textContent).toBe("Where is my order? <b>now</b>");
    expect(answer.querySelector("strong")?.textContent).toBe("tomorrow");
    expect(answer.querySelector("img")).toBeNull();
    expect(panel.querySelector("b")).toBeNull();

    fireEvent.click(within(panel).getByTestId("bot-transcript-back"));
    expect(within(panel).getAllByTestId("bot-transcript-item")).toHaveLength(2);
  });

  it("says when a bot has no daily budget", async () => {
    setup(
      {
        "GET /api/bots/shop-helper/usage": () =>
          json({ days: [], daily_token_budget: null, tokens_today: 75, remaining_today: null, resets_in_seconds: 100 }),
      },
      [{ ...BOT, daily_token_budget: null }],
    );
    fireEvent.click(await screen.findByTestId("roles-manage"));
    fireEvent.click(screen.getByTestId("roles-bots"));
    expect((await screen.findByTestId("bot-usage")).textContent).toBe("Today: 75 tokens (no daily budget)");
  });
});
