import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { Conversation, Role } from "../api/types";
import { I18nProvider } from "../i18n";
import { feedStream, json, mockFetch, noContent, sseEvent } from "../test/fetchMock";
import type { FeedStream, RecordedCall } from "../test/fetchMock";
import { Chat } from "./Chat";

const NOW = "2025-01-01T00:00:00Z";
const MODELS = { models: [{ id: "small", label: "Small model" }, { id: "big" }], default: "small" };
const TEACHER: Role = { id: "preset-programming-teacher", name: "Programming teacher", instructions: "You are a patient programming teacher.", builtin: true };
const MINE: Role = { id: "r_1", name: "Pirate", instructions: "Talk like a pirate.", builtin: false, temperature: 0.5 };

function conversation(id: string, fields: Partial<Conversation> = {}): Conversation {
  return { id, title: "", instructions: "", model: "small", created_at: NOW, updated_at: NOW, ...fields };
}

function setup(extra: Record<string, (call: RecordedCall) => Response> = {}, list: Conversation[] = []) {
  let feed: FeedStream | null = null;
  const calls = mockFetch({
    "GET /api/models": () => json(MODELS),
    "GET /api/roles": () => json({ roles: [TEACHER, MINE], language: "en" }),
    "GET /api/conversations": () => json({ conversations: list }),
    "POST /api/conversations": (call) => json(conversation("c_new", call.body as Partial<Conversation>), 201),
    "POST /api/conversations/c_new/messages": () => {
      feed = feedStream();
      return feed.response;
    },
    ...extra,
  });
  render(
    <I18nProvider lang="en">
      <Chat onAuthLost={vi.fn()} />
    </I18nProvider>,
  );
  return { calls, stream: () => feed as FeedStream | null };
}

describe("role picker", () => {
  it("offers presets and own roles, shows a preset read-only, and creates the conversation with its role_id", async () => {
    const { calls, stream } = setup();
    const picker = await screen.findByTestId("role-picker");
    await waitFor(() => expect(within(picker).getByText("Programming teacher")).toBeTruthy());
    expect(within(picker).getByText("Custom instructions")).toBeTruthy();
    expect(within(picker).getByText("Pirate")).toBeTruthy();

    fireEvent.change(picker, { target: { value: TEACHER.id } });
    const box = screen.getByTestId("role-input") as HTMLTextAreaElement;
    expect(box.value).toBe(TEACHER.instructions);
    expect(box.readOnly).toBe(true);

    const input = screen.getByTestId("composer-input");
    fireEvent.change(input, { target: { value: "What is a loop?" } });
    fireEvent.keyDown(input, { key: "Enter" });
    await waitFor(() => expect(stream()).not.toBeNull());
    const create = calls.find((c) => c.method === "POST" && c.path === "/api/conversations");
    expect(create?.body).toMatchObject({ role_id: TEACHER.id });

    const answer = { id: "m2", role: "assistant", content: "A loop repeats.", model: "small", role_id: TEACHER.id, status: "complete", created_at: NOW };
    const asked = { id: "m1", role: "user", content: "What is a loop?", status: "complete", created_at: NOW };
    stream()!.send(sseEvent("delta", { content: "A loop repeats." }));
    stream()!.send(sseEvent("done", { message: answer, user_message: asked }));
    stream()!.close();
    expect((await screen.findByTestId("message-role-label")).textContent).toBe("Programming teacher");
  });

  it("switches an existing conversation's role with PATCH, and back to custom instructions with an empty role_id", async () => {
    const open = conversation("c_1", { title: "Old", instructions: "Be brief." });
    const { calls } = setup(
      {
        "GET /api/conversations/c_1": () => json({ ...open, messages: [] }),
        "PATCH /api/conversations/c_1": (call) => json({ ...open, ...(call.body as object) }),
      },
      [open],
    );
    fireEvent.click(await screen.findByText("Old"));
    await waitFor(() => expect(calls.some((c) => c.path === "/api/conversations/c_1")).toBe(true));
    const picker = await screen.findByTestId("role-picker");
    await waitFor(() => expect(within(picker).getByText("Pirate")).toBeTruthy());
    fireEvent.change(picker, { target: { value: "r_1" } });
    await waitFor(() => expect(calls.filter((c) => c.method === "PATCH").map((c) => c.body)).toEqual([{ role_id: "r_1" }]));
    fireEvent.change(picker, { target: { value: "" } });
    await waitFor(() => expect(calls.filter((c) => c.method === "PATCH").map((c) => c.body)).toEqual([{ role_id: "r_1" }, { role_id: "" }]));
    const box = screen.getByTestId("role-input") as HTMLTextAreaElement;
    expect(box.readOnly).toBe(false);
    expect(box.value).toBe("Be brief.");
  });
});

describe("my roles", () => {
  it("lists built-ins without edit or delete, and creates a role from the form", async () => {
    const created: Role = { id: "r_2", name: "Chef", instructions: "You are a chef.", builtin: false };
    const { calls } = setup({ "POST /api/roles": () => json(created, 201) });
    fireEvent.click(await screen.findByTestId("roles-manage"));
    await waitFor(() => expect(screen.getAllByTestId("role-item")).toHaveLength(2));
    const [builtin, own] = screen.getAllByTestId("role-item");
    expect(within(builtin).queryByTestId("role-edit")).toBeNull();
    expect(within(builtin).queryByTestId("role-delete")).toBeNull();
    expect(within(own).getByTestId("role-edit")).toBeTruthy();

    fireEvent.click(screen.getByTestId("role-new"));
    fireEvent.change(screen.getByTestId("role-form-name"), { target: { value: "Chef" } });
    fireEvent.change(screen.getByTestId("role-form-instructions"), { target: { value: "You are a chef." } });
    fireEvent.change(screen.getByTestId("role-form-temperature"), { target: { value: "0.7" } });
    fireEvent.click(screen.getByTestId("role-form-save"));
    await waitFor(() => expect(screen.getAllByTestId("role-item")).toHaveLength(3));
    const post = calls.find((c) => c.method === "POST" && c.path === "/api/roles");
    expect(post?.body).toEqual({ name: "Chef", instructions: "You are a chef.", model: null, temperature: 0.7, max_answer_tokens: null });
    expect(within(screen.getByTestId("role-picker")).getByText("Chef")).toBeTruthy();
  });

  it("edits and deletes an own role, and manages its memory", async () => {
    const { calls } = setup({
      "PATCH /api/roles/r_1": (call) => json({ ...MINE, ...(call.body as object) }),
      "DELETE /api/roles/r_1": () => noContent(),
      "GET /api/roles/r_1/pins": () => json({ pins: [{ id: "p1", text: "Say arr." }] }),
      "POST /api/roles/r_1/pins": (call) => json({ id: "p2", text: (call.body as { text: string }).text }, 201),
      "DELETE /api/roles/r_1/pins/p1": () => noContent(),
    });
    fireEvent.click(await screen.findByTestId("roles-manage"));
    await waitFor(() => expect(screen.getAllByTestId("role-item")).toHaveLength(2));
    fireEvent.click(screen.getByTestId("role-edit"));
    expect((screen.getByTestId("role-form-name") as HTMLInputElement).value).toBe("Pirate");
    expect(await screen.findByText("Say arr.")).toBeTruthy();
    fireEvent.change(screen.getByTestId("role-pin-input"), { target: { value: "Ship is named Pearl." } });
    fireEvent.click(screen.getByTestId("role-pin-add"));
    expect(await screen.findByText("Ship is named Pearl.")).toBeTruthy();
    fireEvent.click(screen.getAllByTestId("role-pin-remove")[0]);
    await waitFor(() => expect(screen.queryByText("Say arr.")).toBeNull());

    fireEvent.change(screen.getByTestId("role-form-name"), { target: { value: "Captain" } });
    fireEvent.click(screen.getByTestId("role-form-save"));
    await waitFor(() => expect(screen.getAllByTestId("role-item")[1].textContent).toContain("Captain"));
    expect(calls.find((c) => c.method === "PATCH")?.body).toMatchObject({ name: "Captain", temperature: 0.5 });

    fireEvent.click(screen.getByTestId("role-delete"));
    fireEvent.click(screen.getByTestId("role-delete-confirm"));
    await waitFor(() => expect(screen.getAllByTestId("role-item")).toHaveLength(1));
    expect(calls.some((c) => c.method === "DELETE" && c.path === "/api/roles/r_1")).toBe(true);
  });
});
