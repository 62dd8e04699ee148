import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { publicBotSlug } from "./api/publicBots";
import { PublicBotPage } from "./components/PublicBotPage";
import { I18nProvider } from "./i18n";
import "./styles.css";
import "./chat.css";
import "./public.css";
import { applySavedTheme } from "./theme";

applySavedTheme();

// `/b/{slug}` is a published bot's public page: no sign-in, none of the signed-in app.
const slug = publicBotSlug(window.location.pathname);

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <I18nProvider>{slug ? <PublicBotPage slug={slug} /> : <App />}</I18nProvider>
    </StrictMode>,
  );
}
