/** "My roles": the built-in presets (read-only) and the user's own roles, with their memory. */
import { useEffect, useRef, useState } from "react";
import type { ModelInfo, Role, RoleFields } from "../api/types";
import type { RolesApi } from "../hooks/useRoles";
import { useI18n } from "../i18n";
import { BotsPanel } from "./BotsPanel";
import { RoleForm } from "./RoleForm";
import { RolePins } from "./RolePins";

interface Props {
  roles: RolesApi;
  models: ModelInfo[];
  onClose: () => void;
}

export function RolesDialog({ roles, models, onClose }: Props) {
  const { t } = useI18n();
  // null: the list; "new": a new role; otherwise the role being edited.
  const [editing, setEditing] = useState<Role | "new" | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  // Publishing: null, the user's bots ("list"), or the bots with the form publishing a role.
  const [bots, setBots] = useState<Role | "list" | null>(null);
  const headRef = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    headRef.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") onClose();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [onClose]);

  const save = async (fields: RoleFields) => {
    const id = editing && editing !== "new" ? editing.id : null;
    return (await roles.save(id, fields)) !== null;
  };

  return (
    <div className="roles-dialog" role="dialog" aria-modal="true" aria-labelledby="roles-dialog-title" data-testid="roles-dialog">
      <div className="roles-dialog-head">
        <h3 id="roles-dialog-title" tabIndex={-1} ref={headRef}>
          {t("myRoles")}
        </h3>
        <span className="roles-dialog-tools">
          <button
            type="button"
            className="btn btn-small"
            data-testid="roles-bots"
            onClick={() => {
              setEditing(null);
              setBots((b) => (b ? null : "list"));
            }}
          >
            {bots ? t("myRoles") : t("botsTitle")}
          </button>
          <button type="button" className="btn btn-small" data-testid="roles-close" onClick={onClose}>
            {t("close")}
          </button>
        </span>
      </div>
      {bots ? (
        <BotsPanel publishing={bots === "list" ? null : bots} onPublishDone={() => setBots("list")} />
      ) : editing ? (
        <>
          <RoleForm role={editing === "new" ? null : editing} models={models} onSave={save} onCancel={() => setEditing(null)} />
          {editing !== "new" ? <RolePins roleId={editing.id} pins={roles.pins} /> : null}
        </>
      ) : (
        <>
          <button type="button" className="btn" data-testid="role-new" onClick={() => setEditing("new")}>
            {t("roleNew")}
          </button>
          <ul className="role-list">
            {roles.roles.map((r) => (
              <li key={r.id} data-testid="role-item" data-builtin={r.builtin ? "true" : "false"}>
                <span className="role-item-name">{r.name}</span>
                {r.builtin ? (
                  <span className="badge">{t("roleBuiltin")}</span>
                ) : confirming === r.id ? (
                  <span>
                    <button type="button" className="btn btn-small" data-testid="role-delete-confirm" onClick={() => void roles.remove(r.id).then(() => setConfirming(null))}>
                      {t("delete")}
                    </button>
                    <button type="button" className="btn btn-small" onClick={() => setConfirming(null)}>
                      {t("cancel")}
                    </button>
                  </span>
                ) : (
                  <span>
                    {r.id.startsWith("r_") ? (
                      <button type="button" className="btn btn-small" data-testid="role-publish" aria-label={t("botPublishNamed", { name: r.name })} onClick={() => setBots(r)}>
                        {t("botPublish")}
                      </button>
                    ) : null}
                    <button type="button" className="btn btn-small" data-testid="role-edit" aria-label={t("roleEditNamed", { name: r.name })} onClick={() => setEditing(r)}>
                      {t("editMessage")}
                    </button>
                    <button type="button" className="btn btn-small" data-testid="role-delete" aria-label={t("roleDeleteNamed", { name: r.name })} onClick={() => setConfirming(r.id)}>
                      {t("delete")}
                    </button>
                  </span>
                )}
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}
