#!/usr/bin/python3
"""Checks the Markdown of README.md and docs/: every relative link resolves (file, and #anchor
against the target's headings and <a id> tags, GitHub-style slugs), and no table cell is longer
than LIMIT characters. Usage: /usr/bin/python3 docs/check-docs.py [REPO_ROOT] [--pending F,...]
(--pending: files that may be missing, e.g. pages written on another branch; reported, not failed)"""
import os, re, sys
LIMIT = 300
args = sys.argv[1:]
pending = set()
if "--pending" in args:
    i = args.index("--pending"); pending = set(args[i + 1].split(",")); del args[i:i + 2]
root = args[0] if args else "."
files = [os.path.join(root, "README.md")]
for d, _, fs in os.walk(os.path.join(root, "docs")):
    files += [os.path.join(d, f) for f in fs if f.endswith(".md")]

def slug(t):
    t = t.replace("`", "").lower()
    t = re.sub(r"[^\w\- ]", "", t)
    return t.replace(" ", "-")

def anchors(path):
    out, seen = set(), {}
    inblock = False
    for line in open(path):
        if line.startswith("```"): inblock = not inblock
        if inblock: continue
        m = re.match(r"#+ (.*)", line)
        if m:
            s = slug(m.group(1)); n = seen.get(s, 0); seen[s] = n + 1
            out.add(s if n == 0 else f"{s}-{n}")
        out |= set(re.findall(r'<a id="([^"]+)"', line))
    return out

bad = 0; nlinks = 0; ncells = 0; longest = 0
for f in sorted(files):
    inblock = False
    for no, line in enumerate(open(f), 1):
        if line.startswith("```"): inblock = not inblock
        if inblock or line.startswith("    "): continue
        for target in re.findall(r"\]\(([^)\s]+)\)", line):
            if re.match(r"[a-z]+:", target): continue
            nlinks += 1
            path, _, frag = target.partition("#")
            tp = os.path.normpath(os.path.join(os.path.dirname(f), path)) if path else f
            if not os.path.exists(tp) and os.path.relpath(tp, root) in pending:
                print(f"{os.path.relpath(f, root)}:{no}: pending {target}"); continue
            if not os.path.exists(tp):
                print(f"{os.path.relpath(f, root)}:{no}: missing {target}"); bad += 1; continue
            if frag and tp.endswith(".md") and frag not in anchors(tp):
                print(f"{os.path.relpath(f, root)}:{no}: no anchor #{frag} in {os.path.relpath(tp, root)}"); bad += 1
        if line.lstrip().startswith("|"):
            cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
            for c in cells:
                ncells += 1; longest = max(longest, len(c.strip()))
                if len(c.strip()) > LIMIT:
                    print(f"{os.path.relpath(f, root)}:{no}: table cell of {len(c.strip())} characters"); bad += 1
print(f"{len(files)} files, {nlinks} relative links, {ncells} table cells (longest {longest} characters): {bad} problems")
sys.exit(1 if bad else 0)
