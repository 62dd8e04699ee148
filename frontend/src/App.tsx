/** Decides what to show: loading, sign-in, an expired session, or the chat. */
import { useCallback, useEffect, useState } from "react";
import { api, getConfig } from "./api/client";
import { ApiError, NETWORK_ERROR } from "./api/errors";
import type { AppConfig, Me } from "./api/types";
import { Chat } from "./components/Chat";
import { SignIn } from "./components/SignIn";
import { useI18n } from "./i18n";
import { HeaderControls } from "./components/HeaderControls";

type View =
  | { kind: "loading" }
  | { kind: "signin" }
  | { kind: "expired" }
  | { kind: "error"; message: string }
  | { kind: "ready"; me: Me };

function safeUrl(url: string | undefined): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url, window.location.origin);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

export function App() {
  const { t } = useI18n();
  const [config, setConfig] = useState<AppConfig>({ auth: "local" });
  const [view, setView] = useState<View>({ kind: "loading" });

  const unauthenticated = useCallback(
    (cfg: AppConfig) => setView(cfg.auth === "cognito" ? { kind: "expired" } : { kind: "signin" }),
    [],
  );

  const load = useCallback(async () => {
    setView({ kind: "loading" });
    const cfg = await getConfig();
    setConfig(cfg);
    try {
      setView({ kind: "ready", me: await api.me() });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) unauthenticated(cfg);
      else if (err instanceof ApiError && err.code === NETWORK_ERROR) setView({ kind: "error", message: t("errorNetwork") });
      else setView({ kind: "error", message: err instanceof ApiError ? err.message : t("errorGeneric") });
    }
    // `t` only shapes the error text; reloading on a language switch is not wanted.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [unauthenticated]);

  useEffect(() => {
    void load();
  }, [load]);

  const signOut = async () => {
    if (config.auth === "cognito") {
      window.location.assign(safeUrl(config.logoutUrl) ?? "/");
      return;
    }
    try {
      await api.logout();
    } catch {
      // the session is dropped on this side either way
    }
    setView({ kind: "signin" });
  };

  const signInAgain = () => {
    const login = safeUrl(config.loginUrl);
    if (login) window.location.assign(login);
    else window.location.reload();
  };

  return (
    <div className="app">
      <header className="app-header">
        <span className="brand">{t("appName")}</span>
        <span className="header-spacer" />
        <HeaderControls />
        {view.kind === "ready" ? (
          <>
            <span className="user-name" title={t("signedInAs", { name: view.me.username })} data-testid="user-name">
              {view.me.username}
            </span>
            <button type="button" className="btn btn-small" data-testid="signout" onClick={() => void signOut()}>
              {t("signOut")}
            </button>
          </>
        ) : null}
      </header>
      {view.kind === "loading" ? (
        <main className="center-page">
          <p className="muted">{t("loading")}</p>
        </main>
      ) : view.kind === "signin" ? (
        <SignIn onSignedIn={() => void load()} />
      ) : view.kind === "expired" ? (
        <main className="center-page">
          <div className="card">
            <h1>{t("sessionExpiredTitle")}</h1>
            <p>{t("sessionExpired")}</p>
            <button type="button" className="btn btn-primary" data-testid="signin-again" onClick={signInAgain}>
              {t("signInAgain")}
            </button>
          </div>
        </main>
      ) : view.kind === "error" ? (
        <main className="center-page">
          <div className="card" role="alert">
            <p>{view.message}</p>
            <button type="button" className="btn btn-primary" onClick={() => void load()}>
              {t("retry")}
            </button>
          </div>
        </main>
      ) : (
        <Chat key={view.me.id} onAuthLost={() => unauthenticated(config)} />
      )}
    </div>
  );
}
