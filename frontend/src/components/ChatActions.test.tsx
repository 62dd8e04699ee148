import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { Conversation, Message } from "../api/types";
import { I18nProvider } from "../i18n";
import { apiError, json, mockFetch, noContent, sseEvent } from "../test/fetchMock";
import type { RecordedCall } from "../test/fetchMock";
import { Chat } from "./Chat";

const NOW = new Date().toISOString();
const MODELS = {
  models: [
    { id: "small", label: "Small", context_window: 128000 },
    { id: "ft:small:acme:support:1", label: "Support bot" },
  ],
  default: "small",
};
const OPEN = { id: "c_1", title: "Returns", instructions: "", model: "small", created_at: NOW, updated_at: NOW };

function msg(id: string, role: Message["role"], content: string): Message {
  return { id, role, content, model: "small", status: "complete", created_at: NOW };
}

let counter = 0;
let lastUserId = "";
function answer(call: RecordedCall): Response {
  counter += 1;
  lastUserId = `m_u${counter}`;
  const content = (call.body as { content: string }).content;
  const text = `Answer to ${content}`;
  return new Response(
    sseEvent("delta", { content: text }) +
      sseEvent("done", { message: msg(`m_a${counter}`, "assistant", text), user_message: msg(`m_u${counter}`, "user", content) }),
    { headers: { "Content-Type": "text/event-stream" } },
  );
}

function setup(routes: Record<string, (call: RecordedCall) => Response> = {}, list: Conversation[] = [OPEN]) {
  const calls = mockFetch({
    "GET /api/models": () => json(MODELS),
    "GET /api/conversations": () => json({ conversations: list }),
    "GET /api/conversations/c_1": () =>
      json({ ...OPEN, messages: [msg("m_1", "user", "What is the return window?"), msg("m_2", "assistant", "It is **30 days**.")] }),
    "POST /api/conversations/c_1/messages": answer,
    "GET /api/conversations/c_1/pins": () => json({ pins: [] }),
    "GET /api/conversations/c_1/context": () =>
      json({ window: 128000, role: 20, pins: 30, summary: 0, history: 150, omitted_messages: 2 }),
    ...routes,
  });
  render(
    <I18nProvider lang="en">
      <Chat onAuthLost={vi.fn()} />
    </I18nProvider>,
  );
  return calls;
}

async function openReturns() {
  const item = await screen.findByTestId("conversation-item");
  fireEvent.click(within(item).getByText("Returns"));
  await waitFor(() => expect(screen.getAllByTestId("message-assistant")).toHaveLength(1));
}

const bodyOf = (el: HTMLElement) => within(el).getByTestId("message-body").textContent;

const posts = (calls: RecordedCall[]) =>
  calls.filter((c) => c.method === "POST" && c.path.endsWith("/messages")).map((c) => c.body);

describe("message actions", () => {
  it("regenerates in place: the last exchange is replaced, not repeated", async () => {
    const calls = setup();
    await openReturns();
    expect(screen.getAllByTestId("regenerate")).toHaveLength(1);
    fireEvent.click(screen.getByTestId("regenerate"));
    await waitFor(() => expect(bodyOf(screen.getByTestId("message-assistant"))).toBe("Answer to What is the return window?"));
    expect(posts(calls)).toEqual([{ content: "What is the return window?", replaces: "m_1" }]);
    expect(screen.getAllByTestId("message-user").map(bodyOf)).toEqual(["What is the return window?"]);
    expect(screen.getAllByTestId("message-assistant")).toHaveLength(1);
    expect(screen.getAllByTestId("regenerate")).toHaveLength(1);
  });

  it("edits a question in place: the messages after it disappear, the stored ids are used next time", async () => {
    const calls = setup({
      "GET /api/conversations/c_1": () =>
        json({
          ...OPEN,
          messages: [
            msg("m_1", "user", "What is the return window?"),
            msg("m_2", "assistant", "It is **30 days**."),
            msg("m_3", "user", "And for gifts?"),
            msg("m_4", "assistant", "Also 30 days."),
          ],
        }),
    });
    const item = await screen.findByTestId("conversation-item");
    fireEvent.click(within(item).getByText("Returns"));
    await waitFor(() => expect(screen.getAllByTestId("message-assistant")).toHaveLength(2));

    fireEvent.click(within(screen.getAllByTestId("message-user")[0]).getByTestId("edit-message"));
    const box = screen.getByTestId("edit-input");
    fireEvent.change(box, { target: { value: "And for sale items?" } });
    fireEvent.keyDown(box, { key: "Enter" });
    await waitFor(() => expect(bodyOf(screen.getByTestId("message-assistant"))).toBe("Answer to And for sale items?"));
    expect(posts(calls)).toEqual([{ content: "And for sale items?", replaces: "m_1" }]);
    expect(screen.getAllByTestId("message-user").map(bodyOf)).toEqual(["And for sale items?"]);

    // The new question now carries the id the server gave it: editing it again replaces it.
    const storedId = lastUserId;
    fireEvent.click(screen.getByTestId("edit-message"));
    fireEvent.change(screen.getByTestId("edit-input"), { target: { value: "And for gift cards?" } });
    fireEvent.click(screen.getByTestId("edit-send"));
    await waitFor(() => expect(bodyOf(screen.getByTestId("message-assistant"))).toBe("Answer to And for gift cards?"));
    expect(posts(calls)[1]).toEqual({ content: "And for gift cards?", replaces: storedId });
    expect(screen.getAllByTestId("message-user")).toHaveLength(1);
  });

  it("restores the previous view and shows why when the server refuses a replacement", async () => {
    let refusal: Response | null = null;
    const calls = setup({ "POST /api/conversations/c_1/messages": (call) => refusal ?? answer(call) });
    await openReturns();
    const before = () => [...screen.getAllByTestId(/^message-(user|assistant)$/)].map(bodyOf);
    const shown = before();

    refusal = new Response(JSON.stringify({ error: { code: "rate_limited", message: "Slow down." } }), {
      status: 429,
      headers: { "Content-Type": "application/json", "Retry-After": "30" },
    });
    fireEvent.click(screen.getByTestId("regenerate"));
    expect((await screen.findByTestId("error-banner")).textContent).toContain("30");
    expect(before()).toEqual(shown);
    expect(screen.getAllByTestId("message-assistant")).toHaveLength(1);

    refusal = apiError(404, "message_not_found", "No such question in this conversation; reload it and try again.");
    fireEvent.click(screen.getByTestId("edit-message"));
    fireEvent.change(screen.getByTestId("edit-input"), { target: { value: "Something else" } });
    fireEvent.click(screen.getByTestId("edit-send"));
    await waitFor(() => expect(screen.getByTestId("error-banner").textContent).toContain("No such question"));
    expect(before()).toEqual(shown);
    expect(posts(calls)).toEqual([
      { content: "What is the return window?", replaces: "m_1" },
      { content: "Something else", replaces: "m_1" },
    ]);
  });

  it("retries a failed answer in place, learning the question's id from the server", async () => {
    let failNext = true;
    const stored = [msg("m_1", "user", "What is the return window?"), msg("m_2", "assistant", "It is **30 days**.")];
    const calls = setup({
      "GET /api/conversations/c_1": () => json({ ...OPEN, messages: stored }),
      "POST /api/conversations/c_1/messages": (call) => {
        if (!failNext) return answer(call);
        failNext = false;
        stored.push(msg("m_3", "user", "Gift wrap?"), { ...msg("m_4", "assistant", ""), status: "failed" });
        return new Response(sseEvent("error", { code: "upstream_error", message: "The provider failed." }), {
          headers: { "Content-Type": "text/event-stream" },
        });
      },
    });
    await openReturns();
    const input = screen.getByTestId("composer-input");
    fireEvent.change(input, { target: { value: "Gift wrap?" } });
    fireEvent.keyDown(input, { key: "Enter" });
    await waitFor(() => expect(screen.getAllByTestId("message-assistant")[1].getAttribute("data-status")).toBe("failed"));

    fireEvent.click(screen.getByTestId("regenerate")); // "Retry" on the failed answer
    await waitFor(() => expect(bodyOf(screen.getAllByTestId("message-assistant")[1])).toBe("Answer to Gift wrap?"));
    expect(posts(calls)).toEqual([{ content: "Gift wrap?" }, { content: "Gift wrap?", replaces: "m_3" }]);
    expect(screen.getAllByTestId("message-user").map(bodyOf)).toEqual(["What is the return window?", "Gift wrap?"]);
    expect(screen.getAllByTestId("message-assistant")).toHaveLength(2);
  });

  it("Escape cancels an edit without sending", async () => {
    const calls = setup();
    await openReturns();
    fireEvent.click(screen.getByTestId("edit-message"));
    fireEvent.keyDown(screen.getByTestId("edit-input"), { key: "Escape" });
    expect(screen.queryByTestId("edit-input")).toBeNull();
    expect(posts(calls)).toEqual([]);
  });

  it("copies a message's source text", async () => {
    const writeText = vi.fn(async () => undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    setup();
    await openReturns();
    const bot = screen.getByTestId("message-assistant");
    fireEvent.click(within(bot).getByTestId("copy-message"));
    await waitFor(() => expect(within(bot).getByTestId("copy-message").textContent).toBe("Copied"));
    expect(writeText).toHaveBeenCalledWith("It is **30 days**.");
  });
});

describe("pins", () => {
  it("pins a message, shows it in the panel with the context meter, and unpins it", async () => {
    const calls = setup({
      "POST /api/conversations/c_1/pins": (call) => json({ id: "p_1", text: "It is **30 days**.", ...(call.body as object) }, 201),
      "DELETE /api/conversations/c_1/pins/p_1": () => noContent(),
    });
    await openReturns();
    const bot = screen.getByTestId("message-assistant");
    fireEvent.click(within(bot).getByTestId("pin-message"));
    await waitFor(() => expect(screen.getByTestId("pins-count").textContent).toBe("1"));
    expect(calls.find((c) => c.method === "POST" && c.path.endsWith("/pins"))?.body).toEqual({ message_id: "m_2" });
    expect(within(bot).getByTestId("pin-message")).toHaveProperty("disabled", true);

    fireEvent.click(screen.getByTestId("pins-toggle"));
    const panel = screen.getByTestId("pins-panel");
    expect(within(panel).getByTestId("pin-item").textContent).toContain("It is **30 days**.");
    const meter = within(panel).getByTestId("context-meter");
    expect(meter.textContent).toContain("200 of 128,000 tokens");
    expect(meter.textContent).toContain("2 older messages left out");

    fireEvent.click(within(panel).getByTestId("unpin"));
    await waitFor(() => expect(within(panel).getByTestId("pins-empty")).toBeTruthy());
    expect(calls.some((c) => c.method === "DELETE" && c.path === "/api/conversations/c_1/pins/p_1")).toBe(true);
  });

  it("adds a note, and shows a refused pin's reason", async () => {
    let refuse = false;
    const calls = setup({
      "POST /api/conversations/c_1/pins": (call) =>
        refuse
          ? apiError(400, "pins_over_budget", "Pins may use 1,000 more tokens.")
          : json({ id: "p_9", ...(call.body as object) }, 201),
    });
    await openReturns();
    fireEvent.click(await screen.findByTestId("pins-toggle"));
    fireEvent.change(screen.getByTestId("pin-note-input"), { target: { value: "Customer is Sato." } });
    fireEvent.click(screen.getByTestId("pin-note-add"));
    await waitFor(() => expect(screen.getAllByTestId("pin-item")).toHaveLength(1));
    expect(calls.find((c) => c.path.endsWith("/pins") && c.method === "POST")?.body).toEqual({ text: "Customer is Sato." });
    expect((screen.getByTestId("pin-note-input") as HTMLTextAreaElement).value).toBe("");

    refuse = true;
    fireEvent.change(screen.getByTestId("pin-note-input"), { target: { value: "x".repeat(50) } });
    fireEvent.click(screen.getByTestId("pin-note-add"));
    expect((await screen.findByTestId("error-banner")).textContent).toContain("Pins may use 1,000 more tokens.");
  });

  it("hides pins and the meter when the server has no pins route", async () => {
    setup({
      "GET /api/conversations/c_1/pins": () => apiError(404, "not_found", "Not found."),
      "GET /api/conversations/c_1/context": () => apiError(404, "not_found", "Not found."),
    });
    await openReturns();
    await act(async () => new Promise((r) => setTimeout(r, 20)));
    expect(screen.queryByTestId("pins-toggle")).toBeNull();
    expect(screen.queryByTestId("pin-message")).toBeNull();
  });
});

describe("toolbar and sidebar", () => {
  it("shows the model's context window and a fine-tuned badge", async () => {
    setup();
    await waitFor(() => expect(screen.getByTestId("model-context").textContent).toBe("128K context"));
    expect(screen.queryByTestId("model-fine-tuned")).toBeNull();
    fireEvent.change(screen.getByTestId("model-picker"), { target: { value: "ft:small:acme:support:1" } });
    expect(screen.getByTestId("model-fine-tuned").textContent).toBe("Fine-tuned");
    expect(screen.getByRole("option", { name: "Support bot · Fine-tuned" })).toBeTruthy();
  });

  it("renames in place and searches titles", async () => {
    const other = { ...OPEN, id: "c_2", title: "Kyoto trip" };
    const calls = setup(
      {
        "PATCH /api/conversations/c_1": (call) => json({ ...OPEN, ...(call.body as object) }),
        // A server that ignores ?q= answers the probe with everything: titles are filtered here.
      },
      [OPEN, other],
    );
    const first = (await screen.findAllByTestId("conversation-item"))[0];
    fireEvent.click(within(first).getByTestId("conversation-rename"));
    const input = screen.getByTestId("rename-input");
    fireEvent.change(input, { target: { value: "Return policy" } });
    fireEvent.keyDown(input, { key: "Enter" });
    await waitFor(() => expect(screen.getByText("Return policy")).toBeTruthy());
    expect(calls.find((c) => c.method === "PATCH")?.body).toEqual({ title: "Return policy" });

    fireEvent.change(screen.getByTestId("conversation-search"), { target: { value: "kyoto" } });
    expect(screen.getAllByTestId("conversation-item").map((li) => li.getAttribute("data-id"))).toEqual(["c_2"]);
    fireEvent.change(screen.getByTestId("conversation-search"), { target: { value: "nothing" } });
    expect(screen.queryByTestId("conversation-item")).toBeNull();
    expect(screen.getByTestId("sidebar").textContent).toContain("No conversations match “nothing”.");
  });

  it("uses the server's search when it really searches", async () => {
    const other = { ...OPEN, id: "c_2", title: "Kyoto trip" };
    setup({}, [OPEN, other]);
    // The fake fetch sees only the path; emulate a searching server by answering on the query.
    const fetchMock = globalThis.fetch as unknown as ReturnType<typeof vi.fn>;
    const original = fetchMock.getMockImplementation() as (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
    fetchMock.mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = new URL(String(input), "http://localhost");
      const q = url.searchParams.get("q");
      if (q !== null) return json({ conversations: q === "temple" ? [other] : [] });
      return original(input, init);
    });
    await screen.findAllByTestId("conversation-item");
    fireEvent.change(screen.getByTestId("conversation-search"), { target: { value: "temple" } });
    // "temple" is in no title: only the server (which also searches messages) finds Kyoto.
    await waitFor(() => expect(screen.getAllByTestId("conversation-item").map((li) => li.getAttribute("data-id"))).toEqual(["c_2"]));
  });
});
