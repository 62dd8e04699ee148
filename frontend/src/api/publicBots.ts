/**
 * The public bot page's calls: no sign-in, the server keeps an anonymous visitor cookie by
 * itself (same origin). Answers stream through the same reader as the signed-in chat.
 */
import { enc, request } from "./client";
import type { Message } from "./types";

export interface PublicBot {
  slug: string;
  name: string;
  greeting: string;
  suggestions: string[];
}

export interface PublicConversation {
  id: string;
  messages: Message[];
}

const SLUG_PATH = /^\/b\/([a-z0-9-]{3,40})$/;

/** The bot's slug when `pathname` is a public bot page (`/b/{slug}`), else null. */
export function publicBotSlug(pathname: string): string | null {
  const match = SLUG_PATH.exec(pathname);
  return match ? match[1] : null;
}

const base = (slug: string) => `/api/public/bots/${enc(slug)}`;

export const publicApi = {
  bot: async (slug: string): Promise<PublicBot> => {
    const bot = await request<Partial<PublicBot>>("GET", base(slug));
    return {
      slug: typeof bot?.slug === "string" ? bot.slug : slug,
      name: typeof bot?.name === "string" ? bot.name : slug,
      greeting: typeof bot?.greeting === "string" ? bot.greeting : "",
      suggestions: Array.isArray(bot?.suggestions) ? bot.suggestions.filter((s) => typeof s === "string" && s.trim()) : [],
    };
  },
  createConversation: (slug: string) => request<{ id: string }>("POST", `${base(slug)}/conversations`),
  conversation: async (slug: string, id: string): Promise<PublicConversation> => {
    const conv = await request<Partial<PublicConversation>>("GET", `${base(slug)}/conversations/${enc(id)}`);
    return { id, messages: Array.isArray(conv?.messages) ? conv.messages : [] };
  },
  /** The message stream's URL (posted by `streamAnswer`). */
  messagesUrl: (slug: string, id: string) => `${base(slug)}/conversations/${enc(id)}/messages`,
};

/** The open conversation of one bot, kept for the tab's life so a reload resumes it. */
export const savedConversation = {
  key: (slug: string) => `rolechat.public.${slug}.conversation`,
  get(slug: string): string | null {
    try {
      return globalThis.sessionStorage?.getItem(this.key(slug)) ?? null;
    } catch {
      return null;
    }
  },
  set(slug: string, id: string | null): void {
    try {
      if (id) globalThis.sessionStorage?.setItem(this.key(slug), id);
      else globalThis.sessionStorage?.removeItem(this.key(slug));
    } catch {
      // not remembered: a reload starts a new conversation
    }
  },
};
