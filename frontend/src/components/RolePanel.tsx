/** The role picker above the role box, and the "My roles" dialog it opens. */
import { useState } from "react";
import type { ModelInfo } from "../api/types";
import type { RolesApi } from "../hooks/useRoles";
import { useI18n } from "../i18n";
import { RoleBox } from "./RoleBox";
import type { SaveState } from "./RoleBox";
import { RolePicker } from "./RolePicker";
import { RolesDialog } from "./RolesDialog";

interface Props {
  roles: RolesApi;
  models: ModelInfo[];
  roleId: string;
  onRole: (id: string) => void;
  instructions: string;
  onInstructions: (value: string) => void;
  onSave: () => void;
  persisted: boolean;
  dirty: boolean;
  saveState: SaveState;
}

export function RolePanel({ roles, models, roleId, onRole, instructions, onInstructions, onSave, persisted, dirty, saveState }: Props) {
  const { t } = useI18n();
  const [open, setOpen] = useState(false);
  const chosen = roleId ? roles.roles.find((r) => r.id === roleId) : undefined;
  return (
    <div className="role-panel">
      <RolePicker roles={roles.roles} value={roleId} onChange={onRole} onManage={() => setOpen(true)} />
      {roleId ? (
        <RoleBox value={chosen?.instructions ?? ""} readOnly label={t("roleReadOnly")} onChange={() => {}} onSave={() => {}} persisted={false} dirty={false} saveState="idle" />
      ) : (
        <RoleBox value={instructions} onChange={onInstructions} onSave={onSave} persisted={persisted} dirty={dirty} saveState={saveState} />
      )}
      {open ? <RolesDialog roles={roles} models={models} onClose={() => setOpen(false)} /> : null}
    </div>
  );
}
