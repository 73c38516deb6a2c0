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
  /** What an operator should know about their templates (log them at start-up). */
  readonly warnings: readonly string[];
  render(requestedLocale: string, view: TemplateView): Rendered;
}

/** What an email may carry that a person signs in with; each must be shown when present. */
const SHOWN = ["code", "link"] as const;
type Shown = (typeof SHOWN)[number];

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
  const builtIn = new Map([...sets].map(([locale, parts]) => [locale, parts as Record<Part, string>]));
  if (options.overrideDir) {
    if (!existsSync(options.overrideDir))
      throw new Error(`MAILER_TEMPLATES_DIR ${options.overrideDir} does not exist`);
    const overrides = new Map<string, Partial<Record<Part, string>>>();
    readDir(options.overrideDir, overrides);
    for (const [locale, parts] of overrides) sets.set(locale, { ...sets.get(locale), ...parts });
  }
  const complete = new Map<string, Record<Part, string>>();
  /** What both bodies of a language's templates can show: an email needing more uses the built-in ones. */
  const shows = new Map<string, Set<Shown>>();
  const warnings: string[] = [];
  for (const [locale, parts] of sets) {
    if (PARTS.every((p) => typeof parts[p] === "string")) {
      const full = parts as Record<Part, string>;
      const [text, html] = (["text", "html"] as const).map((p) =>
        namesIn(Mustache.parse(full[p]) as Token[]),
      );
      const shown = new Set(SHOWN.filter((n) => text?.has(n) && html?.has(n)));
      Mustache.parse(full.subject);
      complete.set(locale, full);
      shows.set(locale, shown);
      // An override written before magic links cannot show a link: emails with one would
      // reach people with nothing to sign in with. Those emails get the built-in templates.
      const missing = SHOWN.filter((n) => !shown.has(n));
      if (missing.length) {
        warnings.push(
          `the login-code.${locale} templates never show ${missing.map((n) => `{{${n}}}`).join(" or ")} in both bodies: emails with one use the built-in templates`,
        );
      }
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
    warnings,
    render(requestedLocale, view) {
      let locale = choose(requestedLocale);
      let t = complete.get(locale) as Record<Part, string>;
      const needed = SHOWN.filter((n) => view[n] !== "");
      if (!needed.every((n) => shows.get(locale)?.has(n))) {
        locale = builtIn.has(locale) ? locale : builtIn.has(fallback) ? fallback : "en";
        t = builtIn.get(locale) as Record<Part, string>;
      }
      return {
        locale,
        subject: Mustache.render(t.subject, view, {}, plain).replace(/\s+/g, " ").trim(),
        text: Mustache.render(t.text, view, {}, plain),
        html: Mustache.render(t.html, view),
      };
    },
  };
}
