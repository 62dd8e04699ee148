import { useEffect, useRef, useState } from "react";
import { useI18n } from "../i18n";

/** Copies text to the clipboard and says so for a moment. */
export function CopyButton({ text, label, testId }: { text: string; label: string; testId: string }) {
  const { t } = useI18n();
  const [copied, setCopied] = useState(false);
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => window.clearTimeout(timer.current), []);
  const copy = () => {
    void navigator.clipboard?.writeText(text).then(
      () => {
        setCopied(true);
        window.clearTimeout(timer.current);
        timer.current = window.setTimeout(() => setCopied(false), 1500);
      },
      () => undefined,
    );
  };
  return (
    <button
      type="button"
      className="icon-btn"
      data-testid={testId}
      data-copied={copied || undefined}
      title={label}
      aria-label={copied ? t("copied") : label}
      onClick={copy}
    >
      {copied ? t("copied") : t("copy")}
    </button>
  );
}
