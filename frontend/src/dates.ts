/** Groups conversations by the day of their latest activity, in the browser's time zone. */
import type { Conversation } from "./api/types";

export type DateGroup = "today" | "yesterday" | "week" | "older";
export const DATE_GROUPS: DateGroup[] = ["today", "yesterday", "week", "older"];

const DAY = 24 * 60 * 60 * 1000;

function startOfDay(d: Date): number {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

export function dateGroup(iso: string, now: Date = new Date()): DateGroup {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "older";
  const today = startOfDay(now);
  if (t >= today) return "today"; // also a clock a little ahead of ours
  if (t >= today - DAY) return "yesterday";
  if (t >= today - 7 * DAY) return "week";
  return "older";
}

/** Newest first within each group; empty groups are left out. */
export function groupByDate(
  list: Conversation[],
  now: Date = new Date(),
): Array<{ group: DateGroup; items: Conversation[] }> {
  const sorted = [...list].sort((a, b) => (a.updated_at < b.updated_at ? 1 : a.updated_at > b.updated_at ? -1 : 0));
  const groups = new Map<DateGroup, Conversation[]>();
  for (const conv of sorted) {
    const g = dateGroup(conv.updated_at, now);
    const items = groups.get(g);
    if (items) items.push(conv);
    else groups.set(g, [conv]);
  }
  return DATE_GROUPS.filter((g) => groups.has(g)).map((group) => ({ group, items: groups.get(group) ?? [] }));
}

/** Client-side search: every word of the query appears in the title (case-insensitive). */
export function matchesTitle(conv: Conversation, query: string, untitled: string): boolean {
  const title = (conv.title || untitled).toLocaleLowerCase();
  return query
    .toLocaleLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((word) => title.includes(word));
}
