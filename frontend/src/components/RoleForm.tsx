/** Create or edit one of the user's roles. */
import { useId, useState } from "react";
import type { FormEvent } from "react";
import type { ModelInfo, Role, RoleFields } from "../api/types";
import { useI18n } from "../i18n";

interface Props {
  role: Role | null;
  models: ModelInfo[];
  onSave: (fields: RoleFields) => Promise<boolean>;
  onCancel: () => void;
}

function numberOrNull(text: string): number | null {
  const n = Number(text);
  return text.trim() !== "" && Number.isFinite(n) ? n : null;
}

export function RoleForm({ role, models, onSave, onCancel }: Props) {
  const { t } = useI18n();
  const id = useId();
  const [name, setName] = useState(role?.name ?? "");
  const [instructions, setInstructions] = useState(role?.instructions ?? "");
  const [model, setModel] = useState(role?.model ?? "");
  const [temperature, setTemperature] = useState(role?.temperature != null ? String(role.temperature) : "");
  const [maxTokens, setMaxTokens] = useState(role?.max_answer_tokens != null ? String(role.max_answer_tokens) : "");
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!name.trim() || busy) return;
    setBusy(true);
    const fields: RoleFields = {
      name: name.trim(),
      instructions,
      model: model || null,
      temperature: numberOrNull(temperature),
      max_answer_tokens: numberOrNull(maxTokens),
    };
    const ok = await onSave(fields);
    setBusy(false);
    if (ok) onCancel();
  };

  return (
    <form className="role-form" onSubmit={(e) => void submit(e)} aria-label={role ? t("roleEdit") : t("roleNew")}>
      <label htmlFor={`${id}-name`}>{t("roleName")}</label>
      <input id={`${id}-name`} data-testid="role-form-name" value={name} maxLength={200} required onChange={(e) => setName(e.target.value)} />
      <label htmlFor={`${id}-instr`}>{t("roleInstructions")}</label>
      <textarea
        id={`${id}-instr`}
        data-testid="role-form-instructions"
        rows={4}
        value={instructions}
        placeholder={t("rolePlaceholder")}
        onChange={(e) => setInstructions(e.target.value)}
      />
      <label htmlFor={`${id}-model`}>{t("roleDefaultModel")}</label>
      <select id={`${id}-model`} data-testid="role-form-model" value={model} onChange={(e) => setModel(e.target.value)}>
        <option value="">{t("roleAnyModel")}</option>
        {model && !models.some((m) => m.id === model) ? <option value={model}>{model}</option> : null}
        {models.map((m) => (
          <option key={m.id} value={m.id}>
            {m.label || m.id}
          </option>
        ))}
      </select>
      <label htmlFor={`${id}-temp`}>{t("roleTemperature")}</label>
      <input
        id={`${id}-temp`}
        data-testid="role-form-temperature"
        type="number"
        min={0}
        max={2}
        step={0.1}
        value={temperature}
        onChange={(e) => setTemperature(e.target.value)}
      />
      <label htmlFor={`${id}-max`}>{t("roleMaxAnswer")}</label>
      <input
        id={`${id}-max`}
        data-testid="role-form-max-tokens"
        type="number"
        min={1}
        step={1}
        value={maxTokens}
        onChange={(e) => setMaxTokens(e.target.value)}
      />
      <div className="role-form-actions">
        <button type="submit" className="btn" data-testid="role-form-save" disabled={!name.trim() || busy}>
          {t("save")}
        </button>
        <button type="button" className="btn btn-small" onClick={onCancel}>
          {t("cancel")}
        </button>
      </div>
    </form>
  );
}
