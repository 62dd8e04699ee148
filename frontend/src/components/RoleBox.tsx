import { useId } from "react";
import { useI18n } from "../i18n";

export type SaveState = "idle" | "saving" | "saved";

interface Props {
  value: string;
  onChange: (value: string) => void;
  /** Called on blur and by the Save button; the owner decides whether anything changed. */
  onSave: () => void;
  /** The conversation exists on the server (a new chat sends its role with the first message). */
  persisted: boolean;
  dirty: boolean;
  saveState: SaveState;
  disabled?: boolean;
  /** Shows a chosen role's instructions, which are not edited here. */
  readOnly?: boolean;
  label?: string;
}

export function RoleBox({ value, onChange, onSave, persisted, dirty, saveState, disabled, readOnly, label }: Props) {
  const { t } = useI18n();
  const id = useId();
  return (
    <div className="role-box">
      <div className="role-head">
        <label htmlFor={id}>{label ?? t("role")}</label>
        {persisted ? (
          <span className="role-actions">
            <span className="role-state" role="status">
              {saveState === "saving" ? t("saving") : saveState === "saved" && !dirty ? t("saved") : ""}
            </span>
            <button
              type="button"
              className="btn btn-small"
              data-testid="role-save"
              onMouseDown={(e) => e.preventDefault() /* keep the blur from saving twice */}
              onClick={onSave}
              disabled={!dirty || saveState === "saving" || disabled}
            >
              {t("save")}
            </button>
          </span>
        ) : null}
      </div>
      <textarea
        id={id}
        data-testid="role-input"
        rows={2}
        value={value}
        readOnly={readOnly}
        placeholder={t("rolePlaceholder")}
        disabled={disabled}
        onChange={(e) => onChange(e.target.value)}
        onBlur={readOnly ? undefined : onSave}
      />
    </div>
  );
}
