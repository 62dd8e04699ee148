/**
 * Pins and the context meter of the open conversation. The pins routes may not exist on an
 * older server: a 404 `not_found` for a conversation that exists means exactly that, and the
 * feature is hidden (`supported` false) rather than shown broken.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import { api } from "../api/client";
import { ApiError } from "../api/errors";
import type { NewPin, Pin } from "../api/types";
import { parseContext } from "../contextInfo";
import type { ContextInfo } from "../contextInfo";

function isMissingRoute(err: unknown): boolean {
  return err instanceof ApiError && err.status === 404 && err.code === "not_found";
}

export function usePins(conversationId: string | null, fail: (err: unknown) => void) {
  const [supported, setSupported] = useState(false);
  const [pins, setPins] = useState<Pin[]>([]);
  const [context, setContext] = useState<ContextInfo | null>(null);
  const current = useRef(conversationId);
  current.current = conversationId;

  const refreshContext = useCallback(async () => {
    const id = current.current;
    if (!id) return setContext(null);
    try {
      const raw = await api.context(id);
      if (current.current === id) setContext(parseContext(raw));
    } catch {
      if (current.current === id) setContext(null); // no meter rather than a wrong one
    }
  }, []);

  useEffect(() => {
    setPins([]);
    setContext(null);
    if (!conversationId) return;
    let cancelled = false;
    api.listPins(conversationId).then(
      (list) => {
        if (cancelled) return;
        setSupported(true);
        setPins(list);
      },
      (err) => {
        if (cancelled) return;
        if (isMissingRoute(err)) setSupported(false);
        else if (err instanceof ApiError && err.status === 401) fail(err);
      },
    );
    void refreshContext();
    return () => {
      cancelled = true;
    };
  }, [conversationId, fail, refreshContext]);

  const add = useCallback(
    async (pin: NewPin): Promise<boolean> => {
      const id = current.current;
      if (!id) return false;
      try {
        const created = await api.addPin(id, pin);
        if (current.current === id && created && typeof created.id === "string") {
          setPins((list) => [...list.filter((p) => p.id !== created.id), created]);
        }
        void refreshContext();
        return true;
      } catch (err) {
        if (isMissingRoute(err)) setSupported(false);
        else fail(err);
        return false;
      }
    },
    [fail, refreshContext],
  );

  const remove = useCallback(
    async (pinId: string): Promise<boolean> => {
      const id = current.current;
      if (!id) return false;
      try {
        await api.deletePin(id, pinId);
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) {
          fail(err);
          return false;
        }
      }
      if (current.current === id) setPins((list) => list.filter((p) => p.id !== pinId));
      void refreshContext();
      return true;
    },
    [fail, refreshContext],
  );

  return { supported, pins, context, add, remove, refreshContext };
}
