import { createLogSink } from "@emailauth/devkit";
import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.ts";
import { CENSORED, maskEmail, scrubText } from "./scrub.ts";

const apiKey = `eak_${"a".repeat(52)}`;
const refreshToken = `ert_${"b".repeat(64)}`;
const jwt = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c3JfeCJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ";

describe("logger", () => {
  it("censors secret fields wherever they are nested", () => {
    const sink = createLogSink();
    const logger = createLogger({ service: "test", destination: sink.stream });
    logger.info(
      {
        email: "jane.doe@example.com",
        code: "123456",
        request: { apiKey, refreshToken, nested: { accessToken: jwt } },
        headers: { authorization: `Bearer ${apiKey}` },
      },
      "something happened",
    );
    const [line] = sink.lines();
    expect(line).toMatchObject({
      service: "test",
      msg: "something happened",
      email: "[REDACTED]",
      code: "[REDACTED]",
      request: { apiKey: "[REDACTED]", refreshToken: "[REDACTED]", nested: { accessToken: "[REDACTED]" } },
      headers: { authorization: "[REDACTED]" },
    });
    expect(sink.text()).not.toMatch(/jane\.doe|123456|eak_a|ert_b|eyJ/);
  });

  it("censors secret fields at any depth, and in child loggers' bindings", () => {
    const sink = createLogSink();
    const logger = createLogger({ service: "test", destination: sink.stream });
    logger
      .child({ apiKey, requestId: "r-1" })
      .warn(
        { a: { b: { c: { d: { Code: "654321", password: "hunter2" } } } }, list: [{ token: "t0k3n" }] },
        "deep",
      );
    const [line] = sink.lines();
    expect(line).toMatchObject({
      requestId: "r-1",
      apiKey: "[REDACTED]",
      a: { b: { c: { d: { Code: "[REDACTED]", password: "[REDACTED]" } } } },
      list: [{ token: "[REDACTED]" }],
    });
    expect(sink.text()).not.toMatch(/654321|hunter2|t0k3n|eak_a/);
  });

  it("scrubs secrets out of free text: messages, unknown fields and errors", () => {
    const sink = createLogSink();
    const logger = createLogger({ service: "test", destination: sink.stream });
    const err = new Error(`could not send to jane.doe@example.com with ${apiKey}`);
    logger.error({ err, note: `token ${refreshToken} and ${jwt}` }, `failed for jane.doe@example.com`);
    const text = sink.text();
    expect(text).not.toMatch(/jane\.doe@|eak_a{8}|ert_b{8}|eyJhbGci/);
    expect(text).toContain("j***@example.com");
    expect(text).toContain("eak_[REDACTED]");
    expect(text).toContain("ert_[REDACTED]");
    expect(text).toContain("[JWT REDACTED]");
  });

  it("keeps an error's diagnostic code (ECONNREFUSED) but censors any other code on it", () => {
    const sink = createLogSink();
    const logger = createLogger({ service: "test", destination: sink.stream });
    logger.warn({ err: Object.assign(new Error("connect failed"), { code: "ECONNREFUSED" }) }, "a");
    logger.warn({ err: Object.assign(new Error("odd"), { code: "123456" }) }, "b");
    const [first, second] = sink.lines();
    expect(first?.err).toMatchObject({ code: "ECONNREFUSED", message: "connect failed" });
    expect(second?.err).toMatchObject({ code: CENSORED });
    expect(sink.text()).not.toContain("123456");
  });

  it("masks email addresses keeping only the first character and the domain", () => {
    expect(maskEmail("jane@example.com")).toBe("j***@example.com");
    expect(scrubText("to: a@b.co, Bearer abc.def")).toBe("to: a***@b.co, Bearer [REDACTED]");
  });
});
