/** Message state of the chat pane: server messages plus the ones being sent and streamed. */
import type { Conversation, Message, MessageStatus } from "./api/types";

export type UiStatus = "streaming" | MessageStatus;

export interface UiMessage {
  /** Stable React key: the server id, or a local id kept after the server's id arrives. */
  key: string;
  id?: string;
  role: "user" | "assistant";
  content: string;
  status: UiStatus;
  /** The model that wrote an answer. */
  model?: string;
  /** The role that wrote an answer. */
  roleId?: string;
  /** Why an answer stopped early, shown under it. */
  error?: string;
}

let counter = 0;
export function localKey(): string {
  counter += 1;
  return `local-${counter}`;
}

function isStatus(value: unknown): value is MessageStatus {
  return value === "complete" || value === "interrupted" || value === "failed";
}

export function fromServer(m: Message): UiMessage {
  return {
    key: m.id,
    id: m.id,
    role: m.role === "assistant" ? "assistant" : "user",
    content: typeof m.content === "string" ? m.content : "",
    status: isStatus(m.status) ? m.status : "complete",
    ...(typeof m.model === "string" && m.model ? { model: m.model } : {}),
    ...(typeof m.role_id === "string" && m.role_id ? { roleId: m.role_id } : {}),
  };
}

export function updateByKey(
  list: UiMessage[],
  key: string,
  change: (m: UiMessage) => UiMessage,
): UiMessage[] {
  return list.map((m) => (m.key === key ? change(m) : m));
}

/** Replaces a local message with the server's stored copy, keeping its React key. */
export function settle(list: UiMessage[], key: string, stored: Message | undefined): UiMessage[] {
  if (!stored) return list;
  return updateByKey(list, key, (m) => ({ ...fromServer(stored), key: m.key, error: m.error }));
}

/**
 * The server id of a user message shown without one (its answer ended without the server's
 * copies: stopped, cut, failed), from the stored list: the same place, role and text.
 */
export function serverIdOf(list: UiMessage[], key: string, stored: Message[]): string | undefined {
  const at = list.findIndex((m) => m.key === key);
  const match = at >= 0 ? stored[at] : undefined;
  return match && match.role === "user" && match.content === list[at].content ? match.id : undefined;
}

/** Newest first, by `updated_at` (ISO strings in UTC compare as text). */
export function sortConversations(list: Conversation[]): Conversation[] {
  return [...list].sort((a, b) => (a.updated_at < b.updated_at ? 1 : a.updated_at > b.updated_at ? -1 : 0));
}

/** Puts `conv` at the top of the list, replacing its older copy. */
export function upsertConversation(list: Conversation[], conv: Conversation): Conversation[] {
  return [conv, ...list.filter((c) => c.id !== conv.id)];
}
