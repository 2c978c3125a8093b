"""Expand/contract for migrations (docs/decisions.md): a migration runs
before the canary, while 90 % of the traffic still runs the previous
release's code, and there are no down migrations. So a new migration may
add (expand) but must not drop, rename or retype a column or table that the
previous release's code still names; that contraction waits for a release
whose predecessor no longer reads it.

The previous release is approximated by git: the migrations at the parent
of the last commit that touched migrations/ (or at HEAD, when migrations/
has uncommitted changes) are the released ones, and that commit's Rust
sources (shared/, functions/, local/) are the code that reads the schema.
A column or table counts as read if its name appears there as a word.

Usage: migrations_expand_contract.py [--migrations DIR] [--base COMMIT]
Exits 1 naming each migration statement that breaks the rule.
"""

import argparse
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
CODE_DIRS = ["shared", "functions", "local"]
CONTRACTIONS = [
    (re.compile(r"alter\s+table\s+(?:if\s+exists\s+)?(?:only\s+)?([\w.\"]+)\s+drop\s+(?:column\s+)?(?:if\s+exists\s+)?([\w\"]+)", re.I), "drops column"),
    (re.compile(r"alter\s+table\s+(?:if\s+exists\s+)?(?:only\s+)?([\w.\"]+)\s+rename\s+(?:column\s+)?([\w\"]+)\s+to\s+", re.I), "renames column"),
    (re.compile(r"alter\s+table\s+(?:if\s+exists\s+)?(?:only\s+)?([\w.\"]+)\s+alter\s+(?:column\s+)?([\w\"]+)\s+(?:set\s+data\s+)?type\s", re.I), "changes the type of column"),
    (re.compile(r"alter\s+table\s+(?:if\s+exists\s+)?(?:only\s+)?([\w.\"]+)\s+rename\s+to\s+", re.I), "renames table"),
    (re.compile(r"drop\s+table\s+(?:if\s+exists\s+)?([\w.\"]+)", re.I), "drops table"),
]


def git(*args) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True).stdout


def base_commit() -> str:
    if git("status", "--porcelain", "--", "migrations/").strip():
        return "HEAD"
    last = git("log", "-1", "--format=%H", "--", "migrations/").strip()
    return f"{last}^" if last else "HEAD"


def released_code(base: str) -> str:
    files = [f for f in git("ls-tree", "-r", "--name-only", base, "--", *CODE_DIRS).split() if f.endswith(".rs")]
    return "\n".join(git("show", f"{base}:{f}") for f in files)


def without_comments(sql: str) -> str:
    return re.sub(r"/\*.*?\*/", " ", re.sub(r"--[^\n]*", " ", sql), flags=re.S)


def check(migrations: pathlib.Path, base: str) -> list[str]:
    released = {pathlib.PurePath(f).name for f in git("ls-tree", "-r", "--name-only", base, "--", "migrations/").split()}
    new = sorted(f for f in migrations.glob("*.sql") if f.name not in released)
    if not new:
        return []
    code = released_code(base)
    problems = []
    for migration in new:
        sql = without_comments(migration.read_text())
        for pattern, what in CONTRACTIONS:
            for match in pattern.finditer(sql):
                table = match.group(1).strip('"').split(".")[-1]
                name = match.group(2).strip('"') if pattern.groups > 1 else table
                if re.search(rf"\b{re.escape(name)}\b", code):
                    subject = f"{table}.{name}" if pattern.groups > 1 else table
                    problems.append(f"{migration.name} {what} {subject}, which the previous release's code ({base}) "
                                    "still reads: expand now, contract in a later release (docs/decisions.md)")
    return problems


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--migrations", default=str(ROOT / "migrations"))
    parser.add_argument("--base", help="the previous release (default: see the module's doc)")
    args = parser.parse_args()
    base = args.base or base_commit()
    problems = check(pathlib.Path(args.migrations), base)
    for problem in problems:
        print(f"  ✗ {problem}")
    print(f"migrations: expand/contract against {base}: {len(problems)} problem(s)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
