/** Role memory: notes sent in every conversation that uses the role. */
import { useEffect, useId, useState } from "react";
import type { Pin } from "../api/types";
import type { RolesApi } from "../hooks/useRoles";
import { useI18n } from "../i18n";

interface Props {
  roleId: string;
  pins: RolesApi["pins"];
}

export function RolePins({ roleId, pins }: Props) {
  const { t } = useI18n();
  const id = useId();
  const [list, setList] = useState<Pin[]>([]);
  const [note, setNote] = useState("");

  useEffect(() => {
    let live = true;
    void pins.list(roleId).then((p) => live && setList(p));
    return () => {
      live = false;
    };
  }, [roleId, pins]);

  const add = async () => {
    const text = note.trim();
    if (!text) return;
    const pin = await pins.add(roleId, text);
    if (pin) {
      setList((l) => [...l, pin]);
      setNote("");
    }
  };

  return (
    <section className="role-pins" aria-label={t("roleMemory")}>
      <h4>{t("roleMemory")}</h4>
      {list.length === 0 ? <p className="muted">{t("roleMemoryEmpty")}</p> : null}
      <ul>
        {list.map((p) => (
          <li key={p.id} data-testid="role-pin-item">
            <span>{p.text}</span>
            <button
              type="button"
              className="btn btn-small"
              data-testid="role-pin-remove"
              aria-label={t("unpin")}
              onClick={() => void pins.remove(roleId, p.id).then((ok) => ok && setList((l) => l.filter((x) => x.id !== p.id)))}
            >
              {t("unpin")}
            </button>
          </li>
        ))}
      </ul>
      <label htmlFor={id}>{t("noteLabel")}</label>
      <input id={id} data-testid="role-pin-input" value={note} onChange={(e) => setNote(e.target.value)} />
      <button type="button" className="btn btn-small" data-testid="role-pin-add" disabled={!note.trim()} onClick={() => void add()}>
        {t("addNote")}
      </button>
    </section>
  );
}
