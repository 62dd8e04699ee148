/** The roles the user can pick (built-in presets, then their own) and the changes made to them. */
import { useCallback, useEffect, useMemo, useState } from "react";
import { api } from "../api/client";
import { ApiError } from "../api/errors";
import type { Pin, Role, RoleFields } from "../api/types";

export function useRoles(fail: (err: unknown) => void, lang?: string) {
  const [roles, setRoles] = useState<Role[]>([]);

  const refresh = useCallback(async () => {
    try {
      setRoles(await api.listRoles(lang));
    } catch (err) {
      // A server without roles just offers the free-form box.
      if (!(err instanceof ApiError && err.status === 404)) fail(err);
    }
  }, [fail, lang]);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  const names = useMemo(() => new Map(roles.map((r) => [r.id, r.name])), [roles]);

  const save = useCallback(
    async (id: string | null, fields: RoleFields): Promise<Role | null> => {
      try {
        const role = id ? await api.updateRole(id, fields) : await api.createRole(fields);
        setRoles((list) => (id ? list.map((r) => (r.id === id ? { ...r, ...role } : r)) : [...list, role]));
        return role;
      } catch (err) {
        fail(err);
        return null;
      }
    },
    [fail],
  );

  const remove = useCallback(
    async (id: string): Promise<boolean> => {
      try {
        await api.deleteRole(id);
        setRoles((list) => list.filter((r) => r.id !== id));
        return true;
      } catch (err) {
        fail(err);
        return false;
      }
    },
    [fail],
  );

  const pins = useMemo(
    () => ({
      list: async (id: string): Promise<Pin[]> => {
        try {
          return await api.listRolePins(id);
        } catch (err) {
          fail(err);
          return [];
        }
      },
      add: async (id: string, text: string): Promise<Pin | null> => {
        try {
          return await api.addRolePin(id, text);
        } catch (err) {
          fail(err);
          return null;
        }
      },
      remove: async (id: string, pinId: string): Promise<boolean> => {
        try {
          await api.deleteRolePin(id, pinId);
          return true;
        } catch (err) {
          fail(err);
          return false;
        }
      },
    }),
    [fail],
  );

  return { roles, names, refresh, save, remove, pins };
}

export type RolesApi = ReturnType<typeof useRoles>;
