import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { UiMessage } from "../chatState";
import { I18nProvider } from "../i18n";
import type { MessageActions } from "./Message";
import { Messages } from "./Messages";

const renders = new Map<string, number>();
vi.mock("./Markdown", () => ({
  Markdown: ({ text }: { text: string }) => {
    renders.set(text, (renders.get(text) ?? 0) + 1);
    return <div className="markdown">{text}</div>;
  },
}));

const actions: MessageActions = { edit: vi.fn(), regenerate: vi.fn(), pin: vi.fn() };
const none = new Set<string>();

function history(n: number): UiMessage[] {
  return Array.from({ length: n }, (_, i) => ({
    key: `m${i}`,
    id: `m${i}`,
    role: i % 2 ? ("assistant" as const) : ("user" as const),
    content: `message ${i}`,
    status: "complete" as const,
  }));
}

function view(messages: UiMessage[], busy = false) {
  return (
    <I18nProvider lang="en">
      <Messages messages={messages} loading={false} busy={busy} pinsEnabled={false} pinnedIds={none} actions={actions} />
    </I18nProvider>
  );
}

describe("Messages", () => {
  it("re-renders only the streaming answer as it grows", () => {
    renders.clear();
    const past = history(200);
    const streaming: UiMessage = { key: "s", role: "assistant", content: "Hel", status: "streaming" };
    const { rerender } = render(view([...past, streaming], true));
    expect(renders.get("message 199")).toBe(1);
    for (const more of ["Hello", "Hello, wor", "Hello, world"]) {
      rerender(view([...past, { ...streaming, content: more }], true));
    }
    expect(renders.get("message 199")).toBe(1);
    expect(renders.get("message 1")).toBe(1);
    expect(renders.get("Hello, world")).toBe(1);
    expect(screen.getAllByTestId("message-assistant")).toHaveLength(101);
  });

  it("stops following when scrolled up and offers to jump to the latest", () => {
    render(view(history(4)));
    const box = screen.getByTestId("messages");
    Object.defineProperty(box, "scrollHeight", { value: 2000, configurable: true });
    Object.defineProperty(box, "clientHeight", { value: 400, configurable: true });
    expect(screen.queryByTestId("jump-latest")).toBeNull();
    box.scrollTop = 100;
    fireEvent.scroll(box);
    fireEvent.click(screen.getByTestId("jump-latest"));
    expect(box.scrollTop).toBe(2000);
    expect(screen.queryByTestId("jump-latest")).toBeNull();
  });

  it("offers Regenerate on the latest answer only, and nothing that sends while streaming", () => {
    const { rerender } = render(view(history(6)));
    expect(screen.getAllByTestId("regenerate")).toHaveLength(1);
    expect(screen.getAllByTestId("message-assistant")[2].querySelector("[data-testid='regenerate']")).not.toBeNull();
    rerender(view(history(6), true));
    expect(screen.queryByTestId("regenerate")).toBeNull();
    expect(screen.queryByTestId("edit-message")).toBeNull();
  });
});
