/**
 * One message. Finished messages are memoised (their props do not change while another
 * answer streams), so a long conversation re-renders only the answer being written.
 */
import { memo, useId, useState } from "react";
import type { KeyboardEvent } from "react";
import { useI18n } from "../i18n";
import { Markdown } from "./Markdown";
import type { UiMessage } from "../chatState";
import { CopyButton } from "./CopyButton";
import { useRoleName } from "../roleNames";

export interface MessageActions {
  /** Sends edited text in place of `message`: it and every message after it are replaced. */
  edit: (message: UiMessage, text: string) => void;
  /** Asks the last question again: the last answer is replaced by a new one. */
  regenerate: () => void;
  /** Pins the whole message, or an excerpt of it. */
  pin: (message: UiMessage, excerpt?: string) => void;
}

interface Props {
  message: UiMessage;
  /** The conversation's latest answer: it offers Regenerate (or Retry when it failed). */
  last: boolean;
  /** An answer is streaming: nothing that sends is offered. */
  busy: boolean;
  pinsEnabled: boolean;
  pinned: boolean;
  /** Text the person has selected inside this message. */
  selection: string | null;
  actions: MessageActions;
}

function MessageView({ message, last, busy, pinsEnabled, pinned, selection, actions }: Props) {
  const { t } = useI18n();
  const editId = useId();
  const [editing, setEditing] = useState<string | null>(null);
  const isUser = message.role === "user";
  const roleName = useRoleName(isUser ? undefined : message.roleId);
  const status = message.status;
  const settled = status !== "streaming";

  const sendEdit = () => {
    const text = (editing ?? "").trim();
    if (!text || busy) return;
    setEditing(null);
    actions.edit(message, text);
  };
  const onEditKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      setEditing(null);
    } else if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      sendEdit();
    }
  };

  return (
    <article
      className={`message message-${message.role} status-${status}`}
      data-testid={isUser ? "message-user" : "message-assistant"}
      data-status={status}
      data-key={message.key}
      aria-label={isUser ? t("you") : t("assistant")}
      aria-busy={status === "streaming" ? true : undefined}
    >
      {editing !== null ? (
        <div className="message-edit">
          <label htmlFor={editId} className="sr-only">
            {t("editLabel")}
          </label>
          <textarea
            id={editId}
            data-testid="edit-input"
            value={editing}
            rows={Math.min(10, Math.max(2, editing.split("\n").length))}
            onChange={(e) => setEditing(e.target.value)}
            onKeyDown={onEditKey}
            autoFocus
          />
          <div className="message-edit-actions">
            <button type="button" className="btn btn-small" onClick={() => setEditing(null)}>
              {t("cancel")}
            </button>
            <button
              type="button"
              className="btn btn-small btn-primary"
              data-testid="edit-send"
              disabled={busy || !editing.trim()}
              onClick={sendEdit}
            >
              {t("sendEdited")}
            </button>
          </div>
        </div>
      ) : (
        <div className="message-body" data-testid="message-body">
          {isUser ? (
            <div className="plain-text">{message.content}</div>
          ) : message.content ? (
            <Markdown text={message.content} />
          ) : status === "streaming" ? (
            <span className="thinking" role="img" aria-label={t("thinking")}>
              <span />
              <span />
              <span />
            </span>
          ) : null}
        </div>
      )}
      {status === "interrupted" || status === "failed" ? (
        <div className="message-status">{status === "interrupted" ? t("statusInterrupted") : t("statusFailed")}</div>
      ) : null}
      {message.error ? <div className="message-error">{message.error}</div> : null}
      {settled && editing === null ? (
        <div className="message-actions" role="group" aria-label={t("messageActions")}>
          {roleName ? (
            <span className="message-model" data-testid="message-role-label">
              {roleName}
            </span>
          ) : null}
          {!isUser && message.model ? (
            <span className="message-model" title={t("answeredBy", { model: message.model })} data-testid="message-model">
              {message.model}
            </span>
          ) : null}
          {message.content ? <CopyButton text={message.content} label={t("copyMessage")} testId="copy-message" /> : null}
          {isUser && !busy ? (
            <button type="button" className="icon-btn" data-testid="edit-message" onClick={() => setEditing(message.content)}>
              {t("editMessage")}
            </button>
          ) : null}
          {!isUser && last && !busy ? (
            <button
              type="button"
              className="icon-btn"
              data-testid="regenerate"
              title={t("regenerateHint")}
              onClick={actions.regenerate}
            >
              {status === "complete" ? t("regenerate") : t("retry")}
            </button>
          ) : null}
          {pinsEnabled && message.id && message.content ? (
            <button
              type="button"
              className="icon-btn"
              data-testid="pin-message"
              aria-pressed={pinned}
              title={t("pinMessage")}
              disabled={pinned}
              onClick={() => actions.pin(message)}
            >
              {pinned ? t("pinned") : t("pin")}
            </button>
          ) : null}
          {pinsEnabled && message.id && selection ? (
            <button
              type="button"
              className="icon-btn icon-btn-accent"
              data-testid="pin-selection"
              onMouseDown={(e) => e.preventDefault() /* keep the selection */}
              onClick={() => actions.pin(message, selection)}
            >
              {t("pinSelection")}
            </button>
          ) : null}
        </div>
      ) : null}
    </article>
  );
}

export const Message = memo(MessageView);
