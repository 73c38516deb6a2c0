import { describe, expect, it } from "vitest";
import { addressLimitKey } from "./address-key.ts";

describe("addressLimitKey", () => {
  it("keeps IPv4 addresses as they are", () => {
    expect(addressLimitKey("203.0.113.7")).toBe("203.0.113.7");
  });

  it("counts IPv4 written in any IPv6 form as that IPv4 address", () => {
    for (const form of [
      "::ffff:203.0.113.7",
      "::FFFF:cb00:7107",
      "0:0:0:0:0:ffff:203.0.113.7",
      "::203.0.113.7",
      "::ffff:0:203.0.113.7",
      "64:ff9b::203.0.113.7",
      "64:ff9b::cb00:7107",
      "64:ff9b:1::203.0.113.7",
      "2002:cb00:7107::1",
      "2002:cb00:7107:beef::42",
      "2001:0:4136:e378:8000:63bf:34ff:8ef8",
    ]) {
      expect([form, addressLimitKey(form)]).toEqual([form, "203.0.113.7"]);
    }
  });

  it("counts ISATAP addresses by their /64: the host writes the IPv4 address itself", () => {
    expect(addressLimitKey("2001:db8:1:2::5efe:203.0.113.7")).toBe("2001:0db8:0001:0002::/64");
    expect(addressLimitKey("2001:db8:1:2:0:5efe:127.0.0.1")).toBe("2001:0db8:0001:0002::/64");
    expect(addressLimitKey("fe80::200:5efe:cb00:7107")).toBe("fe80:0000:0000:0000::/64");
  });

  it("counts other IPv6 addresses by their /64, zone ids dropped", () => {
    const key = "2001:0db8:0001:0002::/64";
    expect(addressLimitKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd")).toBe(key);
    expect(addressLimitKey("2001:DB8:1:2::9")).toBe(key);
    expect(addressLimitKey("2001:0db8:0001:0002:0:0:0:7")).toBe(key);
    expect(addressLimitKey("fe80::1%eth0")).toBe("fe80:0000:0000:0000::/64");
    expect(addressLimitKey("::1")).toBe("0000:0000:0000:0000::/64");
  });

  it("refuses what is not an IP address", () => {
    for (const bad of ["", "localhost", "1.2.3", "::g", "01.2.3.4"])
      expect(addressLimitKey(bad)).toBeUndefined();
  });
});
