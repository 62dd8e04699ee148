import { act, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { I18nProvider } from "../i18n";
import { ErrorBanner } from "./ErrorBanner";

afterEach(() => {
  vi.useRealTimers();
});

describe("ErrorBanner", () => {
  it("offers Retry only once Retry-After has passed, then retries and closes", () => {
    vi.useFakeTimers();
    const retry = vi.fn();
    const dismiss = vi.fn();
    render(
      <I18nProvider lang="ja">
        <ErrorBanner banner={{ text: "多すぎます", retry, retryAfter: 2 }} onDismiss={dismiss} />
      </I18nProvider>,
    );
    const button = screen.getByTestId("error-retry") as HTMLButtonElement;
    expect(screen.getByRole("alert").textContent).toContain("多すぎます");
    expect(button.disabled).toBe(true);
    expect(button.textContent).toBe("2 秒後に再試行");
    act(() => vi.advanceTimersByTime(1000));
    expect(button.textContent).toBe("1 秒後に再試行");
    act(() => vi.advanceTimersByTime(1000));
    expect(button.disabled).toBe(false);
    expect(button.textContent).toBe("再試行");
    fireEvent.click(button);
    expect(dismiss).toHaveBeenCalled();
    expect(retry).toHaveBeenCalledTimes(1);
  });

  it("has no Retry when trying again cannot help", () => {
    render(
      <I18nProvider lang="en">
        <ErrorBanner banner={{ text: "Too long." }} onDismiss={() => undefined} />
      </I18nProvider>,
    );
    expect(screen.queryByTestId("error-retry")).toBeNull();
    expect(screen.getByRole("button", { name: "Dismiss" })).toBeTruthy();
  });
});
