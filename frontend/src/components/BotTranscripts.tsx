/**
 * For the owner of a published bot: today's token use against its daily budget, and the
 * conversations visitors had with it. Answers go through the Markdown component, never as HTML.
 */
import { useEffect, useState } from "react";
import { botsApi } from "../api/bots";
import type { BotTranscript, BotTranscriptFull, BotUsage as Usage } from "../api/bots";
import { describeError } from "../errorText";
import { useI18n } from "../i18n";
import { Markdown } from "./Markdown";

function when(iso: string | null | undefined): string {
  if (!iso) return "";
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? "" : at.toLocaleString();
}

/** "Today: N tokens (M left of B)"; nothing while loading or when the server has no figures. */
export function BotUsage({ slug }: { slug: string }) {
  const { t } = useI18n();
  const [usage, setUsage] = useState<Usage | null>(null);

  useEffect(() => {
    let live = true;
    botsApi.usage(slug).then(
      (u) => live && setUsage(u ?? null),
      () => live && setUsage(null),
    );
    return () => {
      live = false;
    };
  }, [slug]);

  if (!usage) return null;
  const tokens = String(usage.tokens_today ?? 0);
  return (
    <p className="muted bot-usage" data-testid="bot-usage">
      {usage.daily_token_budget == null
        ? t("botUsageNoBudget", { tokens })
        : t("botUsageToday", {
            tokens,
            left: String(usage.remaining_today ?? Math.max(0, usage.daily_token_budget - (usage.tokens_today ?? 0))),
            budget: String(usage.daily_token_budget),
          })}
    </p>
  );
}

export function BotTranscripts({ slug }: { slug: string }) {
  const { t } = useI18n();
  const [list, setList] = useState<BotTranscript[] | null>(null);
  const [open, setOpen] = useState<BotTranscriptFull | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    botsApi.transcripts(slug).then(
      (items) => live && setList(items),
      (err) => {
        if (!live) return;
        setList([]);
        setError(describeError(err, t).text);
      },
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [slug]);

  const show = async (id: string) => {
    setError(null);
    try {
      setOpen(await botsApi.transcript(slug, id));
    } catch (err) {
      setError(describeError(err, t).text);
    }
  };

  return (
    <section className="bot-transcripts" aria-label={t("botTranscriptsNamed", { slug })} data-testid="bot-transcripts">
      {open ? (
        <div className="bot-transcript" data-testid="bot-transcript">
          <button type="button" className="btn btn-small" data-testid="bot-transcript-back" onClick={() => setOpen(null)}>
            {t("botTranscriptBack")}
          </button>
          <p className="muted">
            {t("botTranscriptMeta", { visitor: open.visitor, date: when(open.created_at), count: String(open.messages.length) })}
          </p>
          {open.messages.map((m) => (
            <article
              key={m.id}
              className={`message message-${m.role === "user" ? "user" : "assistant"}`}
              data-testid="bot-transcript-message"
              data-role={m.role}
              aria-label={m.role === "user" ? t("you") : t("assistant")}
            >
              <div className="message-body">
                {m.role === "user" ? <div className="plain-text">{m.content}</div> : <Markdown text={m.content} />}
              </div>
            </article>
          ))}
        </div>
      ) : list === null ? (
        <p className="muted">{t("loading")}</p>
      ) : list.length === 0 ? (
        error ? null : <p className="muted">{t("botTranscriptsNone")}</p>
      ) : (
        <ul>
          {list.map((c) => (
            <li key={c.id}>
              <button type="button" className="bot-transcript-item" data-testid="bot-transcript-item" onClick={() => void show(c.id)}>
                <span className="bot-transcript-first">{c.first_message || t("botTranscriptEmpty")}</span>
                <span className="muted">
                  {t("botTranscriptMeta", { visitor: c.visitor, date: when(c.updated_at), count: String(c.messages ?? 0) })}
                </span>
              </button>
            </li>
          ))}
        </ul>
      )}
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
    </section>
  );
}
