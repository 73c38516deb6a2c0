import { describe, expect, it } from "vitest";
import { createClientAddressOf } from "./client-address.ts";

describe("the client's address", () => {
  const { clientAddressOf, isTrusted } = createClientAddressOf(["10.0.0.0/8", "2001:db8:ffff::/48"]);

  it("is the peer's, X-Forwarded-For ignored, when the peer is not a trusted proxy", () => {
    expect(clientAddressOf("203.0.113.9", "198.51.100.1")).toBe("203.0.113.9");
    expect(clientAddressOf("::ffff:203.0.113.9", undefined)).toBe("203.0.113.9");
  });

  it("is the nearest untrusted hop behind trusted proxies, in every form proxies write", () => {
    expect(clientAddressOf("10.0.0.2", "198.51.100.1, 203.0.113.7")).toBe("203.0.113.7");
    expect(clientAddressOf("10.0.0.2", "198.51.100.1, 203.0.113.7:4711, 10.0.0.9")).toBe("203.0.113.7");
    expect(clientAddressOf("10.0.0.2", ["198.51.100.1", "[2001:db8::7]:443"])).toBe("2001:db8::7");
    expect(clientAddressOf("10.0.0.2", '"[2001:db8::8]"')).toBe("2001:db8::8");
    expect(clientAddressOf("2001:db8:ffff::1", "2001:db8::9")).toBe("2001:db8::9");
  });

  it("stops at the proxy when an entry is no address: what stands left of it may be invented", () => {
    expect(clientAddressOf("10.0.0.2", "198.51.100.66, unknown")).toBe("10.0.0.2");
    expect(clientAddressOf("10.0.0.2", "198.51.100.66, 10.0.0.3, _hidden")).toBe("10.0.0.2");
  });

  it("knows the trusted proxies", () => {
    expect([isTrusted("10.1.2.3"), isTrusted("::ffff:10.1.2.3"), isTrusted("11.0.0.1")]).toEqual([
      true,
      true,
      false,
    ]);
  });
});
