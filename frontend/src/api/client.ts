/** JSON calls to the rolechat API (same origin: the edge serves both the app and the API). */
import { ApiError, errorFromResponse, networkError } from "./errors";
import { streamSse } from "./sse";
import type {
  AppConfig,
  Conversation,
  ConversationWithMessages,
  Me,
  ModelCatalog,
  NewPin,
  Pin,
  Role,
  RoleFields,
  StreamDone,
  StreamError,
} from "./types";

export async function request<T>(method: string, path: string, body?: unknown, extra?: Record<string, string>): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", ...extra };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (err) {
    throw networkError(err);
  }
  if (!res.ok) throw await errorFromResponse(res);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  if (!text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(res.status, "bad_response", "The server sent an unreadable answer.");
  }
}

export const enc = encodeURIComponent;

/** `/config.json` tells how people sign in; without it the app assumes the local stack. */
export async function getConfig(): Promise<AppConfig> {
  try {
    const cfg = await request<Partial<AppConfig> | undefined>("GET", "/config.json");
    if (cfg && cfg.auth === "cognito") {
      return { auth: "cognito", logoutUrl: cfg.logoutUrl, loginUrl: cfg.loginUrl };
    }
  } catch {
    // fall through to the local default
  }
  return { auth: "local" };
}

export const api = {
  me: () => request<Me>("GET", "/api/me"),
  login: (username: string) => request<void>("POST", "/local/login", { username }),
  logout: () => request<void>("POST", "/local/logout"),
  models: () => request<ModelCatalog>("GET", "/api/models"),
  listConversations: async () =>
    (await request<{ conversations: Conversation[] }>("GET", "/api/conversations")).conversations,
  getConversation: (id: string) =>
    request<ConversationWithMessages>("GET", `/api/conversations/${enc(id)}`),
  createConversation: (fields: { instructions?: string; role_id?: string; model?: string }) =>
    request<Conversation>("POST", "/api/conversations", fields),
  updateConversation: (id: string, fields: { instructions?: string; role_id?: string; model?: string; title?: string }) =>
    request<Conversation>("PATCH", `/api/conversations/${enc(id)}`, fields),
  deleteConversation: (id: string) => request<void>("DELETE", `/api/conversations/${enc(id)}`),
  searchConversations: async (q: string) =>
    (await request<{ conversations: Conversation[] }>("GET", `/api/conversations?q=${enc(q)}`)).conversations,
  listPins: async (id: string) => {
    const body = await request<{ pins?: Pin[] }>("GET", `/api/conversations/${enc(id)}/pins`);
    return Array.isArray(body?.pins) ? body.pins : [];
  },
  addPin: (id: string, pin: NewPin) => request<Pin>("POST", `/api/conversations/${enc(id)}/pins`, pin),
  deletePin: (id: string, pinId: string) =>
    request<void>("DELETE", `/api/conversations/${enc(id)}/pins/${enc(pinId)}`),
  /** Built-in roles come in `lang` (the app's language, which the header switch may change). */
  listRoles: async (lang?: string) => {
    const body = await request<{ roles?: Role[] }>("GET", "/api/roles", undefined, lang ? { "Accept-Language": lang } : undefined);
    return Array.isArray(body?.roles) ? body.roles : [];
  },
  createRole: (fields: RoleFields) => request<Role>("POST", "/api/roles", fields),
  updateRole: (id: string, fields: Partial<RoleFields>) => request<Role>("PATCH", `/api/roles/${enc(id)}`, fields),
  deleteRole: (id: string) => request<void>("DELETE", `/api/roles/${enc(id)}`),
  listRolePins: async (id: string) => {
    const body = await request<{ pins?: Pin[] }>("GET", `/api/roles/${enc(id)}/pins`);
    return Array.isArray(body?.pins) ? body.pins : [];
  },
  addRolePin: (id: string, text: string) => request<Pin>("POST", `/api/roles/${enc(id)}/pins`, { text }),
  deleteRolePin: (id: string, pinId: string) =>
    request<void>("DELETE", `/api/roles/${enc(id)}/pins/${enc(pinId)}`),
  context: (id: string) => request<unknown>("GET", `/api/conversations/${enc(id)}/context`),
};

export type StreamOutcome =
  | { kind: "done"; done: StreamDone }
  | { kind: "error"; error: StreamError }
  /** The stream ended without its final event (the connection was cut). */
  | { kind: "cut" };

export interface SendCallbacks {
  signal: AbortSignal;
  /** Where to post the message, when not the signed-in `/api/conversations/{id}/messages`. */
  url?: string;
  /** The id of the user message this one replaces, with every message after it (edit, regenerate). */
  replaces?: string;
  onOpen?: () => void;
  onDelta: (text: string) => void;
}

/**
 * Sends a user message and reads the answer stream. Rejects with an ApiError when the
 * server refuses the message before streaming, and with an AbortError when `signal` aborts.
 */
export async function sendMessage(
  conversationId: string,
  content: string,
  cb: SendCallbacks,
): Promise<StreamOutcome> {
  let outcome: StreamOutcome = { kind: "cut" };
  await streamSse(cb.url ?? `/api/conversations/${enc(conversationId)}/messages`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(cb.replaces ? { content, replaces: cb.replaces } : { content }),
    signal: cb.signal,
    onOpen: cb.onOpen,
    onEvent: (ev) => {
      if (outcome.kind !== "cut") return; // nothing counts after the final event
      let data: unknown;
      try {
        data = JSON.parse(ev.data);
      } catch {
        return; // a malformed event is skipped rather than breaking the answer
      }
      if (ev.event === "delta") {
        const text = (data as { content?: unknown }).content;
        if (typeof text === "string" && text) cb.onDelta(text);
      } else if (ev.event === "done") {
        outcome = { kind: "done", done: data as StreamDone };
      } else if (ev.event === "error") {
        const e = data as Partial<StreamError>;
        outcome = {
          kind: "error",
          error: {
            code: typeof e.code === "string" ? e.code : "stream_error",
            message: typeof e.message === "string" ? e.message : "",
          },
        };
      }
    },
  });
  return outcome;
}
