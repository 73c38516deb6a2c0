// How stored app settings written by other versions are read.
import { describe, expect, it } from "vitest";
import { loginMethodOf, loginMethodsOf } from "./store.ts";

describe("stored login methods", () => {
  it("reads apps from before login methods as codes, and never reads an unknown method as one", () => {
    expect(loginMethodsOf(undefined)).toEqual(["code"]);
    expect(loginMethodsOf(["link", "code"])).toEqual(["code", "link"]);
    expect(loginMethodsOf(["passkey"])).toEqual([]);
    expect(loginMethodsOf(["passkey", "link", "link"])).toEqual(["link"]);
    // A session's method: absent (older sessions) means a code.
    expect(loginMethodOf(undefined)).toBe("code");
    expect(loginMethodOf("link")).toBe("link");
  });
});
