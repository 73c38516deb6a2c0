import { describe, expect, it } from "vitest";
import { leakedSecrets } from "./log-secrets.ts";

describe("leakedSecrets", () => {
  it("finds a secret standing alone, in a field or in text", () => {
    expect(leakedSecrets('{"code":"963118"}', ["963118"])).toEqual(["963118"]);
    expect(leakedSecrets('{"msg":"sent code 963118."}', ["963118"])).toEqual(["963118"]);
    expect(leakedSecrets('{"to":"jane@example.com"}', ["jane@example.com"])).toEqual(["jane@example.com"]);
  });

  it("does not take a code inside a longer token (a random request id) for a leak", () => {
    expect(leakedSecrets('{"requestId":"3f1c-fd5e79631187"}', ["963118"])).toEqual([]);
    expect(leakedSecrets('{"id":"usr_963118abc"}', ["963118"])).toEqual([]);
  });
});
