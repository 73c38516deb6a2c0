// `npm run breaking`: fails when the contracts changed in a way that breaks existing callers
// (buf's FILE rules), compared with a base commit: $BUF_BREAKING_AGAINST, or the parent commit.
//
// `buf breaking --against .git#ref=...` cannot be used directly: two of the workspace's
// modules live in node_modules, which git does not have. So the base commit is checked out in
// a temporary worktree that borrows this checkout's node_modules, and both are compared as
// buf images.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dirname, "..", "..");
const buf = join(root, "node_modules", ".bin", "buf");
const base = process.env.BUF_BREAKING_AGAINST ?? "HEAD~1";
const git = (...args: string[]) => execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim();

let baseCommit: string;
try {
  baseCommit = git("rev-parse", "--verify", "--quiet", `${base}^{commit}`);
} catch {
  console.log(`breaking: no base commit "${base}"; nothing to compare with`);
  process.exit(0);
}
if (!git("ls-tree", "-r", "--name-only", baseCommit, "proto/emailauth").includes(".proto")) {
  console.log(`breaking: ${base} has no contracts yet; nothing to compare with`);
  process.exit(0);
}

const work = mkdtempSync(join(tmpdir(), "emailauth-breaking-"));
const tree = join(work, "tree");
try {
  git("worktree", "add", "--detach", tree, baseCommit);
  symlinkSync(join(root, "node_modules"), join(tree, "node_modules"));
  const against = join(work, "against.binpb");
  const current = join(work, "current.binpb");
  execFileSync(buf, ["build", "-o", against], { cwd: tree, stdio: "inherit" });
  execFileSync(buf, ["build", "-o", current], { cwd: root, stdio: "inherit" });
  // Only our contracts: vendored and npm-provided protos change with their packages.
  execFileSync(buf, ["breaking", current, "--against", against, "--path", "emailauth"], { stdio: "inherit" });
  console.log(`breaking: no breaking change against ${base} (${baseCommit.slice(0, 12)})`);
} finally {
  if (existsSync(tree)) git("worktree", "remove", "--force", tree);
  rmSync(work, { recursive: true, force: true });
}
