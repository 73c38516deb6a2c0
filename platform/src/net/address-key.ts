// The key an IP address is rate-limited by, so that one source is counted once however it
// writes its address:
//   - IPv4 as itself;
//   - IPv4 inside IPv6, in every standard form, as that IPv4 address: mapped (::ffff:a.b.c.d),
//     compatible (::a.b.c.d, deprecated), translated (::ffff:0:a.b.c.d, SIIT), NAT64
//     (64:ff9b::a.b.c.d and the local-use 64:ff9b:1::/48 with a /96 prefix), 6to4
//     (2002:AABB:CCDD::/48, whose whole /48 belongs to one IPv4 host) and Teredo (2001:0::/32,
//     the client's address inverted in the last 32 bits);
//   - other IPv6 addresses by their /64 network (one subscriber usually holds a whole /64).
//     ISATAP addresses (…:0:5efe:a.b.c.d) too: their interface id is chosen by the host, so
//     whoever holds a /64 could write any IPv4 address there, counting as (and locking out)
//     any IPv4 source, or as a new one per connection (found by review).
// Zone ids (fe80::1%eth0) are dropped. Undefined for anything that is not an IP address.
import { isIP } from "node:net";

function expand(ipv6: string): number[] {
  let address = ipv6.toLowerCase().split("%")[0] ?? "";
  // An embedded dotted IPv4 tail becomes two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    address = `${address.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = address.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const missing = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array<string>(missing).fill("0"), ...right].map((g) => Number.parseInt(g, 16));
}

const dotted = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;

/** The IPv4 address an IPv6 address stands for, if it embeds one. */
function embeddedIPv4(g: number[]): string | undefined {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const zeros = (...xs: number[]) => xs.every((x) => x === 0);
  if (zeros(g0, g1, g2, g3, g4)) {
    if (g5 === 0xffff) return dotted(g6, g7); // mapped
    if (g5 === 0 && (g6 !== 0 || g7 > 1)) return dotted(g6, g7); // compatible (not :: or ::1)
  }
  if (zeros(g0, g1, g2, g3) && g4 === 0xffff && g5 === 0) return dotted(g6, g7); // translated
  if (g0 === 0x64 && g1 === 0xff9b && zeros(g2, g3, g4, g5)) return dotted(g6, g7); // NAT64
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1 && zeros(g3, g4, g5)) return dotted(g6, g7); // local NAT64
  if (g0 === 0x2002) return dotted(g1, g2); // 6to4
  if (g0 === 0x2001 && g1 === 0) return dotted(g6 ^ 0xffff, g7 ^ 0xffff); // Teredo client
  return undefined;
}

export function addressLimitKey(ip: string): string | undefined {
  const version = isIP(ip.split("%")[0] ?? "");
  if (version === 4) return ip;
  if (version !== 6) return undefined;
  const groups = expand(ip);
  const network = groups.slice(0, 4).map((x) => x.toString(16).padStart(4, "0"));
  return embeddedIPv4(groups) ?? `${network.join(":")}::/64`;
}
