/** Conversations, newest first and grouped by day, with search; slides in on narrow screens. */
import { useId } from "react";
import { useI18n } from "../i18n";
import type { MessageKey } from "../i18n";
import type { Conversation } from "../api/types";
import { groupByDate } from "../dates";
import type { DateGroup } from "../dates";
import { ConversationItem } from "./ConversationItem";

interface Props {
  conversations: Conversation[];
  total: number;
  query: string;
  onQuery: (q: string) => void;
  currentId: string | null;
  loading: boolean;
  open: boolean;
  onNew: () => void;
  onSelect: (id: string) => void;
  onRename: (conv: Conversation, title: string) => void;
  onDelete: (conv: Conversation) => void;
  onClose: () => void;
}

const GROUP_LABEL: Record<DateGroup, MessageKey> = {
  today: "groupToday",
  yesterday: "groupYesterday",
  week: "groupWeek",
  older: "groupOlder",
};

export function Sidebar(props: Props) {
  const { conversations, total, query, onQuery, currentId, loading, open, onClose } = props;
  const { t } = useI18n();
  const searchId = useId();
  const groups = groupByDate(conversations);
  return (
    <>
      <div className={`sidebar-backdrop${open ? " open" : ""}`} onClick={onClose} aria-hidden="true" />
      <nav
        className={`sidebar${open ? " open" : ""}`}
        aria-label={t("conversations")}
        data-testid="sidebar"
        onKeyDown={(e) => {
          if (e.key === "Escape" && open) onClose();
        }}
      >
        <button type="button" className="btn btn-new" data-testid="new-chat" onClick={props.onNew}>
          <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false">
            <path d="M11 5h2v6h6v2h-6v6h-2v-6H5v-2h6z" fill="currentColor" />
          </svg>
          {t("newChat")}
        </button>
        {total > 0 ? (
          <div className="sidebar-search">
            <label htmlFor={searchId} className="sr-only">
              {t("searchConversations")}
            </label>
            <input
              id={searchId}
              type="search"
              data-testid="conversation-search"
              placeholder={t("searchConversations")}
              value={query}
              onChange={(e) => onQuery(e.target.value)}
            />
          </div>
        ) : null}
        <h2 className="sr-only">{t("conversations")}</h2>
        {loading && total === 0 ? (
          <p className="muted sidebar-note">{t("loading")}</p>
        ) : total === 0 ? (
          <p className="muted sidebar-note">{t("noConversations")}</p>
        ) : conversations.length === 0 ? (
          <p className="muted sidebar-note" role="status">
            {t("noMatches", { query: query.trim() })}
          </p>
        ) : (
          groups.map(({ group, items }) => (
            <section key={group} className="conversation-group" aria-labelledby={`${searchId}-${group}`}>
              <h3 className="sidebar-title" id={`${searchId}-${group}`} data-testid="conversation-group">
                {t(GROUP_LABEL[group])}
              </h3>
              <ul className="conversation-list">
                {items.map((c) => (
                  <ConversationItem
                    key={c.id}
                    conv={c}
                    current={c.id === currentId}
                    onSelect={props.onSelect}
                    onRename={props.onRename}
                    onDelete={props.onDelete}
                  />
                ))}
              </ul>
            </section>
          ))
        )}
      </nav>
    </>
  );
}
