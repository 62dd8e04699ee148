/** What a message's buttons do: edit and resend, regenerate, pin (the whole or a selection). */
import { useMemo, useRef } from "react";
import type { NewPin, Pin } from "../api/types";
import type { UiMessage } from "../chatState";
import type { MessageActions } from "../components/Message";
import { useI18n } from "../i18n";

/** A turn; with `replacing`, that user message and everything after it give way to `content`. */
type Turn = (content: string, fromComposer: boolean, replacing?: UiMessage) => Promise<void>;

export function useMessageActions(
  turn: Turn,
  messages: UiMessage[],
  addPin: (pin: NewPin) => Promise<boolean>,
  announce: (text: string) => void,
): MessageActions {
  const { t } = useI18n();
  const latest = useRef({ turn, messages, addPin, announce });
  latest.current = { turn, messages, addPin, announce };
  // Stable for the whole conversation, so memoised messages are not re-rendered by it.
  return useMemo<MessageActions>(
    () => ({
      edit: (message, text) => void latest.current.turn(text, false, message),
      // The same question again, in place of itself: the last exchange is replaced, not repeated.
      regenerate: () => {
        const lastUser = [...latest.current.messages].reverse().find((m) => m.role === "user");
        if (lastUser) void latest.current.turn(lastUser.content, false, lastUser);
      },
      pin: (message, excerpt) => {
        if (!message.id) return;
        const body: NewPin =
          excerpt === undefined
            ? { message_id: message.id }
            : message.content.includes(excerpt)
              ? { message_id: message.id, text: excerpt }
              : { text: excerpt }; // rendered Markdown differs from its source: kept as a note
        void latest.current.addPin(body).then((ok) => {
          if (ok) latest.current.announce(t("pinAdded"));
        });
      },
    }),
    [t],
  );
}

/** Messages pinned whole (a pin naming the message with no excerpt, or all of its text). */
export function usePinnedIds(pins: Pin[], messages: UiMessage[]): ReadonlySet<string> {
  return useMemo(() => {
    const content = new Map(messages.map((m) => [m.id, m.content]));
    return new Set(
      pins
        .filter((p) => p.message_id && (!p.text || p.text === content.get(p.message_id)))
        .map((p) => p.message_id as string),
    );
  }, [pins, messages]);
}
