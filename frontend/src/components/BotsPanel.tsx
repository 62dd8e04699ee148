/**
 * "Published bots" in the roles dialog: the user's bots with their public link and embed
 * snippet, publishing on or off, deleting, each bot's API keys and, for a published bot, its
 * usage today and its visitors' conversations. With `publishing` set it
 * first shows the form that publishes that role.
 */
import { useCallback, useEffect, useState } from "react";
import { botLinks, botsApi } from "../api/bots";
import type { Bot, BotFields } from "../api/bots";
import { ApiError } from "../api/errors";
import type { Role } from "../api/types";
import { describeError } from "../errorText";
import { useI18n } from "../i18n";
import { BotKeys } from "./BotKeys";
import { BotPublishForm } from "./BotPublishForm";
import { BotTranscripts, BotUsage } from "./BotTranscripts";
import { CopyButton } from "./CopyButton";

interface Props {
  /** The role to publish, or null to show only the list. */
  publishing: Role | null;
  onPublishDone: () => void;
}

export function BotsPanel({ publishing, onPublishDone }: Props) {
  const { t } = useI18n();
  const [bots, setBots] = useState<Bot[] | null>(null);
  const [unavailable, setUnavailable] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [keysOf, setKeysOf] = useState<string | null>(null);
  const [talksOf, setTalksOf] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);

  const problem = useCallback((err: unknown) => setError(describeError(err, t).text), [t]);

  useEffect(() => {
    let live = true;
    botsApi.list().then(
      (list) => live && setBots(list),
      (err) => {
        if (!live) return;
        setBots([]);
        if (err instanceof ApiError && err.status === 404) setUnavailable(true);
        else problem(err);
      },
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const publish = async (fields: BotFields): Promise<string | null> => {
    try {
      const bot = await botsApi.create(fields);
      setBots((list) => [bot, ...(list ?? []).filter((b) => b.slug !== bot.slug)]);
      onPublishDone();
      return null;
    } catch (err) {
      // 409 slug_taken, 400 invalid_slug and the like: the server's own words.
      if (err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 429 && err.message) return err.message;
      return describeError(err, t).text;
    }
  };

  const setPublished = async (bot: Bot, published: boolean) => {
    setError(null);
    try {
      const updated = await botsApi.setPublished(bot.slug, published);
      setBots((list) => (list ?? []).map((b) => (b.slug === bot.slug ? { ...b, ...updated, published } : b)));
    } catch (err) {
      problem(err);
    }
  };

  const remove = async (bot: Bot) => {
    setError(null);
    try {
      await botsApi.remove(bot.slug);
      setBots((list) => (list ?? []).filter((b) => b.slug !== bot.slug));
    } catch (err) {
      problem(err);
    } finally {
      setConfirming(null);
    }
  };

  if (unavailable) return <p className="muted" data-testid="bots-unavailable">{t("botsUnavailable")}</p>;

  return (
    <div className="bots-panel" data-testid="bots-panel">
      {publishing ? <BotPublishForm role={publishing} onPublish={publish} onCancel={onPublishDone} /> : null}
      <h4>{t("botsTitle")}</h4>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
      {bots === null ? (
        <p className="muted">{t("loading")}</p>
      ) : bots.length === 0 ? (
        <p className="muted">{t("botsNone")}</p>
      ) : (
        <ul className="bot-list">
          {bots.map((bot) => {
            const links = botLinks(bot.slug);
            return (
              <li key={bot.slug} className="bot-item" data-testid="bot-item">
                <div className="bot-item-head">
                  <strong>{bot.name}</strong>
                  <span className={`badge${bot.published ? " badge-accent" : ""}`}>
                    {bot.published ? t("botPublished") : t("botUnpublished")}
                  </span>
                </div>
                <a href={`/b/${bot.slug}`} target="_blank" rel="noopener noreferrer" data-testid="bot-link">
                  {links.url}
                </a>
                <div className="bot-snippet">
                  <code data-testid="bot-embed">{links.embed}</code>
                  <CopyButton text={links.embed} label={t("botEmbedCopy")} testId="bot-embed-copy" />
                </div>
                {bot.published ? <BotUsage slug={bot.slug} /> : null}
                <div className="bot-item-actions">
                  <button
                    type="button"
                    className="btn btn-small"
                    data-testid="bot-toggle-published"
                    onClick={() => void setPublished(bot, !bot.published)}
                  >
                    {bot.published ? t("botUnpublish") : t("botRepublish")}
                  </button>
                  <button
                    type="button"
                    className="btn btn-small"
                    data-testid="bot-keys-toggle"
                    aria-expanded={keysOf === bot.slug}
                    onClick={() => setKeysOf((s) => (s === bot.slug ? null : bot.slug))}
                  >
                    {t("botKeys")}
                  </button>
                  {bot.published ? (
                    <button
                      type="button"
                      className="btn btn-small"
                      data-testid="bot-transcripts-toggle"
                      aria-expanded={talksOf === bot.slug}
                      onClick={() => setTalksOf((s) => (s === bot.slug ? null : bot.slug))}
                    >
                      {t("botTranscripts")}
                    </button>
                  ) : null}
                  {confirming === bot.slug ? (
                    <>
                      <button type="button" className="btn btn-small btn-danger" data-testid="bot-delete-confirm" onClick={() => void remove(bot)}>
                        {t("delete")}
                      </button>
                      <button type="button" className="btn btn-small" onClick={() => setConfirming(null)}>
                        {t("cancel")}
                      </button>
                    </>
                  ) : (
                    <button
                      type="button"
                      className="btn btn-small"
                      data-testid="bot-delete"
                      aria-label={t("botDeleteNamed", { name: bot.name })}
                      onClick={() => setConfirming(bot.slug)}
                    >
                      {t("delete")}
                    </button>
                  )}
                </div>
                {keysOf === bot.slug ? <BotKeys slug={bot.slug} /> : null}
                {bot.published && talksOf === bot.slug ? <BotTranscripts slug={bot.slug} /> : null}
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
