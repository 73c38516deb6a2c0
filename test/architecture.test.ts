// The shape of the repository, checked: platform knows no service, and what ships (the image:
// the Dockerfile copies proto, platform and the services, and installs with npm ci --omit=dev)
// carries no development or test tool. Reads files only; no process is started.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const SHIPPED = ["proto", "platform", "persistence", "mailer", "gateway"];
/** Development and test tools: none may be in what ships. */
const DEV_ONLY = ["@emailauth/devkit", "vitest", "playwright-core", "smtp-server", "mailparser"];

interface PackageJson {
  name: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

const readJson = (file: string) => JSON.parse(readFileSync(file, "utf8")) as PackageJson;
const gitFiles = (...paths: string[]) =>
  execFileSync("git", ["ls-files", "-z", "--", ...paths], { cwd: root, encoding: "utf8" })
    .split("\0")
    .filter(Boolean);

/** Where Node finds `name` from `dir`: the nearest node_modules/<name> up the tree. */
function resolvePackage(name: string, dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    const candidate = join(d, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return candidate;
    if (d === root || d === dirname(d)) return undefined;
  }
}

/** Every package installed for the shipped workspaces' dependencies, by name, recursively. */
function productionClosure(): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const visit = (dir: string, path: string[]) => {
    const pkg = readJson(join(dir, "package.json"));
    const required = {
      ...pkg.dependencies,
      ...pkg.optionalDependencies,
      ...Object.fromEntries(
        Object.entries(pkg.peerDependencies ?? {}).filter(([n]) => !pkg.peerDependenciesMeta?.[n]?.optional),
      ),
    };
    for (const name of Object.keys(required)) {
      const found = resolvePackage(name, dir);
      // An optional dependency for another platform, not installed here.
      if (!found || seen.has(name)) continue;
      seen.set(name, [...path, name]);
      visit(found, [...path, name]);
    }
  };
  for (const workspace of SHIPPED)
    visit(join(root, workspace), [readJson(join(root, workspace, "package.json")).name]);
  return seen;
}

describe("platform", () => {
  it("names no service, in code, comments, tests or its package.json", () => {
    const naming = gitFiles("platform").filter((file) =>
      /gateway|persistence|mailer/i.test(readFileSync(join(root, file), "utf8")),
    );
    expect(naming).toEqual([]);
  });
});

describe("what ships", () => {
  it("depends on no development or test tool, however deep (npm ci --omit=dev installs none)", () => {
    const closure = productionClosure();
    expect(closure.size).toBeGreaterThan(20);
    const found = DEV_ONLY.filter((name) => closure.has(name)).map((name) => closure.get(name)?.join(" > "));
    expect(found).toEqual([]);
  });

  it("imports no development or test tool in its code, except the types", () => {
    const imports = /^\s*(?:import|export)\s+(?!type\b)[^;]*?\sfrom\s+"([^"]+)"/gm;
    const offending = gitFiles(...SHIPPED.map((w) => `${w}/src`))
      .filter((file) => file.endsWith(".ts") && !file.endsWith(".test.ts"))
      .flatMap((file) =>
        [...readFileSync(join(root, file), "utf8").matchAll(imports)]
          .map((m) => m[1] ?? "")
          .filter((spec) => DEV_ONLY.some((dev) => spec === dev || spec.startsWith(`${dev}/`)))
          .map((spec) => `${file}: ${spec}`),
      );
    expect(offending).toEqual([]);
  });

  it("is built without devkit: the Dockerfile copies none of it", () => {
    const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");
    expect(dockerfile.match(/^COPY\b.*\bdevkit\b.*$/gm) ?? []).toEqual([]);
    expect(dockerfile).toContain("npm ci --omit=dev");
  });
});
