/**
 * The public bot page's read-only message list: the greeting first, then the questions and
 * answers. Answers (and the greeting) go through the Markdown component, never as HTML.
 * It follows a streaming answer to the bottom unless the visitor has scrolled up.
 */
import { memo, useEffect, useLayoutEffect, useRef } from "react";
import type { UiMessage } from "../chatState";
import { useI18n } from "../i18n";
import { Markdown } from "./Markdown";

const FOLLOW_SLACK = 80;

function PublicMessageView({ message }: { message: UiMessage }) {
  const { t } = useI18n();
  const isUser = message.role === "user";
  return (
    <article
      className={`message message-${message.role} status-${message.status}`}
      data-testid={isUser ? "public-question" : "public-answer"}
      data-status={message.status}
      aria-label={isUser ? t("you") : t("assistant")}
      aria-busy={message.status === "streaming" ? true : undefined}
    >
      <div className="message-body">
        {isUser ? (
          <div className="plain-text">{message.content}</div>
        ) : message.content ? (
          <Markdown text={message.content} />
        ) : message.status === "streaming" ? (
          <span className="thinking" role="img" aria-label={t("thinking")}>
            <span />
            <span />
            <span />
          </span>
        ) : null}
      </div>
      {message.status === "interrupted" || message.status === "failed" ? (
        <div className="message-status">{message.status === "interrupted" ? t("statusInterrupted") : t("statusFailed")}</div>
      ) : null}
      {message.error ? <div className="message-error">{message.error}</div> : null}
    </article>
  );
}

const PublicMessage = memo(PublicMessageView);

interface Props {
  greeting: string;
  messages: UiMessage[];
  loading: boolean;
}

export function PublicMessages({ greeting, messages, loading }: Props) {
  const { t } = useI18n();
  const ref = useRef<HTMLDivElement>(null);
  const follow = useRef(true);

  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const onScroll = () => {
      follow.current = el.scrollHeight - el.scrollTop - el.clientHeight < FOLLOW_SLACK;
    };
    el.addEventListener("scroll", onScroll, { passive: true });
    return () => el.removeEventListener("scroll", onScroll);
  }, []);

  const last = messages[messages.length - 1];
  const lastKey = last ? `${last.key}:${last.content.length}:${last.status}` : "";
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && follow.current) el.scrollTop = el.scrollHeight;
  }, [lastKey, messages.length]);

  return (
    <div
      ref={ref}
      className="messages public-messages"
      role="log"
      aria-live="off"
      aria-label={t("messages")}
      aria-busy={loading || undefined}
      data-testid="public-messages"
      tabIndex={0}
    >
      <div className="message-list">
        {greeting ? (
          <article className="message message-assistant public-greeting" data-testid="public-greeting" aria-label={t("assistant")}>
            <div className="message-body">
              <Markdown text={greeting} />
            </div>
          </article>
        ) : null}
        {loading ? <p className="muted center">{t("loading")}</p> : null}
        {messages.map((m) => (
          <PublicMessage key={m.key} message={m} />
        ))}
      </div>
    </div>
  );
}
