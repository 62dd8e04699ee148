/** One conversation in the sidebar: open it, rename it in place, delete it after confirming. */
import { useEffect, useRef, useState } from "react";
import type { KeyboardEvent } from "react";
import { useI18n } from "../i18n";
import type { Conversation } from "../api/types";

interface Props {
  conv: Conversation;
  current: boolean;
  onSelect: (id: string) => void;
  onRename: (conv: Conversation, title: string) => void;
  onDelete: (conv: Conversation) => void;
}

function Icon({ d }: { d: string }) {
  return (
    <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false">
      <path d={d} fill="currentColor" />
    </svg>
  );
}
const PENCIL = "M4 17.2V20h2.8l8.3-8.3-2.8-2.8L4 17.2zm13.7-7.6a1 1 0 0 0 0-1.4l-1.9-1.9a1 1 0 0 0-1.4 0l-1.3 1.3 2.8 2.8 1.8-.8z";
const TRASH = "M9 3h6l1 2h4v2H4V5h4l1-2zm-3 6h12l-1 12H7L6 9zm4 2v8h2v-8h-2zm4 0v8h2v-8h-2z";

export function ConversationItem({ conv, current, onSelect, onRename, onDelete }: Props) {
  const { t } = useI18n();
  const title = conv.title || t("untitled");
  const [mode, setMode] = useState<"view" | "rename" | "confirm">("view");
  const [draft, setDraft] = useState(title);
  const input = useRef<HTMLInputElement>(null);
  const confirmBtn = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (mode === "rename") input.current?.select();
    if (mode === "confirm") confirmBtn.current?.focus();
  }, [mode]);

  const commit = () => {
    const next = draft.trim();
    setMode("view");
    if (next && next !== conv.title) onRename(conv, next);
  };
  const onKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === "Enter") {
      e.preventDefault();
      commit();
    } else if (e.key === "Escape") {
      e.preventDefault();
      setMode("view");
    }
  };

  return (
    <li className={`conversation-item${current ? " current" : ""}`} data-testid="conversation-item" data-id={conv.id}>
      {mode === "rename" ? (
        <input
          ref={input}
          className="conversation-rename"
          data-testid="rename-input"
          aria-label={t("newTitle")}
          value={draft}
          maxLength={200}
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={onKey}
          onBlur={commit}
        />
      ) : mode === "confirm" ? (
        <div className="conversation-confirm" role="group" aria-label={t("confirmDeleteShort")}>
          <span>{t("confirmDeleteShort")}</span>
          <button
            ref={confirmBtn}
            type="button"
            className="btn btn-small btn-danger"
            data-testid="confirm-delete"
            onClick={() => {
              setMode("view");
              onDelete(conv);
            }}
          >
            {t("delete")}
          </button>
          <button type="button" className="btn btn-small" onClick={() => setMode("view")}>
            {t("cancel")}
          </button>
        </div>
      ) : (
        <>
          <button
            type="button"
            className="conversation-open"
            aria-current={current ? "page" : undefined}
            title={title}
            onClick={() => onSelect(conv.id)}
          >
            {title}
          </button>
          <button
            type="button"
            className="conversation-action"
            data-testid="conversation-rename"
            aria-label={`${t("renameConversation")}: ${title}`}
            title={t("renameConversation")}
            onClick={() => {
              setDraft(title);
              setMode("rename");
            }}
          >
            <Icon d={PENCIL} />
          </button>
          <button
            type="button"
            className="conversation-action conversation-delete"
            data-testid="conversation-delete"
            aria-label={`${t("deleteConversation")}: ${title}`}
            title={t("deleteConversation")}
            onClick={() => setMode("confirm")}
          >
            <Icon d={TRASH} />
          </button>
        </>
      )}
    </li>
  );
}
