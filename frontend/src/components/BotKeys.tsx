/** API keys of one published bot: this month's usage, a new key (its secret shown once), revoking. */
import { useCallback, useEffect, useId, useState } from "react";
import type { FormEvent } from "react";
import { botsApi } from "../api/bots";
import type { BotKey, NewBotKey } from "../api/bots";
import { describeError } from "../errorText";
import { useI18n } from "../i18n";
import { CopyButton } from "./CopyButton";

function day(iso: string | null | undefined): string {
  if (!iso) return "";
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? "" : at.toLocaleDateString();
}

export function BotKeys({ slug }: { slug: string }) {
  const { t } = useI18n();
  const id = useId();
  const [keys, setKeys] = useState<BotKey[] | null>(null);
  const [name, setName] = useState("");
  const [secret, setSecret] = useState<NewBotKey | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const refresh = useCallback(async () => {
    try {
      setKeys(await botsApi.keys(slug));
    } catch (err) {
      setKeys([]);
      setError(describeError(err, t).text);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [slug]);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    if (!name.trim() || busy) return;
    setBusy(true);
    setError(null);
    try {
      setSecret(await botsApi.createKey(slug, name.trim()));
      setName("");
      await refresh();
    } catch (err) {
      setError(describeError(err, t).text);
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (keyId: string) => {
    setError(null);
    try {
      await botsApi.revokeKey(slug, keyId);
      setKeys((list) => (list ?? []).filter((k) => k.id !== keyId));
      if (secret?.id === keyId) setSecret(null);
    } catch (err) {
      setError(describeError(err, t).text);
    } finally {
      setConfirming(null);
    }
  };

  return (
    <section className="bot-keys" aria-label={t("botKeysNamed", { slug })} data-testid="bot-keys">
      {secret ? (
        <div className="bot-secret" data-testid="bot-key-secret">
          <p>{t("botKeyOnce")}</p>
          <div className="bot-secret-row">
            <code data-testid="bot-key-value">{secret.key}</code>
            <CopyButton text={secret.key} label={t("botKeyCopy")} testId="bot-key-copy" />
          </div>
          <button type="button" className="btn btn-small" data-testid="bot-key-done" onClick={() => setSecret(null)}>
            {t("botKeyDone")}
          </button>
        </div>
      ) : null}
      {keys === null ? (
        <p className="muted">{t("loading")}</p>
      ) : keys.length === 0 ? (
        <p className="muted">{t("botKeysNone")}</p>
      ) : (
        <ul>
          {keys.map((k) => (
            <li key={k.id} data-testid="bot-key">
              <span>
                <strong>{k.name}</strong>{" "}
                <span className="muted">
                  {t("botKeyUsage", {
                    tokens: String(k.usage_this_month?.tokens ?? 0),
                    requests: String(k.usage_this_month?.requests ?? 0),
                  })}
                  {k.last_used_at ? ` · ${t("botKeyLastUsed", { date: day(k.last_used_at) })}` : ""}
                </span>
              </span>
              {confirming === k.id ? (
                <span>
                  <button type="button" className="btn btn-small btn-danger" data-testid="bot-key-revoke-confirm" onClick={() => void revoke(k.id)}>
                    {t("botKeyRevoke")}
                  </button>
                  <button type="button" className="btn btn-small" onClick={() => setConfirming(null)}>
                    {t("cancel")}
                  </button>
                </span>
              ) : (
                <button
                  type="button"
                  className="btn btn-small"
                  data-testid="bot-key-revoke"
                  aria-label={t("botKeyRevokeNamed", { name: k.name })}
                  onClick={() => setConfirming(k.id)}
                >
                  {t("botKeyRevoke")}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      <form className="bot-key-form" onSubmit={(e) => void create(e)}>
        <label htmlFor={`${id}-name`} className="sr-only">
          {t("botKeyName")}
        </label>
        <input
          id={`${id}-name`}
          data-testid="bot-key-name"
          value={name}
          maxLength={100}
          placeholder={t("botKeyName")}
          onChange={(e) => setName(e.target.value)}
        />
        <button type="submit" className="btn btn-small" data-testid="bot-key-create" disabled={!name.trim() || busy}>
          {t("botKeyCreate")}
        </button>
      </form>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
    </section>
  );
}
