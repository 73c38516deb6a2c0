import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createTemplates } from "./templates.ts";

const view = { appName: "Shop", code: "123456", minutes: 10 };

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
      writeFileSync(join(dir, `login-code.pt.${part}.mustache`), `pt ${part}: {{code}}`);
    }
    const custom = createTemplates({ overrideDir: dir, defaultLocale: "en" });
    expect(custom.locales).toEqual(["en", "es", "pt"]);
    expect(custom.render("en", view).subject).toBe("Code for Shop");
    expect(custom.render("en", view).text).toContain("Your sign-in code for Shop");
    expect(custom.render("pt-BR", view).html).toBe("pt html: 123456");
  });
});
