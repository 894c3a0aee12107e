#!/usr/bin/env python3
"""Fails when the module import graph of a Rust source tree has a circle.

Usage: python3 scripts/import-graph.py [--print] DIR[=MODULE_PATH] ...
Default (no DIR): the trees this project keeps circle-free (see DEFAULT_TREES).

DIR is a crate's `src/` or a module folder inside one; MODULE_PATH is that folder's module path
(`crate` for a crate root, `crate::protocol` for server/src/protocol). One node per source file (a
module); an edge A -> B when A's non-test code names B through

  - a `use` item or an inline path starting with `crate::`, `super::` or `self::`
    (resolved to the longest known module prefix: `super::schema::Cell` -> the `schema` module), or
  - one of A's own child modules by its bare name (`fast::read(...)` in a `mod.rs`).

Declaring a child (`mod x;`) is not an edge. Test code is left out: everything from the first
`#[cfg(test)]` line of a file to its end (test modules sit at the end of their file, by the project's
convention), and files named `tests.rs`. Comments and string literals are ignored. Only modules inside
DIR are nodes: edges to modules outside it are dropped (they cannot close a circle inside it unless
they lead back, which a check of the enclosing tree finds).
"""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DEFAULT_TREES = [
    ("server/src/protocol", "crate::protocol"),
    ("gateway/src", "crate"),
    ("tracking/src", "crate"),
    ("numjson/src", "crate"),
]

PATH_RE = re.compile(r"\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE_RE = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", re.S | re.M)
MOD_RE = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;", re.M)


def strip_code(text):
    """Test code, comments and string literals removed."""
    m = re.search(r"^\s*#\[cfg\(test\)\]", text, re.M)
    if m:
        text = text[: m.start()]
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r'r#+".*?"#+', '""', text, flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text, flags=re.S)
    text = re.sub(r"'(?:\\.|[^'\\])'", "' '", text)
    return text


def module_of(rel, base):
    """The module path of file `rel` (relative to the tree) under module path `base`."""
    parts = rel[:-3].split(os.sep)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return "::".join([base] + parts) if parts else base


def expand_use(tree):
    """The paths of a `use` tree: `a::{b, c::{d, self}}` -> a::b, a::c::d, a::c."""
    tree = re.sub(r"\s+as\s+[A-Za-z_][A-Za-z0-9_]*", "", tree)
    tree = re.sub(r"\s+", "", tree)
    out = []

    def walk(prefix, t):
        t = t.strip()
        if not t:
            return
        if t.endswith("}") and "{" in t:
            i = t.index("{")
            head = t[:i].rstrip(":")
            inner = t[i + 1 : -1]
            depth, start = 0, 0
            for j, c in enumerate(inner + ","):
                if c == "{":
                    depth += 1
                elif c == "}":
                    depth -= 1
                elif c == "," and depth == 0:
                    walk(prefix + ([head] if head else []), inner[start:j])
                    start = j + 1
            return
        segs = [s for s in t.split("::") if s]
        if segs and segs[-1] == "self":
            segs = segs[:-1]
        out.append("::".join(prefix + segs))

    walk([], tree)
    return out


def resolve(path, module, is_dir_module, modules):
    """`path` as written in `module`, resolved to the longest module prefix that is a node."""
    segs = path.split("::")
    if segs[0] == "crate":
        abs_segs = ["crate"]
        segs = segs[1:]
    else:
        abs_segs = module.split("::")
        while segs and segs[0] in ("super", "self"):
            if segs[0] == "super":
                abs_segs = abs_segs[:-1]
            segs = segs[1:]
    full = abs_segs + segs
    for n in range(len(full), 0, -1):
        cand = "::".join(full[:n])
        if cand in modules:
            return cand
    return None


def graph(tree_dir, base):
    files = {}
    for dirpath, _, names in os.walk(tree_dir):
        for name in names:
            if name.endswith(".rs") and name != "tests.rs":
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, tree_dir)
                files[module_of(rel, base)] = full
    modules = set(files)
    edges = {m: set() for m in modules}
    for module, path in files.items():
        with open(path, encoding="utf-8") as f:
            code = strip_code(f.read())
        is_dir_module = os.path.basename(path) in ("mod.rs", "lib.rs", "main.rs")
        children = set(MOD_RE.findall(code))
        paths = []
        for tree in USE_RE.findall(code):
            expanded = expand_use(tree)
            for p in expanded:
                first = p.split("::")[0]
                if first in children:
                    p = "self::" + p
                paths.append(p)
        paths += PATH_RE.findall(code)
        for child in children:
            if re.search(r"(?<![:\w])" + child + r"::", code):
                paths.append("self::" + child)
        for p in paths:
            if not p.startswith(("crate", "super", "self")):
                continue
            target = resolve(p, module, is_dir_module, modules)
            if target and target != module:
                edges[module].add(target)
    return edges


def find_cycle(edges):
    color = {m: 0 for m in edges}
    stack = []

    def dfs(m):
        color[m] = 1
        stack.append(m)
        for n in sorted(edges[m]):
            if color[n] == 1:
                return stack[stack.index(n) :] + [n]
            if color[n] == 0:
                found = dfs(n)
                if found:
                    return found
        stack.pop()
        color[m] = 2
        return None

    for m in sorted(edges):
        if color[m] == 0:
            found = dfs(m)
            if found:
                return found
    return None


def main(argv):
    show = "--print" in argv
    args = [a for a in argv if a != "--print"]
    trees = []
    for a in args:
        d, _, base = a.partition("=")
        trees.append((d, base or "crate"))
    if not trees:
        trees = DEFAULT_TREES
    failed = False
    for d, base in trees:
        tree_dir = d if os.path.isabs(d) else os.path.join(ROOT, d)
        edges = graph(tree_dir, base)
        if show:
            for m in sorted(edges):
                print(f"{d}: {m} -> {', '.join(sorted(edges[m])) or '(nothing)'}")
        cycle = find_cycle(edges)
        if cycle:
            failed = True
            print(f"import circle in {d}: {' -> '.join(cycle)}", file=sys.stderr)
        else:
            print(f"{d}: {len(edges)} modules, {sum(map(len, edges.values()))} imports, no circle")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
