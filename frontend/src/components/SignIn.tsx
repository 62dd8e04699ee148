import { useId, useState } from "react";
import type { FormEvent } from "react";
import { api } from "../api/client";
import { ApiError, NETWORK_ERROR } from "../api/errors";
import { useI18n } from "../i18n";

/** The local stack's sign-in form (in AWS, Cognito's hosted page signs people in). */
export function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const { t } = useI18n();
  const id = useId();
  const [username, setUsername] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      await api.login(username.trim());
      onSignedIn();
    } catch (err) {
      if (err instanceof ApiError && err.code === NETWORK_ERROR) setError(t("errorNetwork"));
      else setError(err instanceof ApiError && err.message ? err.message : t("errorGeneric"));
      setBusy(false);
    }
  };

  return (
    <main className="center-page">
      <form className="card signin" onSubmit={submit} noValidate>
        <h1>{t("signInTitle")}</h1>
        <p className="muted">{t("signInIntro")}</p>
        <label htmlFor={id}>{t("username")}</label>
        <input
          id={id}
          data-testid="signin-username"
          name="username"
          autoComplete="username"
          autoCapitalize="none"
          spellCheck={false}
          maxLength={64}
          value={username}
          aria-invalid={error ? true : undefined}
          aria-describedby={`${id}-hint`}
          onChange={(e) => setUsername(e.target.value)}
          autoFocus
        />
        <p id={`${id}-hint`} className="hint">
          {t("usernameHint")}
        </p>
        {error ? (
          <p className="form-error" role="alert" data-testid="signin-error">
            {error}
          </p>
        ) : null}
        <button type="submit" className="btn btn-primary" data-testid="signin-submit" disabled={busy || !username.trim()}>
          {busy ? t("signingIn") : t("signIn")}
        </button>
      </form>
    </main>
  );
}
