// Persistence's inner layers, lowest first. A module imports only from its own layer and the
// ones below it: the store knows nothing of limits or logins, limits nothing of logins, and a
// login method nothing of the service that serves it. Folders of one layer do not import each
// other either, except as listed in SIDEWAYS.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { describe, expect, it } from "vitest";

const LAYERS: readonly (readonly string[])[] = [
  ["errors.ts", "audit.ts"],
  ["crypto"],
  ["store"],
  ["limits", "idempotency", "client-apps", "users"],
  ["sessions"],
  ["login"],
  ["config.ts", "core.ts"],
  ["service", "server.ts"],
  ["cli", "main.ts"],
];
const SIDEWAYS = new Set(["core.ts -> config.ts", "server.ts -> service"]);

const src = import.meta.dirname;
const layerOf = (part: string) => LAYERS.findIndex((layer) => layer.includes(part));

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : path.endsWith(".ts") ? [path] : [];
  });
}

describe("persistence's layers", () => {
  it("has no import from a higher layer, nor across one", () => {
    const wrong: string[] = [];
    const seen = new Set<string>();
    for (const file of filesUnder(src)) {
      if (file.endsWith(".test.ts")) continue;
      const from = relative(src, file).split(sep)[0] ?? "";
      seen.add(from);
      for (const [, target] of readFileSync(file, "utf8").matchAll(/from "(\.[^"]+)"/g)) {
        const to = relative(src, join(file, "..", target ?? "")).split(sep)[0] ?? "";
        if (to === from) continue;
        const [a, b] = [layerOf(from), layerOf(to)];
        if (a < 0 || b < 0 || b > a || (a === b && !SIDEWAYS.has(`${from} -> ${to}`)))
          wrong.push(`${relative(src, file)} imports ${target}`);
      }
    }
    expect(wrong).toEqual([]);
    // Every folder and top-level file has its place (a new one must be placed on purpose).
    expect([...seen].filter((part) => layerOf(part) < 0)).toEqual([]);
  });
});
