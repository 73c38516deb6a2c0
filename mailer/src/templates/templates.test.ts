import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createTemplates } from "./templates.ts";

const view = { appName: "Shop", code: "123456", link: "", minutes: 10 };
const link = "https://shop.example/login/link?challenge_id=chl_x&link_token=lnk_y";

describe("templates", () => {
  const templates = createTemplates({ defaultLocale: "en" });

  it("offers English and Spanish", () => {
    expect(templates.locales).toEqual(["en", "es"]);
  });

  it("falls back from a regional tag to its language, then to the default", () => {
    expect(templates.render("es-MX", view).locale).toBe("es");
    expect(templates.render("ES", view).locale).toBe("es");
    expect(templates.render("fr-CA", view).locale).toBe("en");
    expect(templates.render("", view).locale).toBe("en");
  });

  it("puts the app name, the code and its lifetime in every part", () => {
    const r = templates.render("es", view);
    expect(r.subject).toBe("123456 es tu código para entrar en Shop");
    expect(r.text).toContain("123456");
    expect(r.text).toContain("10 minutos");
    expect(r.html).toContain(">123456</span>");
  });

  it("escapes what it interpolates into HTML, and keeps the subject on one line", () => {
    const r = templates.render("en", { ...view, appName: `<img src=x onerror="alert(1)">\r\nBcc: x@y.z` });
    expect(r.html).not.toContain("<img");
    expect(r.html).toContain("&lt;img src&#x3D;x onerror&#x3D;&quot;alert(1)&quot;&gt;");
    expect(r.subject).not.toMatch(/[\r\n]/);
    expect(r.text).toContain(`<img src=x onerror="alert(1)">`);
  });

  it("lets an operator override a part or add a language from a folder", () => {
    const dir = mkdtempSync(join(tmpdir(), "templates-"));
    writeFileSync(join(dir, "login-code.en.subject.mustache"), "Code for {{appName}}");
    for (const part of ["subject", "text", "html"]) {
      writeFileSync(
        join(dir, `login-code.pt.${part}.mustache`),
        `pt ${part}: {{code}}{{#link}} {{link}}{{/link}}`,
      );
    }
    const custom = createTemplates({ overrideDir: dir, defaultLocale: "en" });
    expect(custom.locales).toEqual(["en", "es", "pt"]);
    expect(custom.render("en", view).subject).toBe("Code for Shop");
    expect(custom.render("en", view).text).toContain("Your sign-in code for Shop");
    expect(custom.render("pt-BR", view).html).toBe("pt html: 123456");
  });

  it("shows the code only, the link only, or both, as the app uses them", () => {
    for (const locale of ["en", "es"]) {
      const codeOnly = templates.render(locale, view);
      expect(codeOnly.html).not.toContain("href");
      expect(codeOnly.text).not.toContain("http");

      const both = templates.render(locale, { ...view, link });
      expect(both.subject).toContain("123456");
      expect(both.text).toContain("123456");
      expect(both.text).toContain(link);
      expect(both.html).toContain(">123456</span>");
      // HTML-escaped in the attribute (& and = as entities), which every mail client decodes.
      expect(both.html).toContain(
        'href="https:&#x2F;&#x2F;shop.example&#x2F;login&#x2F;link?challenge_id&#x3D;chl_x&amp;link_token&#x3D;lnk_y"',
      );

      const linkOnly = templates.render(locale, { ...view, code: "", link });
      expect(linkOnly.subject).toMatch(/Shop$/);
      expect(linkOnly.subject).not.toMatch(/\d/);
      expect(linkOnly.text).toContain(link);
      expect(linkOnly.html).toContain("href=");
      expect(linkOnly.html).not.toContain("</span>");
      expect(linkOnly.text).toMatch(/(minutes|minutos)/);
    }
  });

  it("keeps an override written before links, and sends emails with a link in the built-in templates", () => {
    const dir = mkdtempSync(join(tmpdir(), "templates-"));
    for (const locale of ["en", "pt"]) {
      writeFileSync(join(dir, `login-code.${locale}.subject.mustache`), "Code {{code}}");
      writeFileSync(join(dir, `login-code.${locale}.text.mustache`), "Your code: {{code}}");
      writeFileSync(join(dir, `login-code.${locale}.html.mustache`), "<p>{{code}}</p>");
    }
    const custom = createTemplates({ overrideDir: dir, defaultLocale: "en" });
    expect(custom.warnings).toEqual([
      "the login-code.en templates never show {{link}} in both bodies: emails with one use the built-in templates",
      "the login-code.pt templates never show {{link}} in both bodies: emails with one use the built-in templates",
    ]);
    expect(custom.render("en", view).text).toBe("Your code: 123456");
    for (const locale of ["en", "pt-BR"]) {
      const withLink = custom.render(locale, { ...view, link });
      expect(withLink.text).toContain(link);
      expect(withLink.text).toContain("123456");
      expect(withLink.locale).toBe("en");
    }
    expect(createTemplates({ defaultLocale: "en" }).warnings).toEqual([]);
  });
});
