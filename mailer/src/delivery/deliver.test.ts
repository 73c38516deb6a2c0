import { describe, expect, it } from "vitest";
import { classify } from "./deliver.ts";

describe("classify", () => {
  it("retries what may pass: SMTP 4xx, connection trouble, timeouts, authentication", () => {
    expect(classify({ code: "EENVELOPE", responseCode: 451 })).toMatchObject({
      errorClass: "SMTP_TRANSIENT",
      smtpCode: 451,
      permanent: false,
    });
    expect(classify({ code: "ECONNECTION" })).toMatchObject({ errorClass: "CONNECTION", permanent: false });
    expect(classify({ code: "ETIMEDOUT" })).toMatchObject({ errorClass: "TIMEOUT", permanent: false });
    expect(classify({ code: "EAUTH", responseCode: 535 })).toMatchObject({
      errorClass: "AUTH",
      permanent: false,
    });
  });

  it("gives up on what will not pass: SMTP 5xx, a refused envelope", () => {
    expect(classify({ code: "EENVELOPE", responseCode: 550 })).toMatchObject({
      errorClass: "SMTP_PERMANENT",
      smtpCode: 550,
      permanent: true,
    });
    expect(classify({ code: "EENVELOPE" })).toMatchObject({ errorClass: "ENVELOPE", permanent: true });
  });
});
