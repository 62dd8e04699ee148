/** Turns an API failure into words a person can act on (and whether trying again can help). */
import { ApiError, NETWORK_ERROR } from "./api/errors";
import type { Translate } from "./i18n";

export interface Problem {
  text: string;
  /** Seconds until trying again makes sense (429 with Retry-After). */
  retryAfter?: number;
  retryable: boolean;
}

export function describeError(err: unknown, t: Translate): Problem {
  if (!(err instanceof ApiError)) return { text: t("errorGeneric"), retryable: true };
  if (err.code === NETWORK_ERROR) return { text: t("errorNetwork"), retryable: true };
  if (err.status === 429) {
    const seconds = err.retryAfter;
    return seconds !== undefined && seconds > 0
      ? { text: t("errorRateLimited", { seconds: String(seconds) }), retryAfter: seconds, retryable: true }
      : { text: t("errorRateLimitedSoon"), retryable: true };
  }
  if (err.status >= 500) return { text: err.message && err.code !== `http_${err.status}` ? err.message : t("errorServer"), retryable: true };
  return { text: err.message || t("errorGeneric"), retryable: false };
}
