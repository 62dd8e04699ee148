import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { Conversation, Message } from "../api/types";
import { I18nProvider } from "../i18n";
import { apiError, feedStream, json, mockFetch, noContent, sseEvent } from "../test/fetchMock";
import type { FeedStream, RecordedCall } from "../test/fetchMock";
import { Chat } from "./Chat";

const NOW = "2025-01-01T00:00:00Z";
const MODELS = { models: [{ id: "small", label: "Small model" }, { id: "big" }], default: "small" };

function conversation(id: string, fields: Partial<Conversation> = {}): Conversation {
  return { id, title: "", instructions: "", model: "small", created_at: NOW, updated_at: NOW, ...fields };
}

function message(id: string, role: Message["role"], content: string, status: Message["status"] = "complete"): Message {
  return { id, role, content, model: "small", status, created_at: NOW };
}

function setup(extra: Record<string, (call: RecordedCall) => Response> = {}, list: Conversation[] = []) {
  let feed: FeedStream | null = null;
  const calls = mockFetch({
    "GET /api/models": () => json(MODELS),
    "GET /api/conversations": () => json({ conversations: list }),
    "POST /api/conversations": (call) => json(conversation("c_new", call.body as Partial<Conversation>), 201),
    "POST /api/conversations/c_new/messages": () => {
      feed = feedStream();
      return feed.response;
    },
    ...extra,
  });
  const onAuthLost = vi.fn();
  render(
    <I18nProvider lang="en">
      <Chat onAuthLost={onAuthLost} />
    </I18nProvider>,
  );
  return { calls, onAuthLost, stream: () => feed as FeedStream | null };
}

function bodyText(el: HTMLElement): string | null {
  return within(el).getByTestId("message-body").textContent;
}

async function typeAndSend(text: string) {
  const input = screen.getByTestId("composer-input");
  fireEvent.change(input, { target: { value: text } });
  fireEvent.keyDown(input, { key: "Enter" });
}

describe("Chat", () => {
  it("creates the conversation with its role and model, then streams the answer delta by delta", async () => {
    const { calls, stream } = setup();
    await waitFor(() => expect(screen.getByTestId("model-picker")).toHaveProperty("value", "small"));
    fireEvent.change(screen.getByTestId("model-picker"), { target: { value: "big" } });
    fireEvent.change(screen.getByTestId("role-input"), { target: { value: "You are a programming teacher." } });

    await typeAndSend("Explain closures");
    await waitFor(() => expect(stream()).not.toBeNull());
    const create = calls.find((c) => c.method === "POST" && c.path === "/api/conversations");
    expect(create?.body).toEqual({ instructions: "You are a programming teacher.", model: "big" });
    const post = calls.find((c) => c.path === "/api/conversations/c_new/messages");
    expect(post?.body).toEqual({ content: "Explain closures" });

    expect(bodyText(screen.getByTestId("message-user"))).toBe("Explain closures");
    expect(screen.getByTestId("stop")).toBeTruthy();
    expect(screen.queryByTestId("send")).toBeNull();
    expect((screen.getByTestId("composer-input") as HTMLTextAreaElement).value).toBe("");

    act(() => stream()!.send(sseEvent("delta", { content: "A closure " })));
    const bubble = await screen.findByTestId("message-assistant");
    await waitFor(() => expect(bubble.textContent?.trim()).toBe("A closure"));
    expect(bubble.getAttribute("data-status")).toBe("streaming");
    // Tokens are not read out one by one; the finished answer is announced once.
    expect(bubble.closest("[aria-live='polite']")).toBeNull();

    // An event split across chunks, with a keep-alive comment before it.
    act(() => stream()!.send(': keep-alive\n\nevent: delta\ndata: {"content":"**captures** var'));
    act(() => stream()!.send('iables."}\n\n'));
    await waitFor(() => expect(bubble.textContent).toBe("A closure captures variables."));
    expect(bubble.querySelector("strong")?.textContent).toBe("captures");

    act(() => {
      stream()!.send(
        sseEvent("done", {
          message: message("m_2", "assistant", "A closure **captures** variables."),
          user_message: message("m_1", "user", "Explain closures"),
        }),
      );
      stream()!.close();
    });
    await waitFor(() => expect(screen.getByTestId("message-assistant").getAttribute("data-status")).toBe("complete"));
    expect(screen.getByTestId("send")).toBeTruthy();
    expect(screen.queryByTestId("stop")).toBeNull();
    expect(screen.getAllByTestId("message-assistant")).toHaveLength(1);
    expect(screen.getByTestId("announcer").getAttribute("aria-live")).toBe("polite");
    expect(screen.getByTestId("announcer").textContent).toContain("A closure **captures** variables.");
    expect(screen.getByTestId("message-model").textContent).toBe("small");
  });

  it("Shift+Enter adds a line instead of sending", async () => {
    const { calls } = setup();
    const input = screen.getByTestId("composer-input");
    fireEvent.change(input, { target: { value: "line one" } });
    fireEvent.keyDown(input, { key: "Enter", shiftKey: true });
    await new Promise((r) => setTimeout(r, 20));
    expect(calls.some((c) => c.method === "POST")).toBe(false);
  });

  it("Stop aborts the stream and marks the answer interrupted", async () => {
    const { stream } = setup();
    await typeAndSend("Write a long story");
    await waitFor(() => expect(stream()).not.toBeNull());
    act(() => stream()!.send(sseEvent("delta", { content: "Once upon" })));
    await screen.findByTestId("message-assistant");

    fireEvent.click(screen.getByTestId("stop"));
    await waitFor(() => expect(screen.getByTestId("message-assistant").getAttribute("data-status")).toBe("interrupted"));
    expect(stream()!.cancelled).toBe(true);
    expect(screen.getByTestId("message-assistant").textContent).toContain("Interrupted");
    expect(screen.getByTestId("send")).toBeTruthy();
  });

  it("Escape stops a streaming answer", async () => {
    const { stream } = setup();
    await typeAndSend("Hello");
    await waitFor(() => expect(stream()).not.toBeNull());
    act(() => stream()!.send(sseEvent("delta", { content: "Hi" })));
    await screen.findByTestId("message-assistant");
    fireEvent.keyDown(document.body, { key: "Escape" });
    await waitFor(() => expect(screen.getByTestId("message-assistant").getAttribute("data-status")).toBe("interrupted"));
  });

  it("marks the answer failed on an error event", async () => {
    const { stream } = setup();
    await typeAndSend("Hello");
    await waitFor(() => expect(stream()).not.toBeNull());
    act(() => {
      stream()!.send(sseEvent("delta", { content: "Par" }));
      stream()!.send(sseEvent("error", { code: "upstream_error", message: "The model is unavailable." }));
      stream()!.close();
    });
    await waitFor(() => expect(screen.getByTestId("message-assistant").getAttribute("data-status")).toBe("failed"));
    expect(screen.getByTestId("message-assistant").textContent).toContain("The model is unavailable.");
  });

  it("shows a refusal before the stream and gives the text back", async () => {
    setup({
      "POST /api/conversations/c_new/messages": () => apiError(413, "message_too_long", "The message is too long."),
    });
    await typeAndSend("x".repeat(50));
    expect(await screen.findByRole("alert")).toHaveProperty("textContent", expect.stringContaining("The message is too long."));
    expect(screen.queryByTestId("message-user")).toBeNull();
    expect(screen.queryByTestId("message-assistant")).toBeNull();
    expect((screen.getByTestId("composer-input") as HTMLTextAreaElement).value).toBe("x".repeat(50));
  });

  it("opens a conversation, shows its messages and saves a changed role on blur", async () => {
    const existing = conversation("c_old", { title: "Closures", instructions: "Keep answers short.", model: "big" });
    const { calls } = setup(
      {
        "GET /api/conversations/c_old": () =>
          json({
            ...existing,
            messages: [message("m_1", "user", "line 1\nline 2"), message("m_2", "assistant", "Half an answ", "interrupted")],
          }),
        "PATCH /api/conversations/c_old": (call) => json({ ...existing, ...(call.body as object), updated_at: NOW }),
      },
      [existing],
    );
    const item = await screen.findByTestId("conversation-item");
    fireEvent.click(within(item).getByText("Closures"));
    await waitFor(() => expect(screen.getAllByTestId("message-user")).toHaveLength(1));
    expect(bodyText(screen.getByTestId("message-user"))).toBe("line 1\nline 2");
    expect(screen.getByTestId("message-assistant").getAttribute("data-status")).toBe("interrupted");
    expect((screen.getByTestId("role-input") as HTMLTextAreaElement).value).toBe("Keep answers short.");
    expect((screen.getByTestId("model-picker") as HTMLSelectElement).value).toBe("big");

    const role = screen.getByTestId("role-input");
    fireEvent.change(role, { target: { value: "Answer in one line." } });
    fireEvent.blur(role);
    await waitFor(() => expect(calls.some((c) => c.method === "PATCH")).toBe(true));
    expect(calls.find((c) => c.method === "PATCH")?.body).toEqual({ instructions: "Answer in one line." });
    expect(await screen.findByText("Saved")).toBeTruthy();
  });

  it("deletes a conversation after confirmation", async () => {
    const existing = conversation("c_old", { title: "Old chat" });
    const { calls } = setup({ "DELETE /api/conversations/c_old": () => noContent() }, [existing]);
    const item = await screen.findByTestId("conversation-item");
    fireEvent.click(within(item).getByRole("button", { name: "Delete conversation: Old chat" }));
    fireEvent.click(within(item).getByRole("button", { name: "Cancel" }));
    expect(calls.some((c) => c.method === "DELETE")).toBe(false);
    fireEvent.click(within(item).getByRole("button", { name: "Delete conversation: Old chat" }));
    fireEvent.click(within(item).getByTestId("confirm-delete"));
    await waitFor(() => expect(screen.queryByTestId("conversation-item")).toBeNull());
    expect(calls.some((c) => c.method === "DELETE" && c.path === "/api/conversations/c_old")).toBe(true);
    expect(screen.getByTestId("announcer").textContent).toBe("Conversation deleted.");
  });

  it("reports a lost session", async () => {
    const { onAuthLost } = setup({ "GET /api/conversations": () => apiError(401, "unauthenticated", "Sign in.") });
    await waitFor(() => expect(onAuthLost).toHaveBeenCalled());
  });
});
