/** Role names by id, so an answer can say which role wrote it without threading props. */
import { createContext, useContext } from "react";

export const RoleNamesContext = createContext<ReadonlyMap<string, string>>(new Map());

export function useRoleName(id: string | undefined): string | undefined {
  const names = useContext(RoleNamesContext);
  return id ? names.get(id) : undefined;
}
