import { describe, expect, it } from "vitest";
import { ipLimitKey } from "./ip.ts";

describe("ipLimitKey", () => {
  it("limits IPv4 addresses one by one", () => {
    expect(ipLimitKey("203.0.113.7")).toBe("203.0.113.7");
  });
  it("limits IPv6 addresses by their /64 network, however they are written", () => {
    const key = "2001:0db8:0000:0001::/64";
    expect(ipLimitKey("2001:db8:0:1::1")).toBe(key);
    expect(ipLimitKey("2001:db8:0:1:ffff:ffff:ffff:ffff")).toBe(key);
    expect(ipLimitKey("2001:DB8:0:1:0:0:0:7")).toBe(key);
    expect(ipLimitKey("::1")).toBe("0000:0000:0000:0000::/64");
  });
  it("limits IPv4-mapped IPv6 addresses as IPv4", () => {
    expect(ipLimitKey("::ffff:203.0.113.7")).toBe("203.0.113.7");
  });
  it("ignores what is not an address", () => {
    expect(ipLimitKey("")).toBeUndefined();
    expect(ipLimitKey("example.com")).toBeUndefined();
  });
});
