/**
 * Renders model output as Markdown (GitHub flavour: tables, strikethrough, task lists).
 * Model output is untrusted: raw HTML is never parsed as HTML (react-markdown turns it into
 * plain text; no rehype-raw), URLs go through react-markdown's safe-protocol filter, and
 * images are shown as links instead of being loaded (no remote fetches from model output).
 * Fenced code is highlighted into React elements (see ../highlight.ts) and has a copy button.
 */
import { memo, useState } from "react";
import type { ComponentPropsWithoutRef, ReactNode } from "react";
import ReactMarkdown from "react-markdown";
import type { Components } from "react-markdown";
import remarkGfm from "remark-gfm";
import { rehypeHighlightCode } from "../highlight";
import { useI18n } from "../i18n";

function textOf(node: ReactNode): string {
  if (node === null || node === undefined || typeof node === "boolean") return "";
  if (typeof node === "string" || typeof node === "number") return String(node);
  if (Array.isArray(node)) return node.map(textOf).join("");
  if (typeof node === "object" && "props" in node) {
    return textOf((node.props as { children?: ReactNode }).children);
  }
  return "";
}

function CodeBlock({ children }: ComponentPropsWithoutRef<"pre">) {
  const { t } = useI18n();
  const [copied, setCopied] = useState(false);
  const copy = () => {
    const text = textOf(children).replace(/\n$/, "");
    void navigator.clipboard?.writeText(text).then(
      () => {
        setCopied(true);
        window.setTimeout(() => setCopied(false), 1500);
      },
      () => undefined,
    );
  };
  return (
    <div className="code-block">
      <button type="button" className="code-copy" data-testid="code-copy" aria-label={t("copyCode")} onClick={copy}>
        {copied ? t("copied") : t("copy")}
      </button>
      <pre>{children}</pre>
    </div>
  );
}

const components: Components = {
  a: ({ href, children }) =>
    href ? (
      <a href={href} target="_blank" rel="noopener noreferrer nofollow">
        {children}
      </a>
    ) : (
      <span>{children}</span>
    ),
  img: ({ src, alt }) => {
    const label = alt || (typeof src === "string" ? src : "");
    return typeof src === "string" && src ? (
      <a className="md-image-link" href={src} target="_blank" rel="noopener noreferrer nofollow">
        {label}
      </a>
    ) : (
      <span>{label}</span>
    );
  },
  pre: CodeBlock,
  table: ({ children }) => (
    <div className="table-wrap">
      <table>{children}</table>
    </div>
  ),
};

const remarkPlugins = [remarkGfm];
const rehypePlugins = [rehypeHighlightCode];

function MarkdownView({ text }: { text: string }) {
  return (
    <div className="markdown">
      <ReactMarkdown remarkPlugins={remarkPlugins} rehypePlugins={rehypePlugins} components={components}>
        {text}
      </ReactMarkdown>
    </div>
  );
}

export const Markdown = memo(MarkdownView);
