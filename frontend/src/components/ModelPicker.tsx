import { useId } from "react";
import { useI18n } from "../i18n";
import type { ModelInfo } from "../api/types";

interface Props {
  models: ModelInfo[];
  value: string;
  onChange: (id: string) => void;
  disabled?: boolean;
}

/** 128000 → "128K", 1048576 → "1M". */
export function tokenSize(n: number): string {
  if (n >= 1_000_000) return `${Math.round(n / 100_000) / 10}M`;
  if (n >= 1000) return `${Math.round(n / 1000)}K`;
  return String(n);
}

export function isFineTuned(m: ModelInfo | undefined, id: string): boolean {
  return m?.fine_tuned === true || id.startsWith("ft:");
}

function contextOf(m: ModelInfo | undefined): number | null {
  const n = m?.context_window;
  return typeof n === "number" && Number.isFinite(n) && n > 0 ? n : null;
}

export function ModelPicker({ models, value, onChange, disabled }: Props) {
  const { t } = useI18n();
  const id = useId();
  const selected = models.find((m) => m.id === value);
  const window = contextOf(selected);
  return (
    <div className="model-picker">
      <label htmlFor={id}>{t("model")}</label>
      <select
        id={id}
        data-testid="model-picker"
        value={value}
        title={value}
        disabled={disabled || (models.length === 0 && !value)}
        onChange={(e) => onChange(e.target.value)}
      >
        {!selected && value ? <option value={value}>{t("modelUnavailable", { model: value })}</option> : null}
        {models.map((m) => {
          const size = contextOf(m);
          const extras = [
            size ? t("contextWindow", { size: tokenSize(size) }) : "",
            isFineTuned(m, m.id) ? t("fineTuned") : "",
          ].filter(Boolean);
          return (
            <option key={m.id} value={m.id}>
              {(m.label || m.id) + (extras.length ? ` · ${extras.join(" · ")}` : "")}
            </option>
          );
        })}
      </select>
      {window ? (
        <span className="badge" data-testid="model-context">
          {t("contextWindow", { size: tokenSize(window) })}
        </span>
      ) : null}
      {value && isFineTuned(selected, value) ? (
        <span className="badge badge-accent" data-testid="model-fine-tuned">
          {t("fineTuned")}
        </span>
      ) : null}
    </div>
  );
}
