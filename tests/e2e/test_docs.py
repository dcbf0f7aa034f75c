"""The documentation says what the program does: docs/fields.md carries exactly the table that
`flowsift fields --markdown` prints, and every option of `flowsift extract|query|collect|monitor --help` is in
docs/flowsift-<command>.md."""
import os
import re
import sys

from e2e_common import ROOT, check, finish, run


def main():
    rc, table, _ = run("fields", "--markdown")
    with open(os.path.join(ROOT, "docs", "fields.md")) as f:
        doc = f.read()
    check(rc == 0 and table.strip() in doc, "docs/fields.md contains the current `flowsift fields --markdown`")
    for cmd in ("extract", "query", "collect", "monitor"):
        rc, helptext, _ = run(cmd, "--help")
        with open(os.path.join(ROOT, "docs", f"flowsift-{cmd}.md")) as f:
            man = f.read()
        options = sorted(set(re.findall(r"(--[a-z][a-z-]+)", helptext)))
        missing = [o for o in options if o not in man]
        check(rc == 0 and not missing, f"docs/flowsift-{cmd}.md documents every option (missing: {missing})")
    return finish("test_docs")


if __name__ == "__main__":
    sys.exit(main())
