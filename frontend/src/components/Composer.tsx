import { useEffect, useRef } from "react";
import type { FormEvent, KeyboardEvent } from "react";
import { useI18n } from "../i18n";

interface Props {
  value: string;
  onChange: (value: string) => void;
  onSend: () => void;
  onStop: () => void;
  streaming: boolean;
  disabled?: boolean;
  /** Replaces the default placeholder (the public bot page asks for a question). */
  placeholder?: string;
  /** Test ids of the text box and Send, when not the signed-in chat's. */
  testIds?: { input: string; send: string };
}

const MAX_ROWS_PX = 240;

export function Composer({ value, onChange, onSend, onStop, streaming, disabled, placeholder, testIds }: Props) {
  const { t } = useI18n();
  const ref = useRef<HTMLTextAreaElement>(null);
  const canSend = !streaming && !disabled && value.trim().length > 0;

  // Grow with the text, up to a limit, then scroll.
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.style.height = "auto";
    if (el.scrollHeight > 0) el.style.height = `${Math.min(el.scrollHeight, MAX_ROWS_PX)}px`;
  }, [value]);

  // When an answer ends, the cursor goes back to the composer for the next message.
  const wasStreaming = useRef(streaming);
  useEffect(() => {
    if (wasStreaming.current && !streaming) ref.current?.focus();
    wasStreaming.current = streaming;
  }, [streaming]);

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Escape" && streaming) {
      e.preventDefault();
      onStop();
      return;
    }
    // Enter sends; Shift+Enter is a new line; Enter that confirms an IME conversion does nothing.
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      if (canSend) onSend();
    }
  };

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (canSend) onSend();
  };

  return (
    <form className="composer" onSubmit={onSubmit}>
      <textarea
        ref={ref}
        data-testid={testIds?.input ?? "composer-input"}
        aria-label={t("composerLabel")}
        placeholder={placeholder ?? t("composerPlaceholder")}
        rows={1}
        value={value}
        disabled={disabled}
        onChange={(e) => onChange(e.target.value)}
        onKeyDown={onKeyDown}
      />
      {streaming ? (
        <button type="button" className="btn btn-stop" data-testid="stop" onClick={onStop}>
          <span className="stop-square" aria-hidden="true" />
          {t("stop")}
        </button>
      ) : (
        <button type="submit" className="btn btn-primary" data-testid={testIds?.send ?? "send"} disabled={!canSend}>
          {t("send")}
        </button>
      )}
    </form>
  );
}
