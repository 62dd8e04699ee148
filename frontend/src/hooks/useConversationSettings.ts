/** The open conversation's free-form instructions and model: edited locally, saved to the server. */
import { useCallback, useState } from "react";
import type { MutableRefObject } from "react";
import { api } from "../api/client";
import type { Conversation } from "../api/types";
import type { SaveState } from "../components/RoleBox";

interface Owner {
  /** Keeps the sidebar's copy current. */
  upsert: (conv: Conversation) => void;
  setCurrent: (conv: Conversation) => void;
}

export function useConversationSettings(
  currentRef: MutableRefObject<Conversation | null>,
  { upsert, setCurrent }: Owner,
  fail: (err: unknown) => void,
) {
  const [instructions, setInstructions] = useState("");
  const [model, setModel] = useState("");
  const [saveState, setSaveState] = useState<SaveState>("idle");
  const isCurrent = (id: string) => currentRef.current?.id === id;

  /** Shows a conversation's settings (or, for a new chat, `fallbackModel`). */
  const show = useCallback((conv: Conversation | null, fallbackModel = "") => {
    setInstructions(conv?.instructions ?? "");
    setModel(conv ? conv.model ?? "" : fallbackModel);
    setSaveState("idle");
  }, []);

  const editInstructions = (value: string) => {
    setInstructions(value);
    setSaveState("idle");
  };

  const saveInstructions = async () => {
    const conv = currentRef.current;
    if (!conv || instructions === (conv.instructions ?? "") || saveState === "saving") return;
    setSaveState("saving");
    try {
      const updated = await api.updateConversation(conv.id, { instructions });
      upsert(updated);
      if (!isCurrent(updated.id)) return;
      setCurrent(updated);
      setSaveState("saved");
    } catch (err) {
      if (isCurrent(conv.id)) setSaveState("idle");
      fail(err);
    }
  };

  const changeModel = async (id: string) => {
    setModel(id);
    const conv = currentRef.current;
    if (!conv || conv.model === id) return;
    try {
      const updated = await api.updateConversation(conv.id, { model: id });
      upsert(updated);
      if (isCurrent(updated.id)) setCurrent(updated);
    } catch (err) {
      if (isCurrent(conv.id)) setModel(conv.model);
      fail(err);
    }
  };

  return { instructions, model, setModel, saveState, show, editInstructions, saveInstructions, changeModel };
}
