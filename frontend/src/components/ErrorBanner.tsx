/** A problem the person can act on: what happened, and a Retry that waits out a Retry-After. */
import { useEffect, useState } from "react";
import { useI18n } from "../i18n";

export interface Banner {
  text: string;
  retry?: () => void;
  /** Seconds before Retry is offered. */
  retryAfter?: number;
}

export function ErrorBanner({ banner, onDismiss }: { banner: Banner; onDismiss: () => void }) {
  const { t } = useI18n();
  const [wait, setWait] = useState(banner.retryAfter ?? 0);
  useEffect(() => {
    setWait(banner.retryAfter ?? 0);
    if (!banner.retryAfter) return;
    const timer = window.setInterval(() => setWait((s) => Math.max(0, s - 1)), 1000);
    return () => window.clearInterval(timer);
  }, [banner]);
  return (
    <div className="banner banner-error" role="alert" data-testid="error-banner">
      <span>{banner.text}</span>
      {banner.retry ? (
        <button
          type="button"
          className="btn btn-small"
          data-testid="error-retry"
          disabled={wait > 0}
          onClick={() => {
            onDismiss();
            banner.retry?.();
          }}
        >
          {wait > 0 ? t("retryIn", { seconds: String(wait) }) : t("retry")}
        </button>
      ) : null}
      <button type="button" className="btn btn-small" onClick={onDismiss}>
        {t("dismiss")}
      </button>
    </div>
  );
}
