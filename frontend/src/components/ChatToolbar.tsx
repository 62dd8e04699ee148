/** Above the chat: the sidebar toggle (narrow screens), the title, the model, and the pins. */
import { useI18n } from "../i18n";
import type { ModelCatalog } from "../api/types";
import { ModelPicker } from "./ModelPicker";

interface Props {
  title: string;
  sidebarOpen: boolean;
  onToggleSidebar: () => void;
  catalog: ModelCatalog;
  model: string;
  onModel: (id: string) => void;
  streaming: boolean;
  /** Null when pins are not available (a new chat, or a server without them). */
  pins: { count: number; open: boolean; toggle: () => void } | null;
}

export function ChatToolbar({ title, sidebarOpen, onToggleSidebar, catalog, model, onModel, streaming, pins }: Props) {
  const { t } = useI18n();
  return (
    <div className="chat-toolbar">
      <button
        type="button"
        className="sidebar-toggle"
        data-testid="sidebar-toggle"
        aria-label={sidebarOpen ? t("hideSidebar") : t("showSidebar")}
        aria-expanded={sidebarOpen}
        onClick={onToggleSidebar}
      >
        <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
          <path d="M3 6h18v2H3zm0 5h18v2H3zm0 5h18v2H3z" fill="currentColor" />
        </svg>
      </button>
      <h1 className="chat-title" data-testid="chat-title">
        {title}
      </h1>
      <ModelPicker models={catalog.models} value={model} onChange={onModel} disabled={streaming} />
      {pins ? (
        <button
          type="button"
          className="btn btn-small pins-toggle"
          data-testid="pins-toggle"
          aria-expanded={pins.open}
          title={pins.open ? t("hidePins") : t("showPins")}
          onClick={pins.toggle}
        >
          {t("pins")}
          <span className="count" data-testid="pins-count">
            {pins.count}
          </span>
        </button>
      ) : null}
    </div>
  );
}
