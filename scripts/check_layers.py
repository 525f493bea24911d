#!/usr/bin/env python3
"""Checks the crate's layering (run by `make test`):

- `#[wasm_bindgen]` exports (classes, methods, functions) only in src/api; other layers may
  only import JS functions (`#[wasm_bindgen] extern "C"` blocks, in src/web);
- no `web_sys`, `js_sys` or `wasm_bindgen` in src/core;
- imports run one way: api -> engine -> {core, web}, web -> core, core -> nothing;
- no import cycle between files.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "src"
LAYERS = {"core": set(), "web": {"core"}, "engine": {"core", "web"}, "api": {"core", "web", "engine"}}
problems = []


def module_of(path):
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "mod":
        parts = parts[:-1]
    return parts


files = {tuple(module_of(p)): p for p in ROOT.rglob("*.rs")}


def resolve(current, path):
    """The file a `use` path points into (the longest module prefix that is a file)."""
    segs = path.split("::")
    if segs[0] == "crate":
        base = []
        segs = segs[1:]
    elif segs[0] in ("super", "self"):
        base = list(current)
        while segs and segs[0] in ("super", "self"):
            if segs[0] == "super":
                base = base[:-1]
            segs = segs[1:]
    else:
        return None
    for n in range(len(segs), -1, -1):
        cand = tuple(base + segs[:n])
        if cand in files and cand != tuple(current):
            return cand
    return None


USE = re.compile(r"^\s*(?:pub(?:\([a-z]+\))?\s+)?use\s+([^;]+);", re.M)
INLINE = re.compile(r"\b((?:crate|super)(?:::[A-Za-z_][A-Za-z0-9_]*)+)")
graph = {}
for mod, path in files.items():
    text = path.read_text()
    code = re.sub(r"#\[cfg\(all\(test, not\(target_arch = \"wasm32\"\)\)\)\]\s*mod tests \{.*", "", text, flags=re.S)
    # Comments name other modules without importing them.
    code = "\n".join("" if l.lstrip().startswith("//") else l for l in code.splitlines())
    deps = set()
    for m in USE.finditer(code):
        body = re.sub(r"\s+", "", m.group(1))
        prefix, _, rest = body.partition("{")
        targets = [prefix.rstrip(":")]
        if rest:
            targets = [prefix + t.split("::{")[0] for t in rest.rstrip("}").split(",") if t]
        for t in targets:
            r = resolve(list(mod), t.split("::{")[0])
            if r:
                deps.add(r)
    for m in INLINE.finditer(code):
        r = resolve(list(mod), m.group(1))
        if r:
            deps.add(r)
    graph[mod] = deps
    layer = mod[0] if mod else None
    if layer in LAYERS:
        for d in deps:
            if d and d[0] in LAYERS and d[0] != layer and d[0] not in LAYERS[layer]:
                problems.append(f"{path.relative_to(ROOT.parent)}: {layer} imports {'::'.join(d)}")
    if layer != "api":
        lines = code.splitlines()
        depth, extern_depth = 0, None
        for i, line in enumerate(lines, 1):
            if extern_depth is None and re.match(r'\s*(pub\s+)?extern "C"\s*\{', line):
                extern_depth = depth
            if line.strip().startswith("#[wasm_bindgen"):
                imports = extern_depth is not None or any('extern "C"' in f for f in lines[i:i + 2])
                if not imports:
                    problems.append(f"{path.relative_to(ROOT.parent)}:{i}: #[wasm_bindgen] export outside src/api")
            depth += line.count("{") - line.count("}")
            if extern_depth is not None and depth <= extern_depth:
                extern_depth = None
    if layer == "core" and re.search(r"\b(web_sys|js_sys|wasm_bindgen)\b", code):
        problems.append(f"{path.relative_to(ROOT.parent)}: core uses web_sys/js_sys/wasm_bindgen")

# Cycles between files (a module's own submodules do not count as a cycle with it).
state = {}


def visit(node, stack):
    state[node] = 1
    stack.append(node)
    for d in sorted(graph.get(node, ())):
        if d[: len(node)] == node or node[: len(d)] == d:
            continue
        if state.get(d) == 1:
            cyc = stack[stack.index(d):] + [d]
            problems.append("import cycle: " + " -> ".join("::".join(c) or "lib" for c in cyc))
        elif d not in state:
            visit(d, stack)
    stack.pop()
    state[node] = 2


for n in sorted(graph):
    if n not in state:
        visit(n, [])

if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"layers: {len(files)} files, imports one way, no cycles, exports only in src/api")
