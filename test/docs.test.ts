// The README's configuration reference is generated from the services' configuration
// definitions; this fails when they drift apart (run `npm run docs`).
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { README, readmeSection, renderReference } from "../dev/config-reference.ts";

it("has a configuration reference in the README that matches the services' definitions", () => {
  const section = readmeSection(readFileSync(README, "utf8"));
  expect(section, "README.md lacks the configuration reference markers").toBeDefined();
  expect(section).toBe(renderReference());
});
