/**
 * The conversation list: loading, renaming, deleting and searching.
 * Search filters titles in the browser at once; when the server answers
 * `GET /api/conversations?q=` with a real search (probed once: a query nothing can match must
 * come back empty), its results, which also match message text, replace the local filter.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api } from "../api/client";
import { ApiError } from "../api/errors";
import type { Conversation } from "../api/types";
import { matchesTitle } from "../dates";

type SearchMode = "unknown" | "server" | "client";
const SEARCH_DELAY_MS = 250;

export function useConversations(fail: (err: unknown) => void, untitled: string) {
  const [conversations, setConversations] = useState<Conversation[]>([]);
  const [loading, setLoading] = useState(true);
  const [query, setQuery] = useState("");
  const [found, setFound] = useState<{ q: string; ids: Set<string> } | null>(null);
  const mode = useRef<SearchMode>("unknown");

  const refresh = useCallback(async (): Promise<Conversation[] | null> => {
    try {
      const list = await api.listConversations();
      setConversations(list);
      return list;
    } catch (err) {
      fail(err);
      return null;
    } finally {
      setLoading(false);
    }
  }, [fail]);

  const q = query.trim();
  const hasAny = conversations.length > 0;
  useEffect(() => {
    if (!q || !hasAny || mode.current === "client") return;
    let cancelled = false;
    const timer = window.setTimeout(async () => {
      try {
        if (mode.current === "unknown") {
          const probe = await api.searchConversations(`zz${Math.random().toString(36).slice(2)}qq`);
          mode.current = probe.length === 0 ? "server" : "client";
          if (mode.current === "client") return;
        }
        const list = await api.searchConversations(q);
        if (!cancelled) setFound({ q, ids: new Set(list.map((c) => c.id)) });
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) fail(err);
        else mode.current = "client";
      }
    }, SEARCH_DELAY_MS);
    return () => {
      cancelled = true;
      window.clearTimeout(timer);
    };
  }, [q, hasAny, fail]);

  const visible = useMemo(() => {
    if (!q) return conversations;
    if (found && found.q === q) return conversations.filter((c) => found.ids.has(c.id));
    return conversations.filter((c) => matchesTitle(c, q, untitled));
  }, [conversations, q, found, untitled]);

  const upsert = useCallback((conv: Conversation) => {
    setConversations((list) => [conv, ...list.filter((c) => c.id !== conv.id)]);
  }, []);

  const drop = useCallback((id: string) => setConversations((list) => list.filter((c) => c.id !== id)), []);

  const rename = useCallback(
    async (conv: Conversation, title: string): Promise<Conversation | null> => {
      try {
        const updated = await api.updateConversation(conv.id, { title });
        setConversations((list) => list.map((c) => (c.id === updated.id ? updated : c)));
        return updated;
      } catch (err) {
        fail(err);
        return null;
      }
    },
    [fail],
  );

  const remove = useCallback(
    async (conv: Conversation): Promise<boolean> => {
      try {
        await api.deleteConversation(conv.id);
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) {
          fail(err);
          return false;
        }
      }
      drop(conv.id);
      return true;
    },
    [fail, drop],
  );

  return { conversations, visible, loading, query, setQuery, refresh, upsert, drop, rename, remove };
}
