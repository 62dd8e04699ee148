/**
 * Sends one user message and streams the answer into the message list: the user's bubble
 * at once, the assistant's bubble as soon as the stream opens, deltas appended once per
 * animation frame (however fast they arrive), then the stored copies from the `done` event
 * (or a status when it ends early).
 */
import type { Dispatch, SetStateAction } from "react";
import { sendMessage } from "./api/client";
import { ApiError, NETWORK_ERROR, isAbortError } from "./api/errors";
import { localKey, settle, updateByKey } from "./chatState";
import type { UiMessage } from "./chatState";
import type { Translate } from "./i18n";

export type TurnResult =
  /** Refused before any streaming: nothing was stored, the user bubble is removed again. */
  | { kind: "refused"; error: ApiError }
  | { kind: "done"; text: string }
  | { kind: "failed" | "interrupted" | "stopped" };

const frame: (cb: () => void) => void =
  typeof requestAnimationFrame === "function" ? (cb) => requestAnimationFrame(cb) : (cb) => setTimeout(cb, 16);

export async function streamAnswer(
  conversationId: string,
  content: string,
  signal: AbortSignal,
  setMessages: Dispatch<SetStateAction<UiMessage[]>>,
  t: Translate,
  model?: string,
  /** The message URL, when not the signed-in conversation's (the public bot page). */
  url?: string,
): Promise<TurnResult> {
  const userKey = localKey();
  const botKey = localKey();
  setMessages((list) => [...list, { key: userKey, role: "user", content, status: "complete" }]);

  let opened = false;
  const open = () => {
    if (opened) return;
    opened = true;
    setMessages((list) => [
      ...list,
      { key: botKey, role: "assistant", content: "", status: "streaming", ...(model ? { model } : {}) },
    ]);
  };
  let pending = "";
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (!pending) return;
    const text = pending;
    pending = "";
    setMessages((list) => updateByKey(list, botKey, (m) => ({ ...m, content: m.content + text })));
  };
  const end = (status: "interrupted" | "failed", why?: string) => {
    open();
    flush();
    setMessages((list) => updateByKey(list, botKey, (m) => ({ ...m, status, error: why })));
  };

  try {
    const outcome = await sendMessage(conversationId, content, {
      signal,
      url,
      onOpen: open,
      onDelta: (text) => {
        open();
        pending += text;
        if (!scheduled) {
          scheduled = true;
          frame(flush);
        }
      },
    });
    if (outcome.kind === "done") {
      open();
      flush();
      setMessages((list) => {
        const ended = updateByKey(list, botKey, (m) => ({ ...m, status: "complete" }));
        return settle(settle(ended, userKey, outcome.done.user_message), botKey, outcome.done.message);
      });
      const text = outcome.done.message?.content;
      return { kind: "done", text: typeof text === "string" ? text : "" };
    }
    if (outcome.kind === "error") {
      end("failed", t("errorAnswerFailed", { message: outcome.error.message || outcome.error.code }));
      return { kind: "failed" };
    }
    end("interrupted", t("errorStreamCut"));
    return { kind: "interrupted" };
  } catch (err) {
    if (isAbortError(err)) {
      // Stopped by the person: the server keeps the partial answer, marked interrupted.
      if (opened) end("interrupted");
      return { kind: "stopped" };
    }
    if (!opened && err instanceof ApiError && err.code !== NETWORK_ERROR) {
      setMessages((list) => list.filter((m) => m.key !== userKey));
      return { kind: "refused", error: err };
    }
    end("interrupted", err instanceof ApiError && err.code === NETWORK_ERROR && !opened ? t("errorNetwork") : t("errorStreamCut"));
    return { kind: "interrupted" };
  }
}
