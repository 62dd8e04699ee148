/**
 * The public page of a published bot (`/b/{slug}`): no sign-in, no sidebar. The page owns its
 * state: the bot, the conversation (created on the first question and kept in sessionStorage
 * so a reload resumes it), the messages and the answer being streamed.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError } from "../api/errors";
import { publicApi, savedConversation } from "../api/publicBots";
import type { PublicBot } from "../api/publicBots";
import { streamAnswer } from "../answerStream";
import { fromServer } from "../chatState";
import type { UiMessage } from "../chatState";
import { describeError } from "../errorText";
import { useI18n } from "../i18n";
import { Composer } from "./Composer";
import { ErrorBanner } from "./ErrorBanner";
import type { Banner } from "./ErrorBanner";
import { HeaderControls } from "./HeaderControls";
import { PublicMessages } from "./PublicMessages";

type Page =
  | { kind: "loading" }
  | { kind: "missing" }
  | { kind: "error"; message: string }
  | { kind: "ready"; bot: PublicBot };

/** A calm notice rather than an error: the bot's daily budget is spent, or the visitor is too fast. */
type Notice = { kind: "budget" } | { kind: "rate"; seconds: number };

export function PublicBotPage({ slug }: { slug: string }) {
  const { t } = useI18n();
  const [page, setPage] = useState<Page>({ kind: "loading" });
  const [messages, setMessages] = useState<UiMessage[]>([]);
  const [resuming, setResuming] = useState(false);
  const [draft, setDraft] = useState("");
  const [streaming, setStreaming] = useState(false);
  const [notice, setNotice] = useState<Notice | null>(null);
  const [banner, setBanner] = useState<Banner | null>(null);
  const [announcement, setAnnouncement] = useState("");
  const abortRef = useRef<AbortController | null>(null);
  const convRef = useRef<string | null>(savedConversation.get(slug));

  const load = useCallback(async () => {
    setPage({ kind: "loading" });
    setBanner(null);
    let bot: PublicBot;
    try {
      bot = await publicApi.bot(slug);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) setPage({ kind: "missing" });
      else setPage({ kind: "error", message: describeError(err, t).text });
      return;
    }
    setPage({ kind: "ready", bot });
    const saved = convRef.current;
    if (!saved) return;
    setResuming(true);
    try {
      const conv = await publicApi.conversation(slug, saved);
      if (convRef.current === saved) setMessages(conv.messages.map(fromServer));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        convRef.current = null;
        savedConversation.set(slug, null);
      } else {
        setBanner({ text: describeError(err, t).text, retry: () => void load() });
      }
    } finally {
      setResuming(false);
    }
    // `t` only shapes error text; a language switch does not reload the page.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [slug]);

  useEffect(() => {
    void load();
    return () => abortRef.current?.abort();
  }, [load]);

  const stop = useCallback(() => abortRef.current?.abort(), []);
  useEffect(() => {
    if (!streaming) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") stop();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [streaming, stop]);

  // The rate-limit notice counts down, then goes away by itself.
  const waiting = notice?.kind === "rate" && notice.seconds > 0;
  useEffect(() => {
    if (!waiting) return;
    const timer = window.setInterval(() => {
      setNotice((n) => (n?.kind !== "rate" ? n : n.seconds <= 1 ? null : { kind: "rate", seconds: n.seconds - 1 }));
    }, 1000);
    return () => window.clearInterval(timer);
  }, [waiting]);

  /** A refusal before any answer: a notice for limits, otherwise a banner (with Retry when it can help). */
  const refused = (err: unknown, retry: () => void) => {
    if (err instanceof ApiError && err.status === 429) {
      if (err.code === "bot_budget_exhausted") setNotice({ kind: "budget" });
      else setNotice({ kind: "rate", seconds: err.retryAfter ?? 0 });
      return;
    }
    const problem = describeError(err, t);
    setBanner({ text: problem.text, retryAfter: problem.retryAfter, retry: problem.retryable ? retry : undefined });
  };

  const budgetSpent = notice?.kind === "budget";

  const turn = async (content: string) => {
    if (!content || abortRef.current || budgetSpent) return;
    const controller = new AbortController();
    abortRef.current = controller;
    setStreaming(true);
    setBanner(null);
    setNotice(null);
    const again = () => void turn(content);
    try {
      let id = convRef.current;
      if (!id) {
        try {
          id = (await publicApi.createConversation(slug)).id;
        } catch (err) {
          return refused(err, again);
        }
        convRef.current = id;
        savedConversation.set(slug, id);
      }
      if (controller.signal.aborted) return;
      setDraft((d) => (d.trim() === content ? "" : d));
      const result = await streamAnswer(id, content, controller.signal, setMessages, t, { url: publicApi.messagesUrl(slug, id) });
      if (result.kind === "refused") {
        if (result.error.status === 404 && convRef.current === id) {
          // The conversation is gone (expired): the next question starts a new one.
          convRef.current = null;
          savedConversation.set(slug, null);
        }
        if (result.error.code !== "bot_budget_exhausted") setDraft((d) => d || content);
        refused(result.error, again);
      } else if (result.kind === "done") {
        setAnnouncement(t("newAnswer", { text: result.text.slice(0, 400) }));
      } else if (result.kind === "stopped") {
        setAnnouncement(t("answerStopped"));
      } else {
        setBanner({ text: t("publicAnswerMissing"), retry: again });
      }
    } finally {
      if (abortRef.current === controller) abortRef.current = null;
      setStreaming(false);
    }
  };

  if (page.kind !== "ready") {
    return (
      <div className="app public-page" data-testid="public-bot-page">
        <PublicHeader title={t("appName")} />
        <main className="center-page">
          {page.kind === "loading" ? (
            <p className="muted">{t("loading")}</p>
          ) : page.kind === "missing" ? (
            <div className="card" data-testid="public-not-found">
              <h1>{t("publicNotFoundTitle")}</h1>
              <p>{t("publicNotFound")}</p>
            </div>
          ) : (
            <div className="card" role="alert">
              <p>{page.message}</p>
              <button type="button" className="btn btn-primary" data-testid="public-reload" onClick={() => void load()}>
                {t("retry")}
              </button>
            </div>
          )}
        </main>
        <PublicFooter />
      </div>
    );
  }

  const { bot } = page;
  const showSuggestions = bot.suggestions.length > 0 && messages.length === 0 && !resuming;
  return (
    <div className="app public-page" data-testid="public-bot-page">
      <PublicHeader title={bot.name} heading />
      <main className="chat-pane public-pane">
        <PublicMessages greeting={bot.greeting} messages={messages} loading={resuming} />
        {showSuggestions ? (
          <ul className="public-suggestions" aria-label={t("publicSuggestions")}>
            {bot.suggestions.map((s, i) => (
              <li key={`${i}:${s}`}>
                <button
                  type="button"
                  className="btn public-suggestion"
                  data-testid="public-suggestion"
                  disabled={streaming || budgetSpent || waiting}
                  onClick={() => void turn(s.trim())}
                >
                  {s}
                </button>
              </li>
            ))}
          </ul>
        ) : null}
        {notice ? (
          <div className={`public-notice public-notice-${notice.kind}`} role="status" data-testid="public-notice">
            {notice.kind === "budget"
              ? t("publicBudgetExhausted")
              : notice.seconds > 0
                ? t("publicTooFast", { seconds: String(notice.seconds) })
                : t("publicTooFastSoon")}
          </div>
        ) : null}
        {banner ? <ErrorBanner banner={banner} onDismiss={() => setBanner(null)} /> : null}
        <Composer
          value={draft}
          onChange={setDraft}
          onSend={() => void turn(draft.trim())}
          onStop={stop}
          streaming={streaming}
          disabled={budgetSpent || waiting}
          placeholder={t("publicComposerPlaceholder")}
          testIds={{ input: "public-composer", send: "public-send" }}
        />
        <div className="sr-only" role="status" aria-live="polite" data-testid="announcer">
          {announcement}
        </div>
      </main>
      <PublicFooter />
    </div>
  );
}

function PublicHeader({ title, heading }: { title: string; heading?: boolean }) {
  return (
    <header className="app-header public-header">
      {heading ? (
        <h1 className="public-bot-name" data-testid="public-bot-name">
          {title}
        </h1>
      ) : (
        <span className="brand">{title}</span>
      )}
      <span className="header-spacer" />
      <HeaderControls />
    </header>
  );
}

function PublicFooter() {
  const { t } = useI18n();
  return (
    <footer className="public-footer" data-testid="public-footer">
      {t("publicPoweredBy")}
    </footer>
  );
}
