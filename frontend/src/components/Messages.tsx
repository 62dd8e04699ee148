/**
 * The message list. It follows a streaming answer to the bottom unless the person scrolls
 * up; then it stays put and offers "Jump to latest". Text selected inside one message can be
 * pinned from that message's actions.
 */
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import { useI18n } from "../i18n";
import { Message } from "./Message";
import type { MessageActions } from "./Message";
import type { UiMessage } from "../chatState";

/** How close to the bottom (px) still counts as "following" the answer. */
const FOLLOW_SLACK = 80;

interface Props {
  messages: UiMessage[];
  loading: boolean;
  busy: boolean;
  pinsEnabled: boolean;
  pinnedIds: ReadonlySet<string>;
  actions: MessageActions;
}

function selectionIn(root: HTMLElement): { key: string; text: string } | null {
  const sel = document.getSelection();
  if (!sel || sel.isCollapsed || sel.rangeCount === 0) return null;
  const text = sel.toString().trim();
  if (!text) return null;
  const range = sel.getRangeAt(0);
  const start = range.startContainer instanceof Element ? range.startContainer : range.startContainer.parentElement;
  const end = range.endContainer instanceof Element ? range.endContainer : range.endContainer.parentElement;
  const body = start?.closest("[data-testid='message-body']");
  if (!body || !root.contains(body) || !end || !body.contains(end)) return null;
  const key = body.closest("article")?.getAttribute("data-key");
  return key ? { key, text } : null;
}

export function Messages({ messages, loading, busy, pinsEnabled, pinnedIds, actions }: Props) {
  const { t } = useI18n();
  const ref = useRef<HTMLDivElement>(null);
  const follow = useRef(true);
  const [away, setAway] = useState(false);
  const [selection, setSelection] = useState<{ key: string; text: string } | null>(null);

  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const onScroll = () => {
      follow.current = el.scrollHeight - el.scrollTop - el.clientHeight < FOLLOW_SLACK;
      setAway(!follow.current);
    };
    el.addEventListener("scroll", onScroll, { passive: true });
    return () => el.removeEventListener("scroll", onScroll);
  }, []);

  useEffect(() => {
    if (!pinsEnabled) return;
    const onChange = () => {
      const el = ref.current;
      const next = el ? selectionIn(el) : null;
      setSelection((prev) => (prev?.key === next?.key && prev?.text === next?.text ? prev : next));
    };
    document.addEventListener("selectionchange", onChange);
    return () => document.removeEventListener("selectionchange", onChange);
  }, [pinsEnabled]);

  const last = messages[messages.length - 1];
  const lastKey = last ? `${last.key}:${last.content.length}:${last.status}` : "";
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && follow.current) el.scrollTop = el.scrollHeight;
  }, [lastKey, messages.length]);

  const jump = useCallback(() => {
    const el = ref.current;
    if (!el) return;
    follow.current = true;
    setAway(false);
    el.scrollTop = el.scrollHeight;
  }, []);

  let lastAnswer = -1;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role === "assistant") {
      lastAnswer = i;
      break;
    }
  }

  return (
    <div className="messages-frame">
      <div
        ref={ref}
        className="messages"
        role="log"
        aria-live="off"
        aria-label={t("messages")}
        aria-busy={loading || undefined}
        data-testid="messages"
        tabIndex={0}
      >
        {loading ? (
          <p className="muted center">{t("loading")}</p>
        ) : messages.length === 0 ? (
          <div className="empty-chat">
            <h2>{t("emptyChatTitle")}</h2>
            <p>{t("emptyChat")}</p>
          </div>
        ) : (
          <div className="message-list">
            {messages.map((m, i) => (
              <Message
                key={m.key}
                message={m}
                last={i === lastAnswer}
                busy={busy}
                pinsEnabled={pinsEnabled}
                pinned={m.id ? pinnedIds.has(m.id) : false}
                selection={selection?.key === m.key ? selection.text : null}
                actions={actions}
              />
            ))}
          </div>
        )}
      </div>
      {away && messages.length > 0 ? (
        <button type="button" className="btn btn-small jump-latest" data-testid="jump-latest" onClick={jump}>
          ↓ {t("jumpToLatest")}
        </button>
      ) : null}
    </div>
  );
}
