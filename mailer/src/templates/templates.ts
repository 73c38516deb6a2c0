// Login-code email templates: subject, plain text and HTML per language, in Mustache.
// Files are named login-code.<locale>.<subject|text|html>.mustache; the defaults (English and
// Spanish) are in ./default, and an operator's folder (MAILER_TEMPLATES_DIR) overrides any
// of them or adds languages. A language is offered when it has all three parts.
//
// Language choice: the requested BCP 47 tag, then its language alone, then the default
// ("es-MX" -> "es-mx", "es", MAILER_DEFAULT_LOCALE).
// Escaping: everything interpolated into HTML is HTML-escaped; the subject and text are plain
// text (no escaping), and the subject loses any line break.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Mustache from "mustache";

const PARTS = ["subject", "text", "html"] as const;
type Part = (typeof PARTS)[number];
const FILE = /^login-code\.([a-z]{2,3}(?:-[a-z0-9]{1,8})*)\.(subject|text|html)\.mustache$/;

export interface TemplateView {
  appName: string;
  /** The code to type; "" when the app uses links only (templates test it with {{#code}}). */
  code: string;
  /** The magic link; "" when the app uses codes only ({{#link}}). */
  link: string;
  /** Whole minutes the code still works for. */
  minutes: number;
}

export interface Rendered {
  locale: string;
  subject: string;
  text: string;
  html: string;
}

export interface Templates {
  readonly locales: readonly string[];
  render(requestedLocale: string, view: TemplateView): Rendered;
}

/** Mustache's parse tree: [type, value, start, end, children?, ...]. */
type Token = [string, string, number, number, Token[]?];

/** The variables a template prints ({{x}} or {{{x}}} or {{& x}}), in any section. */
function namesIn(tokens: Token[], into = new Set<string>()): Set<string> {
  for (const [type, value, , , children] of tokens) {
    if (type === "name" || type === "&") into.add(value);
    if (children) namesIn(children, into);
  }
  return into;
}

function readDir(dir: string, into: Map<string, Partial<Record<Part, string>>>) {
  for (const name of readdirSync(dir)) {
    const m = FILE.exec(name.toLowerCase());
    if (!m) continue;
    const [, locale = "", part] = m;
    const entry = into.get(locale) ?? {};
    entry[part as Part] = readFileSync(join(dir, name), "utf8");
    into.set(locale, entry);
  }
}

export function createTemplates(options: {
  overrideDir?: string | undefined;
  defaultLocale: string;
}): Templates {
  const sets = new Map<string, Partial<Record<Part, string>>>();
  readDir(join(import.meta.dirname, "default"), sets);
  if (options.overrideDir) {
    if (!existsSync(options.overrideDir))
      throw new Error(`MAILER_TEMPLATES_DIR ${options.overrideDir} does not exist`);
    const overrides = new Map<string, Partial<Record<Part, string>>>();
    readDir(options.overrideDir, overrides);
    for (const [locale, parts] of overrides) sets.set(locale, { ...sets.get(locale), ...parts });
  }
  const complete = new Map<string, Record<Part, string>>();
  for (const [locale, parts] of sets) {
    if (PARTS.every((p) => typeof parts[p] === "string")) {
      const full = parts as Record<Part, string>;
      // A body that cannot show the code or the link would send emails nobody can log in
      // with (an override written before magic links, say): refused at start-up.
      for (const p of ["text", "html"] as const) {
        const names = namesIn(Mustache.parse(full[p]) as Token[]);
        const missing = (["code", "link"] as const).filter((n) => !names.has(n));
        if (missing.length) {
          throw new Error(
            `template login-code.${locale}.${p}.mustache never shows ${missing.map((n) => `{{${n}}}`).join(" or ")}`,
          );
        }
      }
      Mustache.parse(full.subject);
      complete.set(locale, full);
    }
  }
  const fallback = options.defaultLocale.toLowerCase();
  if (!complete.has(fallback)) {
    throw new Error(`no complete templates for the default language "${options.defaultLocale}"`);
  }
  const plain = { escape: (value: unknown) => String(value) };

  const choose = (requested: string): string => {
    const tag = requested.toLowerCase();
    const language = tag.split("-")[0] ?? "";
    for (const candidate of [tag, language]) if (candidate && complete.has(candidate)) return candidate;
    return fallback;
  };

  return {
    locales: [...complete.keys()].sort(),
    render(requestedLocale, view) {
      const locale = choose(requestedLocale);
      const t = complete.get(locale) as Record<Part, string>;
      return {
        locale,
        subject: Mustache.render(t.subject, view, {}, plain).replace(/\s+/g, " ").trim(),
        text: Mustache.render(t.text, view, {}, plain),
        html: Mustache.render(t.html, view),
      };
    },
  };
}
