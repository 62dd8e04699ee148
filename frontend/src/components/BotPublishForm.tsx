/** Publishes one of the user's own roles as a public bot: its address, greeting, suggestions and budget. */
import { useId, useState } from "react";
import type { FormEvent } from "react";
import { slugFrom } from "../api/bots";
import type { BotFields } from "../api/bots";
import type { Role } from "../api/types";
import { useI18n } from "../i18n";

const MAX_SUGGESTIONS = 4;
const SLUG = /^[a-z0-9-]{3,40}$/;

interface Props {
  role: Role;
  /** Resolves to an error text to show, or null when the bot was published. */
  onPublish: (fields: BotFields) => Promise<string | null>;
  onCancel: () => void;
}

export function BotPublishForm({ role, onPublish, onCancel }: Props) {
  const { t } = useI18n();
  const id = useId();
  const [slug, setSlug] = useState(() => slugFrom(role.name));
  const [greeting, setGreeting] = useState("");
  const [suggestions, setSuggestions] = useState<string[]>(() => Array(MAX_SUGGESTIONS).fill(""));
  const [budget, setBudget] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const slugOk = SLUG.test(slug);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!slugOk || busy) return;
    setBusy(true);
    setError(null);
    const n = Number(budget);
    const problem = await onPublish({
      role_id: role.id,
      slug,
      greeting: greeting.trim(),
      suggestions: suggestions.map((s) => s.trim()).filter(Boolean),
      daily_token_budget: budget.trim() !== "" && Number.isFinite(n) && n > 0 ? Math.floor(n) : null,
    });
    setBusy(false);
    setError(problem);
  };

  return (
    <form
      className="role-form"
      data-testid="bot-form"
      aria-label={t("botPublishNamed", { name: role.name })}
      onSubmit={(e) => void submit(e)}
    >
      <h4>{t("botPublishNamed", { name: role.name })}</h4>
      <label htmlFor={`${id}-slug`}>{t("botSlug")}</label>
      <input
        id={`${id}-slug`}
        data-testid="bot-form-slug"
        value={slug}
        maxLength={40}
        required
        aria-describedby={`${id}-slug-hint`}
        aria-invalid={slug !== "" && !slugOk}
        onChange={(e) => setSlug(e.target.value.toLowerCase())}
      />
      <span id={`${id}-slug-hint`} className="muted bot-hint">
        {t("botSlugHint", { path: `/b/${slug || "…"}` })}
      </span>
      <label htmlFor={`${id}-greeting`}>{t("botGreeting")}</label>
      <textarea
        id={`${id}-greeting`}
        data-testid="bot-form-greeting"
        rows={2}
        value={greeting}
        placeholder={t("botGreetingPlaceholder")}
        onChange={(e) => setGreeting(e.target.value)}
      />
      <fieldset className="bot-suggestions">
        <legend>{t("botSuggestions")}</legend>
        {suggestions.map((s, i) => (
          <input
            key={i}
            data-testid="bot-form-suggestion"
            aria-label={t("botSuggestionN", { n: String(i + 1) })}
            value={s}
            maxLength={200}
            onChange={(e) => setSuggestions((list) => list.map((v, j) => (j === i ? e.target.value : v)))}
          />
        ))}
      </fieldset>
      <label htmlFor={`${id}-budget`}>{t("botBudget")}</label>
      <input
        id={`${id}-budget`}
        data-testid="bot-form-budget"
        type="number"
        min={1}
        step={1}
        value={budget}
        placeholder={t("botBudgetNone")}
        onChange={(e) => setBudget(e.target.value)}
      />
      {error ? (
        <p className="form-error" role="alert" data-testid="bot-form-error">
          {error}
        </p>
      ) : null}
      <div className="role-form-actions">
        <button type="submit" className="btn btn-primary" data-testid="bot-form-save" disabled={!slugOk || busy}>
          {t("botPublish")}
        </button>
        <button type="button" className="btn btn-small" onClick={onCancel}>
          {t("cancel")}
        </button>
      </div>
    </form>
  );
}
