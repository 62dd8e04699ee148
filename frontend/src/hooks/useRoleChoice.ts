/** The open conversation's chosen role: "" for its own free-form instructions. */
import { useCallback, useState } from "react";
import type { MutableRefObject } from "react";
import { api } from "../api/client";
import type { Conversation } from "../api/types";

interface Owner {
  /** Keeps the sidebar's copy current. */
  upsert: (conv: Conversation) => void;
  setCurrent: (conv: Conversation) => void;
  /** A role may bring its default model. */
  setModel: (model: string) => void;
}

export function useRoleChoice(
  currentRef: MutableRefObject<Conversation | null>,
  { upsert, setCurrent, setModel }: Owner,
  fail: (err: unknown) => void,
) {
  const [roleId, setRoleId] = useState("");

  /** Picks a role; an existing conversation is switched on the server right away. */
  const choose = useCallback(
    async (id: string) => {
      setRoleId(id);
      const conv = currentRef.current;
      if (!conv || (conv.role_id ?? "") === id) return;
      try {
        const updated = await api.updateConversation(conv.id, { role_id: id });
        upsert(updated);
        if (currentRef.current?.id !== updated.id) return;
        setCurrent(updated);
        if (updated.model) setModel(updated.model);
      } catch (err) {
        if (currentRef.current?.id === conv.id) setRoleId(conv.role_id ?? "");
        fail(err);
      }
    },
    [currentRef, upsert, setCurrent, setModel, fail],
  );

  return { roleId, setRoleId, choose };
}
