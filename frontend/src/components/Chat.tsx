/**
 * The signed-in screen. Chat owns the state: the open conversation, its role and model, the
 * messages and the answer being streamed (the list lives in useConversations, pins in usePins).
 */
import { useCallback, useEffect, useRef, useState } from "react";
import { api } from "../api/client";
import { ApiError } from "../api/errors";
import { streamAnswer } from "../answerStream";
import type { Conversation, ModelCatalog } from "../api/types";
import { fromServer, serverIdOf } from "../chatState";
import type { UiMessage } from "../chatState";
import { describeError } from "../errorText";
import { useConversationSettings } from "../hooks/useConversationSettings";
import { useConversations } from "../hooks/useConversations";
import { useMessageActions, usePinnedIds } from "../hooks/useMessageActions";
import { usePins } from "../hooks/usePins";
import { useI18n } from "../i18n";
import { ChatToolbar } from "./ChatToolbar";
import { Composer } from "./Composer";
import { ErrorBanner } from "./ErrorBanner";
import type { Banner } from "./ErrorBanner";
import { Messages } from "./Messages";
import { PinsPanel } from "./PinsPanel";
import { RolePanel } from "./RolePanel";
import { useRoles } from "../hooks/useRoles";
import { useRoleChoice } from "../hooks/useRoleChoice";
import { RoleNamesContext } from "../roleNames";
import { Sidebar } from "./Sidebar";

interface Props {
  /** An API call answered 401: the session is gone. */
  onAuthLost: () => void;
}

export function Chat({ onAuthLost }: Props) {
  const { t, lang } = useI18n();
  const [catalog, setCatalog] = useState<ModelCatalog>({ models: [], default: "" });
  const [current, setCurrentState] = useState<Conversation | null>(null);
  const [messages, setMessages] = useState<UiMessage[]>([]);
  const [convLoading, setConvLoading] = useState(false);
  const [viewKey, setViewKey] = useState(0);
  const [draft, setDraft] = useState("");
  const [streaming, setStreaming] = useState(false);
  const [banner, setBanner] = useState<Banner | null>(null);
  const [announcement, setAnnouncement] = useState("");
  const [sidebarOpen, setSidebarOpen] = useState(false);
  const [pinsOpen, setPinsOpen] = useState(false);
  const abortRef = useRef<AbortController | null>(null);
  const currentRef = useRef<Conversation | null>(null);
  const loadSeq = useRef(0);

  const setCurrent = useCallback((conv: Conversation | null) => {
    currentRef.current = conv;
    setCurrentState(conv);
  }, []);
  const isCurrent = (id: string) => currentRef.current?.id === id;

  const outer = useRef({ t, onAuthLost });
  outer.current = { t, onAuthLost };
  // Stable, so hooks that report through it do not reload on a language switch.
  const fail = useCallback((err: unknown, retry?: () => void) => {
    if (err instanceof ApiError && err.status === 401) return outer.current.onAuthLost();
    const problem = describeError(err, outer.current.t);
    setBanner({ text: problem.text, retryAfter: problem.retryAfter, retry: problem.retryable ? retry : undefined });
  }, []);
  const failQuietly = useCallback((err: unknown) => fail(err), [fail]);

  const list = useConversations(failQuietly, t("untitled"));
  const pins = usePins(current?.id ?? null, failQuietly);
  const roles = useRoles(failQuietly, lang);
  const settings = useConversationSettings(currentRef, { upsert: list.upsert, setCurrent }, failQuietly);
  const { instructions, model, setModel } = settings;
  const role = useRoleChoice(currentRef, { upsert: list.upsert, setCurrent, setModel }, failQuietly);

  const refreshList = useCallback(async () => {
    const fresh = await list.refresh();
    const open = fresh && currentRef.current && fresh.find((c) => c.id === currentRef.current?.id);
    if (open) setCurrent(open);
  }, [list, setCurrent]);

  useEffect(() => {
    void list.refresh();
    api.models().then((cat) => {
      setCatalog({ models: Array.isArray(cat.models) ? cat.models : [], default: cat.default ?? "" });
      setModel((m) => m || cat.default || cat.models?.[0]?.id || "");
    }, failQuietly);
    return () => abortRef.current?.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const stop = useCallback(() => abortRef.current?.abort(), []);

  useEffect(() => {
    if (!streaming) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") stop();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [streaming, stop]);

  const reset = (conv: Conversation | null) => {
    stop();
    loadSeq.current += 1;
    setCurrent(conv);
    setMessages([]);
    settings.show(conv, catalog.default || catalog.models[0]?.id || "");
    role.setRoleId(conv?.role_id ?? "");
    setBanner(null);
    setViewKey((k) => k + 1);
    setSidebarOpen(false);
  };

  const newChat = () => {
    reset(null);
    setConvLoading(false);
  };

  const select = async (id: string) => {
    setSidebarOpen(false);
    if (isCurrent(id) && !convLoading) return;
    reset(list.conversations.find((c) => c.id === id) ?? null);
    const seq = loadSeq.current;
    setConvLoading(true);
    try {
      const { messages: stored, ...conv } = await api.getConversation(id);
      if (seq !== loadSeq.current) return;
      setCurrent(conv);
      settings.show(conv);
      role.setRoleId(conv.role_id ?? "");
      setMessages((stored ?? []).map(fromServer));
    } catch (err) {
      if (seq !== loadSeq.current) return;
      if (err instanceof ApiError && err.status === 404) list.drop(id);
      fail(err, () => void select(id));
    } finally {
      if (seq === loadSeq.current) setConvLoading(false);
    }
  };

  const rename = async (conv: Conversation, title: string) => {
    const updated = await list.rename(conv, title);
    if (updated && isCurrent(updated.id)) setCurrent(updated);
  };

  const remove = async (conv: Conversation) => {
    if (!(await list.remove(conv))) return;
    setAnnouncement(t("conversationDeleted"));
    if (isCurrent(conv.id)) newChat();
  };

  /**
   * One turn: `content` as a new user message, and its streamed answer. With `replacing` (edit
   * and resend, regenerate), that user message and everything after it give way to it.
   */
  const turn = async (content: string, fromComposer: boolean, replacing?: UiMessage) => {
    if (!content || abortRef.current) return;
    const controller = new AbortController();
    const seq = loadSeq.current;
    abortRef.current = controller;
    setStreaming(true);
    setBanner(null);
    const again = () => void turn(content, fromComposer, replacing);
    try {
      let conv = currentRef.current;
      try {
        if (!conv) {
          conv = await api.createConversation({
            ...(instructions.trim() ? { instructions } : {}),
            ...(role.roleId ? { role_id: role.roleId } : {}),
            ...(model ? { model } : {}),
          });
          list.upsert(conv);
          if (seq !== loadSeq.current) return; // another chat was opened meanwhile
          setCurrent(conv);
          if (conv.model) setModel(conv.model);
        } else if (instructions !== (conv.instructions ?? "") && !role.roleId) {
          conv = await api.updateConversation(conv.id, { instructions });
          setCurrent(conv);
        }
      } catch (err) {
        return fail(err, again);
      }
      let replaces = replacing?.id;
      if (replacing && !replaces) {
        // Its answer ended without the server's copies: learn its id (else it is asked anew).
        try {
          replaces = serverIdOf(messages, replacing.key, (await api.getConversation(conv.id)).messages ?? []);
        } catch (err) {
          return fail(err, again);
        }
      }
      if (controller.signal.aborted) return;
      if (fromComposer) setDraft((d) => (d.trim() === content ? "" : d));
      const result = await streamAnswer(conv.id, content, controller.signal, setMessages, t, {
        model: conv.model || model,
        ...(replaces ? { replaces, replacesKey: replacing?.key } : {}),
      });
      if (result.kind === "refused") {
        // Nothing was stored: the text goes back to the composer.
        if (fromComposer && isCurrent(conv.id)) setDraft((d) => d || content);
        fail(result.error, again);
      } else if (result.kind === "done") {
        setAnnouncement(t("newAnswer", { text: result.text.slice(0, 400) }));
      } else if (result.kind === "stopped") {
        setAnnouncement(t("answerStopped"));
      }
      void refreshList();
      void pins.refreshContext();
    } finally {
      if (abortRef.current === controller) abortRef.current = null;
      setStreaming(false);
    }
  };

  const actions = useMessageActions(turn, messages, pins.add, setAnnouncement);
  const pinnedIds = usePinnedIds(pins.pins, messages);
  const persisted = current !== null;
  const dirty = persisted && instructions !== (current?.instructions ?? "");
  const showPins = pinsOpen && pins.supported && persisted;

  return (
    <div className={`workspace${showPins ? " with-pins" : ""}`}>
      <Sidebar
        conversations={list.visible}
        total={list.conversations.length}
        query={list.query}
        onQuery={list.setQuery}
        currentId={current?.id ?? null}
        loading={list.loading}
        open={sidebarOpen}
        onNew={newChat}
        onSelect={(id) => void select(id)}
        onRename={(c, title) => void rename(c, title)}
        onDelete={(c) => void remove(c)}
        onClose={() => setSidebarOpen(false)}
      />
      <main className="chat-pane">
        <ChatToolbar
          title={current ? current.title || t("untitled") : t("newChat")}
          sidebarOpen={sidebarOpen}
          onToggleSidebar={() => setSidebarOpen((o) => !o)}
          catalog={catalog}
          model={model}
          onModel={(id) => void settings.changeModel(id)}
          streaming={streaming}
          pins={pins.supported && persisted ? { count: pins.pins.length, open: pinsOpen, toggle: () => setPinsOpen((o) => !o) } : null}
        />
        <RolePanel
          roles={roles}
          models={catalog.models}
          roleId={role.roleId}
          onRole={(id) => void role.choose(id)}
          instructions={instructions}
          onInstructions={settings.editInstructions}
          onSave={() => void settings.saveInstructions()}
          persisted={persisted}
          dirty={dirty}
          saveState={settings.saveState}
        />
        {banner ? <ErrorBanner banner={banner} onDismiss={() => setBanner(null)} /> : null}
        <RoleNamesContext.Provider value={roles.names}>
          <Messages
            key={viewKey}
            messages={messages}
            loading={convLoading}
            busy={streaming}
            pinsEnabled={pins.supported && persisted}
            pinnedIds={pinnedIds}
            actions={actions}
          />
        </RoleNamesContext.Provider>
        <Composer value={draft} onChange={setDraft} onSend={() => void turn(draft.trim(), true)} onStop={stop} streaming={streaming} />
        <div className="sr-only" role="status" aria-live="polite" data-testid="announcer">
          {announcement}
        </div>
      </main>
      {showPins ? (
        <PinsPanel
          pins={pins.pins}
          context={pins.context}
          canAdd={persisted}
          onAddNote={(text) => pins.add({ text })}
          onUnpin={(p) => void pins.remove(p.id).then((ok) => ok && setAnnouncement(t("pinRemoved")))}
          onClose={() => setPinsOpen(false)}
        />
      ) : null}
    </div>
  );
}
