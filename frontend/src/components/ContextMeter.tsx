/** How much of the model's context window the last prompt used, and on what. */
import { useI18n } from "../i18n";
import type { MessageKey } from "../i18n";
import type { ContextInfo, ContextPart } from "../contextInfo";

const LABEL: Record<ContextPart, MessageKey> = {
  role: "contextRole",
  pins: "contextPins",
  summary: "contextSummary",
  history: "contextHistory",
};

export function ContextMeter({ info }: { info: ContextInfo }) {
  const { t } = useI18n();
  const pct = (n: number) => `${Math.min(100, (n / info.window) * 100).toFixed(2)}%`;
  return (
    <div className="context-meter" data-testid="context-meter">
      <div className="context-head">
        <span>{t("contextTitle")}</span>
        <span className="muted">
          {t("contextUsage", { used: info.used.toLocaleString(), window: info.window.toLocaleString() })}
        </span>
      </div>
      <div
        className="context-bar"
        role="meter"
        aria-label={t("contextTitle")}
        aria-valuemin={0}
        aria-valuemax={info.window}
        aria-valuenow={Math.min(info.used, info.window)}
      >
        {info.parts.map((p) => (
          <span key={p.part} className={`context-seg seg-${p.part}`} style={{ width: pct(p.tokens) }} />
        ))}
      </div>
      <ul className="context-legend">
        {info.parts.map((p) => (
          <li key={p.part}>
            <span className={`context-dot seg-${p.part}`} aria-hidden="true" />
            {t(LABEL[p.part])} {p.tokens.toLocaleString()}
          </li>
        ))}
      </ul>
      {info.omitted > 0 ? <p className="muted context-omitted">{t("contextOmitted", { count: String(info.omitted) })}</p> : null}
    </div>
  );
}
