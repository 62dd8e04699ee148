/**
 * Renders model output as Markdown (GitHub flavour: tables, strikethrough, task lists).
 * Model output is untrusted: raw HTML is never parsed as HTML (react-markdown turns it into
 * plain text; no rehype-raw), URLs go through react-markdown's safe-protocol filter, and
 * images are shown as links instead of being loaded (no remote fetches from model output).
 * Fenced code is highlighted into React elements (see ../highlight.ts) and has a copy button.
 * The highlighter (highlight.js grammars) is a chunk of its own, loaded the first time a message
 * holds fenced code; until it arrives the code shows plain.
 */
import { memo, useEffect, useState } from "react";
import type { ComponentPropsWithoutRef, ReactNode } from "react";
import ReactMarkdown from "react-markdown";
import type { Components, Options } from "react-markdown";
import remarkGfm from "remark-gfm";
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
type Plugins = NonNullable<Options["rehypePlugins"]>;
const noPlugins: Plugins = [];
let highlighting: Plugins | null = null; // once loaded, shared by every message
let loading: Promise<Plugins> | null = null;

function loadHighlighter(): Promise<Plugins> {
  loading ??= import("../highlight").then(
    (module) => (highlighting = [module.rehypeHighlightCode]),
    (err: unknown) => {
      loading = null; // a failed download is tried again by the next message with code
      throw err;
    },
  );
  return loading;
}

const FENCE = /^ {0,3}(```|~~~)/m;

/** The highlighting plugins, once loaded; loads them when `text` has fenced code. */
function useHighlighting(text: string): Plugins {
  const needed = FENCE.test(text);
  const [plugins, setPlugins] = useState<Plugins | null>(highlighting);
  useEffect(() => {
    if (!needed || plugins) return;
    let live = true;
    loadHighlighter().then(
      (loaded) => live && setPlugins(loaded),
      () => undefined, // the code stays plain
    );
    return () => {
      live = false;
    };
  }, [needed, plugins]);
  return (needed && (plugins ?? highlighting)) || noPlugins;
}

function MarkdownView({ text }: { text: string }) {
  const rehypePlugins = useHighlighting(text);
  return (
    <div className="markdown">
      <ReactMarkdown remarkPlugins={remarkPlugins} rehypePlugins={rehypePlugins} components={components}>
        {text}
      </ReactMarkdown>
    </div>
  );
}

export const Markdown = memo(MarkdownView);
