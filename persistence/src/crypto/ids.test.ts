// The shapes of ids are made here and checked at the edge by auth.proto's protovalidate
// patterns: one rule, and this test keeps the two spellings of it equal.
import { getOption } from "@bufbuild/protobuf";
import { field as fieldRules } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import {
  GetLoginStatusRequestSchema,
  RefreshSessionRequestSchema,
  RevokeSessionRequestSchema,
  RevokeUserSessionsRequestSchema,
  VerifyLoginRequestSchema,
} from "@emailauth/proto/auth";
import { describe, expect, it } from "vitest";
import {
  ID_PATTERNS,
  newChallengeId,
  newLinkToken,
  newRefreshToken,
  newSessionId,
  newUserId,
} from "./ids.ts";

type Schema = { typeName: string; fields: { name: string }[] };

function patternOf(schema: Schema, name: string): string | undefined {
  const field = schema.fields.find((f) => f.name === name);
  const rules = field ? getOption(field as never, fieldRules) : undefined;
  return rules?.type.case === "string" ? rules.type.value.pattern : undefined;
}

describe("id shapes", () => {
  it("are the ones the public contract checks", () => {
    const uses: [Schema, string, RegExp][] = [
      [VerifyLoginRequestSchema, "challenge_id", ID_PATTERNS.challenge],
      [VerifyLoginRequestSchema, "link_token", ID_PATTERNS.linkToken],
      [GetLoginStatusRequestSchema, "challenge_id", ID_PATTERNS.challenge],
      [RefreshSessionRequestSchema, "refresh_token", ID_PATTERNS.refreshToken],
      [RevokeSessionRequestSchema, "refresh_token", ID_PATTERNS.refreshToken],
      [RevokeSessionRequestSchema, "session_id", ID_PATTERNS.session],
      [RevokeUserSessionsRequestSchema, "user_id", ID_PATTERNS.user],
    ];
    for (const [schema, field, pattern] of uses) {
      expect([schema.typeName, field, patternOf(schema, field)]).toEqual([
        schema.typeName,
        field,
        pattern.source,
      ]);
    }
  });

  it("are what the generators make", () => {
    const tag = "abcdefghijkl";
    expect(newChallengeId(tag)).toMatch(ID_PATTERNS.challenge);
    expect(newUserId(tag)).toMatch(ID_PATTERNS.user);
    expect(newSessionId(tag)).toMatch(ID_PATTERNS.session);
    expect(newRefreshToken(tag)).toMatch(ID_PATTERNS.refreshToken);
    expect(newLinkToken()).toMatch(ID_PATTERNS.linkToken);
  });
});
