/** The pinned memory of the open conversation: review, unpin, add a note; the context meter. */
import { useEffect, useId, useRef, useState } from "react";
import type { FormEvent } from "react";
import { useI18n } from "../i18n";
import type { Pin } from "../api/types";
import type { ContextInfo } from "../contextInfo";
import { ContextMeter } from "./ContextMeter";

interface Props {
  pins: Pin[];
  context: ContextInfo | null;
  /** False for a chat that is not saved yet: notes need a conversation. */
  canAdd: boolean;
  onAddNote: (text: string) => Promise<boolean>;
  onUnpin: (pin: Pin) => void;
  onClose: () => void;
}

export function PinsPanel({ pins, context, canAdd, onAddNote, onUnpin, onClose }: Props) {
  const { t } = useI18n();
  const id = useId();
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const text = note.trim();
    if (!text || busy) return;
    setBusy(true);
    if (await onAddNote(text)) setNote("");
    setBusy(false);
  };

  return (
    <aside
      className="pins-panel"
      aria-labelledby={`${id}-title`}
      data-testid="pins-panel"
      onKeyDown={(e) => {
        if (e.key === "Escape") onClose();
      }}
    >
      <div className="pins-head">
        <h2 id={`${id}-title`} ref={heading} tabIndex={-1}>
          {t("pinsTitle")}
        </h2>
        <button type="button" className="btn btn-small" onClick={onClose}>
          {t("close")}
        </button>
      </div>
      {context ? <ContextMeter info={context} /> : null}
      <p className="muted pins-intro">{t("pinsIntro")}</p>
      {pins.length === 0 ? (
        <p className="muted" data-testid="pins-empty">
          {t("noPins")}
        </p>
      ) : (
        <ul className="pin-list">
          {pins.map((p) => (
            <li key={p.id} className="pin" data-testid="pin-item">
              <span className="pin-kind">{p.message_id ? t("pinFromMessage") : t("pinNote")}</span>
              <p className="pin-text">{p.text}</p>
              <button type="button" className="btn btn-small" data-testid="unpin" onClick={() => onUnpin(p)}>
                {t("unpin")}
              </button>
            </li>
          ))}
        </ul>
      )}
      {canAdd ? (
        <form className="pin-note" onSubmit={submit}>
          <label htmlFor={`${id}-note`}>{t("noteLabel")}</label>
          <textarea
            id={`${id}-note`}
            data-testid="pin-note-input"
            rows={3}
            value={note}
            placeholder={t("notePlaceholder")}
            onChange={(e) => setNote(e.target.value)}
          />
          <button type="submit" className="btn btn-small btn-primary" data-testid="pin-note-add" disabled={busy || !note.trim()}>
            {t("addNote")}
          </button>
        </form>
      ) : null}
    </aside>
  );
}
