/** The header's language switch and light/dark toggle (the signed-in app and the public bot page). */
import { LANGUAGES, useI18n } from "../i18n";
import type { Lang } from "../i18n";
import { useTheme } from "../theme";

export function HeaderControls() {
  const { t, lang, setLang } = useI18n();
  const { theme, toggle } = useTheme();
  const label = theme === "dark" ? t("themeToLight") : t("themeToDark");
  return (
    <>
      <select
        className="language-switch"
        data-testid="language-switch"
        aria-label={t("language")}
        value={lang}
        onChange={(e) => setLang(e.target.value as Lang)}
      >
        {LANGUAGES.map((l) => (
          <option key={l.code} value={l.code} lang={l.code}>
            {l.name}
          </option>
        ))}
      </select>
      <button
        type="button"
        className="btn btn-small theme-toggle"
        data-testid="theme-toggle"
        data-theme-now={theme}
        aria-label={label}
        title={label}
        onClick={toggle}
      >
        <span aria-hidden="true">{theme === "dark" ? "☀" : "☾"}</span>
      </button>
    </>
  );
}
