import { describe, expect, it } from "vitest";
import { parseWebLink } from "./web-link.ts";

describe("web links", () => {
  it("takes absolute http(s) URLs and says why it refuses the rest", () => {
    expect(parseWebLink("https://shop.example/l?x=1")).toMatchObject({
      url: { href: "https://shop.example/l?x=1" },
    });
    expect(parseWebLink("HTTP://LOCALHOST:3000/a/../m")).toMatchObject({
      url: { href: "http://localhost:3000/m" },
    });
    const problems: [string, string][] = [
      ["/relative", "not an absolute URL"],
      ["javascript:alert(1)", "not an http(s) URL"],
      ["data:text/html,x", "not an http(s) URL"],
      ["https://a:b@shop.example/", "no credentials in the URL"],
      ["https://shop.example/#t", "no fragment"],
      ["https://shop.example/ x", "not a URL"],
      ["https://shop.example/\u0000", "not a URL"],
    ];
    for (const [raw, problem] of problems) expect([raw, parseWebLink(raw)]).toEqual([raw, { problem }]);
  });
});
