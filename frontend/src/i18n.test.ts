import { describe, expect, it } from "vitest";
import { en, initialLanguage, ja, languageFor, translate } from "./i18n";

describe("i18n", () => {
  it("has the same keys in English and Japanese", () => {
    expect(Object.keys(ja).sort()).toEqual(Object.keys(en).sort());
  });

  it("has no empty strings", () => {
    for (const dict of [en, ja]) {
      for (const [key, value] of Object.entries(dict)) {
        expect(value.trim(), key).not.toBe("");
      }
    }
  });

  it("uses the same placeholders in both languages", () => {
    const names = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort();
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      expect(names(ja[key]), key).toEqual(names(en[key]));
    }
  });

  it("picks Japanese for ja* browser languages and English otherwise", () => {
    expect(languageFor("ja")).toBe("ja");
    expect(languageFor("ja-JP")).toBe("ja");
    expect(languageFor("en-US")).toBe("en");
    expect(languageFor("fr")).toBe("en");
    expect(languageFor(undefined)).toBe("en");
  });

  it("prefers the remembered choice", () => {
    localStorage.setItem("rolechat.lang", "ja");
    expect(initialLanguage()).toBe("ja");
    localStorage.setItem("rolechat.lang", "xx");
    expect(initialLanguage()).toBe(languageFor(navigator.language));
  });

  it("fills placeholders", () => {
    expect(translate("en", "signedInAs", { name: "alice" })).toBe("Signed in as alice");
    expect(translate("ja", "signedInAs", { name: "alice" })).toBe("alice でサインイン中");
  });
});
