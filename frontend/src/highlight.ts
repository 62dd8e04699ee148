/**
 * Syntax highlighting for code blocks: highlight.js grammars (a chosen few) through lowlight,
 * which returns a syntax tree rather than HTML. The tree becomes ordinary React elements
 * (spans with `hljs-*` classes), so nothing is parsed as HTML and nothing is evaluated.
 */
import { createLowlight } from "lowlight";
import bash from "highlight.js/lib/languages/bash";
import c from "highlight.js/lib/languages/c";
import cpp from "highlight.js/lib/languages/cpp";
import css from "highlight.js/lib/languages/css";
import diff from "highlight.js/lib/languages/diff";
import go from "highlight.js/lib/languages/go";
import java from "highlight.js/lib/languages/java";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import python from "highlight.js/lib/languages/python";
import rust from "highlight.js/lib/languages/rust";
import sql from "highlight.js/lib/languages/sql";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";
import yaml from "highlight.js/lib/languages/yaml";

const lowlight = createLowlight({
  bash, c, cpp, css, diff, go, java, javascript, json, python, rust, sql, typescript, xml, yaml,
});
lowlight.registerAlias({ bash: ["sh", "shell", "zsh"], javascript: ["js", "jsx"], typescript: ["ts", "tsx"], python: ["py"] });

interface HastNode {
  type: string;
  tagName?: string;
  value?: string;
  properties?: Record<string, unknown>;
  children?: HastNode[];
}

function classesOf(node: HastNode): string[] {
  const cls = node.properties?.className;
  return Array.isArray(cls) ? cls.map(String) : typeof cls === "string" ? cls.split(/\s+/) : [];
}

function textOf(node: HastNode): string {
  if (node.type === "text") return node.value ?? "";
  return (node.children ?? []).map(textOf).join("");
}

/** The language a `code` element's `language-*` class names, when it is one we highlight. */
export function languageOf(node: HastNode): string | null {
  for (const cls of classesOf(node)) {
    if (cls.startsWith("language-")) {
      const lang = cls.slice("language-".length).toLowerCase();
      return lowlight.registered(lang) ? lang : null;
    }
  }
  return null;
}

function visit(node: HastNode): void {
  for (const child of node.children ?? []) {
    if (node.type === "element" && node.tagName === "pre" && child.type === "element" && child.tagName === "code") {
      const lang = languageOf(child);
      if (lang) {
        try {
          const tree = lowlight.highlight(lang, textOf(child));
          child.children = tree.children as HastNode[];
          child.properties = { ...child.properties, className: [...classesOf(child), "hljs"] };
        } catch {
          // leave the block as plain text
        }
      }
    } else {
      visit(child);
    }
  }
}

/** A rehype plugin for react-markdown: highlights fenced code blocks that name a known language. */
export function rehypeHighlightCode() {
  return (tree: HastNode) => visit(tree);
}
