/**
 * Sends one user message and streams the answer into the message list: the user's bubble
 * at once, the assistant's bubble as soon as the stream opens, deltas appended once per
 * animation frame (however fast they arrive), then the stored copies from the `done` event
 * (or a status when it ends early).
 *
 * With `replaces` (a user message's server id: edit and resend, regenerate), that message and
 * every one after it leave the list at once and the new question takes their place; if the
 * server refuses the request, nothing was removed there and the previous list comes back.
 */
import type { Dispatch, SetStateAction } from "react";
import { sendMessage } from "./api/client";
import { ApiError, NETWORK_ERROR, isAbortError } from "./api/errors";
import { localKey, settle, updateByKey } from "./chatState";
import type { UiMessage } from "./chatState";
import type { Translate } from "./i18n";

export type TurnResult =
  /** Refused before any streaming: nothing was stored (or removed); the list is as it was before. */
  | { kind: "refused"; error: ApiError }
  | { kind: "done"; text: string }
  | { kind: "failed" | "interrupted" | "stopped" };

const frame: (cb: () => void) => void =
  typeof requestAnimationFrame === "function" ? (cb) => requestAnimationFrame(cb) : (cb) => setTimeout(cb, 16);

export interface StreamOptions {
  /** The model expected to answer, shown on the answer while it streams. */
  model?: string;
  /** The message URL, when not the signed-in conversation's (the public bot page). */
  url?: string;
  /** The server id of the user message this one replaces, with everything after it. */
  replaces?: string;
  /** That message's key in the list, when it is shown without its server id. */
  replacesKey?: string;
}

export async function streamAnswer(
  conversationId: string,
  content: string,
  signal: AbortSignal,
  setMessages: Dispatch<SetStateAction<UiMessage[]>>,
  t: Translate,
  { model, url, replaces, replacesKey }: StreamOptions = {},
): Promise<TurnResult> {
  const userKey = localKey();
  const botKey = localKey();
  let previous: UiMessage[] | null = null; // the list before a replacement, to restore on refusal
  setMessages((list) => {
    const at = replaces ? list.findIndex((m) => m.id === replaces || (replacesKey && m.key === replacesKey)) : -1;
    if (at >= 0) previous = list;
    return [...(at >= 0 ? list.slice(0, at) : list), { key: userKey, role: "user", content, status: "complete" }];
  });

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
      replaces,
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
      // Updaters run in order: `previous` is set by the time this one runs.
      setMessages((list) => previous ?? list.filter((m) => m.key !== userKey));
      return { kind: "refused", error: err };
    }
    end("interrupted", err instanceof ApiError && err.code === NETWORK_ERROR && !opened ? t("errorNetwork") : t("errorStreamCut"));
    return { kind: "interrupted" };
  }
}
