import { useId } from "react";
import type { Role } from "../api/types";
import { useI18n } from "../i18n";

interface Props {
  roles: Role[];
  /** The chosen role's id, or "" for the conversation's own free-form instructions. */
  value: string;
  onChange: (roleId: string) => void;
  onManage: () => void;
  disabled?: boolean;
}

export function RolePicker({ roles, value, onChange, onManage, disabled }: Props) {
  const { t } = useI18n();
  const id = useId();
  const builtins = roles.filter((r) => r.builtin);
  const own = roles.filter((r) => !r.builtin);
  const known = value === "" || roles.some((r) => r.id === value);
  return (
    <div className="role-picker">
      <label htmlFor={id}>{t("roleChoose")}</label>
      <select id={id} data-testid="role-picker" value={value} disabled={disabled} onChange={(e) => onChange(e.target.value)}>
        <option value="">{t("roleCustom")}</option>
        {!known ? <option value={value}>{t("roleUnavailable")}</option> : null}
        {builtins.length ? (
          <optgroup label={t("rolePresets")}>
            {builtins.map((r) => (
              <option key={r.id} value={r.id}>
                {r.name}
              </option>
            ))}
          </optgroup>
        ) : null}
        {own.length ? (
          <optgroup label={t("myRoles")}>
            {own.map((r) => (
              <option key={r.id} value={r.id}>
                {r.name}
              </option>
            ))}
          </optgroup>
        ) : null}
      </select>
      <button type="button" className="btn btn-small" data-testid="roles-manage" onClick={onManage}>
        {t("myRoles")}
      </button>
    </div>
  );
}
