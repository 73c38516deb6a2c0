import { getOption } from "@bufbuild/protobuf";
import { field as fieldRules } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { StartLoginRequestSchema, VerifyLoginRequestSchema } from "@emailauth/proto/auth";
import { describe, expect, it } from "vitest";
import { EMAIL_INPUT_MAX_LENGTH, EMAIL_MAX_LENGTH, normalizeEmail } from "./email.ts";

describe("email bounds, defined once", () => {
  it("agree with the public contract's max_len on every email field", () => {
    for (const schema of [StartLoginRequestSchema, VerifyLoginRequestSchema]) {
      const email = schema.fields.find((f) => f.name === "email");
      const rules = email ? getOption(email, fieldRules) : undefined;
      const max = rules?.type.case === "string" ? Number(rules.type.value.maxLen) : undefined;
      expect([schema.typeName, max]).toEqual([schema.typeName, EMAIL_INPUT_MAX_LENGTH]);
    }
  });

  it("refuse longer input, and normalised addresses longer than SMTP carries", () => {
    expect(normalizeEmail(`${"a".repeat(EMAIL_INPUT_MAX_LENGTH)}@x.io`)).toEqual({
      ok: false,
      problem: "too long",
    });
    const long = `${"a".repeat(64)}@${Array.from({ length: 4 }, () => "b".repeat(60)).join(".")}.io`;
    expect(long.length).toBeGreaterThan(EMAIL_MAX_LENGTH);
    expect(normalizeEmail(long)).toEqual({
      ok: false,
      problem: `longer than ${EMAIL_MAX_LENGTH} characters`,
    });
  });
});
