// The code login method at the edge: the person types the emailed code into the client app.
import type { GatewayLoginMethod } from "./login-method.ts";

export const codeMethod: GatewayLoginMethod = {
  // RFC 8176: a one-time password, delivered by email.
  amr: ["otp", "email"],
  emailPart: (issued) => ({ code: issued.code }),
};
