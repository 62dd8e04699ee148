import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { App } from "./App";
import { I18nProvider } from "./i18n";
import { apiError, json, mockFetch, noContent } from "./test/fetchMock";

function renderApp(lang: "en" | "ja" = "en") {
  render(
    <I18nProvider lang={lang}>
      <App />
    </I18nProvider>,
  );
}

const chatRoutes = {
  "GET /api/models": () => json({ models: [{ id: "small", label: "Small" }], default: "small" }),
  "GET /api/conversations": () => json({ conversations: [] }),
};

describe("App sign-in", () => {
  it("signs in locally, shows a refused username's error, and signs out", async () => {
    let signedIn = false;
    const calls = mockFetch({
      "GET /config.json": () => json({ auth: "local" }),
      "GET /api/me": () =>
        signedIn ? json({ id: "u1", username: "alice", groups: [] }) : apiError(401, "unauthenticated", "Sign in."),
      "POST /local/login": (call) => {
        const name = (call.body as { username: string }).username;
        if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) {
          return apiError(400, "invalid_username", "Use letters, digits, '.', '_' or '-'.");
        }
        signedIn = true;
        return noContent();
      },
      "POST /local/logout": () => {
        signedIn = false;
        return noContent();
      },
      ...chatRoutes,
    });
    renderApp();
    const username = await screen.findByTestId("signin-username");
    fireEvent.change(username, { target: { value: "bad name" } });
    fireEvent.click(screen.getByTestId("signin-submit"));
    expect(await screen.findByText("Use letters, digits, '.', '_' or '-'.")).toBeTruthy();

    fireEvent.change(username, { target: { value: "alice" } });
    fireEvent.click(screen.getByTestId("signin-submit"));
    await screen.findByTestId("new-chat");
    expect(calls.filter((c) => c.path === "/local/login").map((c) => c.body)).toEqual([
      { username: "bad name" },
      { username: "alice" },
    ]);

    fireEvent.click(screen.getByTestId("signout"));
    await screen.findByTestId("signin-username");
    expect(calls.some((c) => c.method === "POST" && c.path === "/local/logout")).toBe(true);
  });

  it("asks to sign in again when a Cognito session has expired", async () => {
    mockFetch({
      "GET /config.json": () => json({ auth: "cognito", logoutUrl: "https://auth.example.com/logout" }),
      "GET /api/me": () => apiError(401, "unauthenticated", "Sign in."),
    });
    renderApp();
    expect(await screen.findByText("Your session has expired. Please sign in again.")).toBeTruthy();
    expect(screen.queryByTestId("signin-username")).toBeNull();
  });

  it("switches language from the header and remembers it", async () => {
    mockFetch({
      "GET /config.json": () => json({ auth: "local" }),
      "GET /api/me": () => json({ id: "u1", username: "alice", groups: [] }),
      ...chatRoutes,
    });
    renderApp("en");
    await screen.findByTestId("new-chat");
    expect(screen.getByTestId("send").textContent).toBe("Send");
    fireEvent.change(screen.getByTestId("language-switch"), { target: { value: "ja" } });
    await waitFor(() => expect(screen.getByTestId("send").textContent).toBe("送信"));
    expect(localStorage.getItem("rolechat.lang")).toBe("ja");
    expect(document.documentElement.lang).toBe("ja");
  });

  it("toggles between light and dark and remembers the choice", async () => {
    mockFetch({
      "GET /config.json": () => json({ auth: "local" }),
      "GET /api/me": () => json({ id: "u1", username: "alice", groups: [] }),
      ...chatRoutes,
    });
    renderApp("en");
    const toggle = await screen.findByTestId("theme-toggle");
    const before = toggle.getAttribute("data-theme-now");
    fireEvent.click(toggle);
    const after = before === "dark" ? "light" : "dark";
    expect(document.documentElement.dataset.theme).toBe(after);
    expect(localStorage.getItem("rolechat.theme")).toBe(after);
    expect(toggle.getAttribute("aria-label")).toBe(after === "dark" ? "Switch to light theme" : "Switch to dark theme");
    delete document.documentElement.dataset.theme;
  });
});
