import type { ErrorReason } from "@emailauth/client/source";
import { describe, expect, it } from "vitest";
import type { PublicReason } from "./errors.ts";

/** The reasons ErrorReason names, without its open end (`string & {}`). */
type Named<R> = R extends string ? (string extends R ? never : R) : never;
/** `[]` when `R` is empty; otherwise a type that `[]` is not, which names R's members. */
type NoneOf<R> = [R] extends [never] ? [] : [R];

describe("the public reasons", () => {
  it("are the ones the typed client's ErrorReason names, no more, no fewer", () => {
    // tsc fails on these lines, naming the reasons, when the two lists disagree.
    const unnamed: NoneOf<Exclude<PublicReason, Named<ErrorReason>>> = [];
    const stale: NoneOf<Exclude<Named<ErrorReason>, PublicReason>> = [];
    expect([...unnamed, ...stale]).toEqual([]);
  });
});
