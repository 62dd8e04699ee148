/** The signed-in owner's published bots and their API keys. */
import { enc, request } from "./client";

export interface Bot {
  slug: string;
  role_id: string;
  name: string;
  greeting: string;
  suggestions: string[];
  daily_token_budget: number | null;
  published: boolean;
}

export interface BotFields {
  role_id: string;
  slug: string;
  greeting: string;
  suggestions: string[];
  daily_token_budget: number | null;
}

export interface BotKey {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
  usage_this_month?: { tokens: number; requests: number } | null;
}

/** A new key: `key` is the secret, returned this once only. */
export interface NewBotKey {
  id: string;
  name: string;
  key: string;
}

/** One visitor conversation with a published bot, as listed for its owner. */
export interface BotTranscript {
  id: string;
  visitor: string;
  created_at: string;
  updated_at: string;
  messages: number;
  first_message: string;
}

export interface BotTranscriptMessage {
  id: string;
  role: "user" | "assistant";
  content: string;
  status: string;
  created_at: string;
}

export interface BotTranscriptFull extends Omit<BotTranscript, "messages" | "first_message"> {
  messages: BotTranscriptMessage[];
}

export interface BotUsage {
  days: Array<{ day: string; prompt_tokens: number; completion_tokens: number; total_tokens: number; turns: number }>;
  daily_token_budget: number | null;
  tokens_today: number;
  remaining_today: number | null;
  resets_in_seconds: number;
}

const base = (slug: string) => `/api/bots/${enc(slug)}`;

export const botsApi = {
  list: async () => {
    const body = await request<{ bots?: Bot[] }>("GET", "/api/bots");
    return Array.isArray(body?.bots) ? body.bots : [];
  },
  create: (fields: BotFields) => request<Bot>("POST", "/api/bots", fields),
  setPublished: (slug: string, published: boolean) => request<Bot>("PATCH", base(slug), { published }),
  remove: (slug: string) => request<void>("DELETE", base(slug)),
  keys: async (slug: string) => {
    const body = await request<{ keys?: BotKey[] }>("GET", `${base(slug)}/keys`);
    return Array.isArray(body?.keys) ? body.keys : [];
  },
  createKey: (slug: string, name: string) => request<NewBotKey>("POST", `${base(slug)}/keys`, { name }),
  revokeKey: (slug: string, id: string) => request<void>("DELETE", `${base(slug)}/keys/${enc(id)}`),
  transcripts: async (slug: string, limit = 50) => {
    const body = await request<{ conversations?: BotTranscript[] }>("GET", `${base(slug)}/conversations?limit=${limit}`);
    return Array.isArray(body?.conversations) ? body.conversations : [];
  },
  transcript: async (slug: string, id: string) => {
    const body = await request<BotTranscriptFull>("GET", `${base(slug)}/conversations/${enc(id)}`);
    return { ...body, messages: Array.isArray(body?.messages) ? body.messages : [] };
  },
  usage: (slug: string) => request<BotUsage>("GET", `${base(slug)}/usage`),
};

/** The public page's address and the HTML that embeds it in another site. */
export function botLinks(slug: string, origin: string = window.location.origin): { url: string; embed: string } {
  const url = `${origin}/b/${slug}`;
  return {
    url,
    embed: `<iframe src="${url}" title="${slug}" width="400" height="600" style="border:0" loading="lazy"></iframe>`,
  };
}

/** A slug suggestion from a role's name: lowercase letters, digits and dashes, 3–40 long. */
export function slugFrom(name: string): string {
  const slug = name
    .normalize("NFKD")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40)
    .replace(/-+$/, "");
  return slug.length >= 3 ? slug : "";
}
