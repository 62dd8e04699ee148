/**
 * The context meter's data: how much of the model's window the role, pins, summary and history
 * took in the last assembled prompt (`GET /api/conversations/{id}/context`). Read defensively:
 * numbers may sit at the top level or under `tokens`/`breakdown`, a part may be a number or
 * `{"tokens": n}`; without a window size there is nothing to show (null).
 */
export type ContextPart = "role" | "pins" | "summary" | "history";

export interface ContextInfo {
  window: number;
  used: number;
  parts: Array<{ part: ContextPart; tokens: number }>;
  omitted: number;
}

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function count(value: unknown): number | null {
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) return value;
  if (isObj(value)) return count(value.tokens ?? value.count ?? value.total);
  return null;
}

function first(sources: Obj[], names: string[]): number | null {
  for (const source of sources) {
    for (const name of names) {
      const n = count(source[name]);
      if (n !== null) return n;
    }
  }
  return null;
}

const PART_NAMES: Record<ContextPart, string[]> = {
  role: ["role", "role_tokens", "instructions", "system"],
  pins: ["pins", "pin_tokens", "pinned"],
  summary: ["summary", "summary_tokens"],
  history: ["history", "history_tokens", "messages", "recent"],
};

export function parseContext(raw: unknown): ContextInfo | null {
  if (!isObj(raw)) return null;
  const sources = [raw, raw.tokens, raw.breakdown, raw.context, raw.usage].filter(isObj);
  const window = first(sources, ["window", "context_window", "window_tokens", "max_tokens"]);
  if (!window) return null;
  const parts: ContextInfo["parts"] = [];
  for (const part of Object.keys(PART_NAMES) as ContextPart[]) {
    const tokens = first(sources, PART_NAMES[part]);
    if (tokens !== null) parts.push({ part, tokens });
  }
  const sum = parts.reduce((total, p) => total + p.tokens, 0);
  const used = first(sources, ["used", "total", "prompt_tokens", "input_tokens"]) ?? sum;
  if (parts.length === 0 && used === 0) return null;
  const omitted = first(sources, ["omitted_messages", "omitted", "dropped_messages", "messages_omitted"]) ?? 0;
  return { window, used: Math.max(used, sum), parts, omitted };
}
