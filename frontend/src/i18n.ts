/**
 * Every visible string of the app, in English and Japanese. Both dictionaries have the
 * same keys (a test checks it). `{name}` placeholders are filled by `t(key, { name })`.
 */
import { createContext, createElement, useCallback, useContext, useEffect, useMemo, useState } from "react";
import type { ReactNode } from "react";

import { en } from "./locales/en";
import { ja } from "./locales/ja";

export { en, ja };
export type MessageKey = keyof typeof en;
export type Dictionary = Record<MessageKey, string>;

export const dictionaries = { en, ja } as const;
export type Lang = keyof typeof dictionaries;
export const LANGUAGES: ReadonlyArray<{ code: Lang; name: string }> = [
  { code: "en", name: "English" },
  { code: "ja", name: "日本語" },
];

const STORAGE_KEY = "rolechat.lang";

export function languageFor(tag: string | undefined | null): Lang {
  return tag && tag.toLowerCase().startsWith("ja") ? "ja" : "en";
}

function isLang(value: unknown): value is Lang {
  return value === "en" || value === "ja";
}

/** The remembered choice if any, else the browser's language. */
export function initialLanguage(): Lang {
  try {
    const saved = globalThis.localStorage?.getItem(STORAGE_KEY);
    if (isLang(saved)) return saved;
  } catch {
    // storage may be unavailable (private mode, blocked cookies)
  }
  return languageFor(globalThis.navigator?.language);
}

export type Translate = (key: MessageKey, vars?: Record<string, string>) => string;

export function translate(lang: Lang, key: MessageKey, vars?: Record<string, string>): string {
  const text = dictionaries[lang][key] ?? en[key];
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? vars[name] : m));
}

interface I18nValue {
  lang: Lang;
  setLang: (lang: Lang) => void;
  t: Translate;
}

const I18nContext = createContext<I18nValue>({
  lang: "en",
  setLang: () => undefined,
  t: (key, vars) => translate("en", key, vars),
});

export function I18nProvider({ children, lang: forced }: { children: ReactNode; lang?: Lang }) {
  const [lang, setLangState] = useState<Lang>(() => forced ?? initialLanguage());
  const setLang = useCallback((next: Lang) => {
    setLangState(next);
    try {
      globalThis.localStorage?.setItem(STORAGE_KEY, next);
    } catch {
      // not remembered, still switched
    }
  }, []);
  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = translate(lang, "appName");
  }, [lang]);
  const value = useMemo<I18nValue>(
    () => ({ lang, setLang, t: (key, vars) => translate(lang, key, vars) }),
    [lang, setLang],
  );
  return createElement(I18nContext.Provider, { value }, children);
}

export function useI18n(): I18nValue {
  return useContext(I18nContext);
}
