"""A small renderer for the subset of Go templates (text/template + the Sprig functions Helm adds)
that charts/waha-operator uses. Helm cannot run on the project's machines; this lets the chart
test render every template and check the YAML that comes out.

Honest by construction: anything outside the subset (an unknown function, an unbalanced block,
a field of a nil value, a map printed as text) is an error, not a guess. Helm's own behaviour is
followed where the chart relies on it: missing map keys are nil, nil prints as "", `$` is the
data passed to the template being executed, `default`/`if` use Sprig's notion of empty.
"""
import json
import re

import yaml


class TemplateError(Exception):
    pass


ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<raw>`[^`]*`)|(?P<num>-?\d+(?:\.\d+)?)'
    r"|(?P<decl>:=)|(?P<assign>=)|(?P<punct>[()|,])"
    r"|(?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)|(?P<field>(?:\.[A-Za-z0-9_]+)+|\.)"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*))"
)
KEYWORDS = {"if", "else", "end", "range", "with", "define"}


def empty(v):
    """Sprig's empty / text/template's truth: nil, false, 0, "" and empty collections."""
    return v is None or v is False or (not isinstance(v, bool) and v == 0) or (
        isinstance(v, (str, list, dict)) and len(v) == 0)


def go_str(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dict, list)):
        raise TemplateError(f"a collection printed as text: {v!r}")
    return str(v)


def printf(fmt, *args):
    args = list(args)

    def one(m):
        if m.group(0) == "%%":
            return "%"
        if not args:
            raise TemplateError(f"printf {fmt!r}: too few arguments")
        v = args.pop(0)
        return str(int(v)) if m.group(0) == "%d" else go_str(v)

    out = re.sub(r"%[svd%]", one, fmt)
    if args:
        raise TemplateError(f"printf {fmt!r}: too many arguments")
    return out


def to_yaml(v):
    return yaml.safe_dump(v, default_flow_style=False, sort_keys=True).rstrip("\n")


def indent(n, s):
    pad = " " * int(n)
    return pad + go_str(s).replace("\n", "\n" + pad)


def make_dict(*kv):
    if len(kv) % 2:
        raise TemplateError("dict needs key/value pairs")
    return {go_str(kv[i]): kv[i + 1] for i in range(0, len(kv), 2)}


def go_and(*a):
    for v in a:
        if empty(v):
            return v
    return a[-1]


def go_or(*a):
    for v in a:
        if not empty(v):
            return v
    return a[-1]


FUNCS = {
    "toYaml": to_yaml,
    "nindent": lambda n, s: "\n" + indent(n, s),
    "indent": indent,
    "quote": lambda *a: " ".join(json.dumps(go_str(v)) for v in a if v is not None),
    "default": lambda d, *v: d if not v or empty(v[0]) else v[0],
    "printf": printf,
    "eq": lambda a, *b: any(a == x for x in b),
    "ne": lambda a, b: a != b,
    "and": go_and,
    "or": go_or,
    "not": lambda v: empty(v),
    "trunc": lambda n, s: go_str(s)[: int(n)],
    "trimSuffix": lambda suf, s: go_str(s)[: -len(suf)] if suf and go_str(s).endswith(suf) else go_str(s),
    "contains": lambda sub, s: sub in go_str(s),
    "replace": lambda old, new, s: go_str(s).replace(old, new),
    "dict": make_dict,
    "has": lambda needle, lst: needle in (lst or []),
    "join": lambda sep, lst: sep.join(go_str(v) for v in (lst or [])),
}
KNOWN_FUNCTIONS = set(FUNCS) | {"include"}


def tokenize_expr(src):
    out, pos = [], 0
    src = src.strip()
    while pos < len(src):
        m = TOKEN.match(src, pos)
        if not m or m.end() == pos:
            raise TemplateError(f"cannot read {src[pos:]!r}")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(src) and src[pos].isspace():
            pos += 1
    return out


class Parser:
    """Text + actions -> a tree of ("text", s), ("out", pipe), ("set", var, pipe, declare),
    ("if", [(pipe, body)...], else), ("range", vars, pipe, body, else), ("with", pipe, body, else)."""

    def __init__(self, src, name):
        self.name = name
        self.items = self.lex(src)
        self.pos = 0
        self.defines = {}

    def lex(self, src):
        items, last = [], 0
        for m in ACTION.finditer(src):
            items.append(["text", src[last:m.start()]])
            body = m.group(2)
            if m.group(1) and items:
                items[-1][1] = items[-1][1].rstrip()
            items.append(["action", body.strip(), bool(m.group(3))])
            last = m.end()
        items.append(["text", src[last:]])
        for i, it in enumerate(items):
            if it[0] == "action" and it[2] and i + 1 < len(items):
                items[i + 1][1] = items[i + 1][1].lstrip()
        rest = ACTION.sub("", src)
        if "{{" in rest or "}}" in rest:
            raise TemplateError(f"{self.name}: unbalanced {{{{ }}}}")
        return items

    def parse(self):
        body, stop = self.block()
        if stop is not None:
            raise TemplateError(f"{self.name}: unexpected {{{{{stop[0]}}}}}")
        return body

    def block(self):
        """Nodes until {{end}} or {{else ...}}; returns (nodes, (keyword, rest) or None)."""
        nodes = []
        while self.pos < len(self.items):
            it = self.items[self.pos]
            self.pos += 1
            if it[0] == "text":
                if it[1]:
                    nodes.append(("text", it[1]))
                continue
            body = it[1]
            if body.startswith("/*"):
                if not body.endswith("*/"):
                    raise TemplateError(f"{self.name}: unterminated comment")
                continue
            word, _, rest = body.partition(" ")
            rest = rest.strip()
            if word in ("end", "else"):
                return nodes, (word, rest)
            if word in KEYWORDS:
                nodes.append(self.keyword(word, rest))
            else:
                nodes.append(self.statement(body))
        return nodes, None

    def expect_end(self, what, allow_else):
        body, stop = self.block()
        if stop is None:
            raise TemplateError(f"{self.name}: {what} without end")
        if stop[0] == "else" and not allow_else:
            raise TemplateError(f"{self.name}: else in {what}")
        return body, stop

    def keyword(self, word, rest):
        if word == "if":
            branches, cond, other = [], rest, None
            while True:
                body, stop = self.expect_end("if", True)
                branches.append((self.pipeline(cond), body))
                if stop[0] == "end":
                    break
                if stop[1].startswith("if "):
                    cond = stop[1][3:]
                    continue
                other, stop = self.expect_end("else", False)
                break
            return ("if", branches, other)
        if word == "define":
            name = json.loads(rest)
            body, stop = self.expect_end("define", False)
            self.defines[name] = body
            return ("text", "")
        variables, pipe = [], rest
        if word == "range" and ":=" in rest:
            left, pipe = rest.split(":=", 1)
            variables = [v.strip() for v in left.split(",")]
        body, stop = self.expect_end(word, True)
        other = None
        if stop[0] == "else":
            other, _ = self.expect_end(word + " else", False)
        return (word, variables, self.pipeline(pipe), body, other)

    def statement(self, body):
        toks = tokenize_expr(body)
        if len(toks) > 2 and toks[0][0] == "var" and toks[1][0] in ("decl", "assign"):
            return ("set", toks[0][1], self.parse_pipe(toks[2:]), toks[1][0] == "decl")
        return ("out", self.parse_pipe(toks))

    def pipeline(self, src):
        return self.parse_pipe(tokenize_expr(src))

    def parse_pipe(self, toks):
        cmds, cur, depth, i = [], [], 0, 0
        while i < len(toks):
            kind, val = toks[i]
            if kind == "punct" and val == "(":
                j, d = i + 1, 1
                while j < len(toks) and d:
                    d += {"(": 1, ")": -1}.get(toks[j][1], 0) if toks[j][0] == "punct" else 0
                    j += 1
                if d:
                    raise TemplateError(f"{self.name}: unbalanced ( )")
                cur.append(("pipe", self.parse_pipe(toks[i + 1:j - 1])))
                i = j
                continue
            if kind == "punct" and val == "|":
                cmds.append(cur)
                cur = []
            elif kind == "punct":
                raise TemplateError(f"{self.name}: unexpected {val!r}")
            else:
                if kind == "ident" and val not in KNOWN_FUNCTIONS | {"true", "false", "nil"}:
                    raise TemplateError(f"{self.name}: unknown function {val!r}")
                cur.append((kind, val))
            i += 1
        cmds.append(cur)
        if any(not c for c in cmds):
            raise TemplateError(f"{self.name}: empty command in pipeline")
        return cmds


class Renderer:
    def __init__(self, files):
        """files: {name: source}; every file's defines are visible to every other, as in Helm."""
        self.trees, self.defines = {}, {}
        for name, src in files.items():
            p = Parser(src, name)
            self.trees[name] = p.parse()
            for k, v in p.defines.items():
                if k in self.defines:
                    raise TemplateError(f"{name}: {k!r} defined twice")
                self.defines[k] = v

    def render(self, name, data):
        return self.run(self.trees[name], data, [{"$": data}])

    def run(self, nodes, dot, scopes):
        out = []
        scopes = scopes + [{}]
        for n in nodes:
            kind = n[0]
            if kind == "text":
                out.append(n[1])
            elif kind == "out":
                out.append(go_str(self.eval_pipe(n[1], dot, scopes)))
            elif kind == "set":
                value = self.eval_pipe(n[2], dot, scopes)
                if n[3]:
                    scopes[-1][n[1]] = value
                else:
                    next(s for s in reversed(scopes) if n[1] in s)[n[1]] = value
            elif kind == "if":
                chosen = next((b for c, b in n[1] if not empty(self.eval_pipe(c, dot, scopes))), n[2])
                out.append(self.run(chosen or [], dot, scopes))
            elif kind == "with":
                v = self.eval_pipe(n[2], dot, scopes)
                out.append(self.run(n[3], v, scopes) if not empty(v) else self.run(n[4] or [], dot, scopes))
            elif kind == "range":
                out.append(self.run_range(n, dot, scopes))
        return "".join(out)

    def run_range(self, n, dot, scopes):
        _, variables, pipe, body, other = n
        coll = self.eval_pipe(pipe, dot, scopes)
        if empty(coll):
            return self.run(other or [], dot, scopes)
        if isinstance(coll, dict):
            pairs = [(k, coll[k]) for k in sorted(coll)]
        elif isinstance(coll, list):
            pairs = list(enumerate(coll))
        else:
            raise TemplateError(f"range over {coll!r}")
        out = []
        for k, v in pairs:
            names = {}
            if len(variables) == 1:
                names[variables[0]] = v
            elif len(variables) == 2:
                names[variables[0]], names[variables[1]] = k, v
            out.append(self.run(body, v, scopes + [names]))
        return "".join(out)

    def eval_pipe(self, cmds, dot, scopes):
        value, piped = None, False
        for cmd in cmds:
            value = self.eval_cmd(cmd, dot, scopes, [value] if piped else [])
            piped = True
        return value

    def eval_cmd(self, cmd, dot, scopes, extra):
        kind, val = cmd[0]
        if kind == "ident" and val not in ("true", "false", "nil"):
            args = [self.operand(a, dot, scopes) for a in cmd[1:]] + extra
            if val == "include":
                name, ctx = args
                if name not in self.defines:
                    raise TemplateError(f"include of undefined template {name!r}")
                return self.run(self.defines[name], ctx, [{"$": ctx}])
            try:
                return FUNCS[val](*args)
            except TypeError as e:
                raise TemplateError(f"{val}: {e}") from e
        if len(cmd) > 1 or extra:
            raise TemplateError(f"{val!r} is not a function")
        return self.operand(cmd[0], dot, scopes)

    def operand(self, tok, dot, scopes):
        kind, val = tok
        if kind == "pipe":
            return self.eval_pipe(val, dot, scopes)
        if kind == "str":
            return json.loads(val)
        if kind == "raw":
            return val[1:-1]
        if kind == "num":
            return float(val) if "." in val else int(val)
        if kind == "ident":
            return {"true": True, "false": False, "nil": None}[val]
        if kind == "field":
            return self.fields(dot, val.split(".")[1:] if val != "." else [])
        if kind == "var":
            name, *path = val.split(".")
            scope = next((s for s in reversed(scopes) if name in s), None)
            if scope is None:
                raise TemplateError(f"undefined variable {name}")
            return self.fields(scope[name], path)
        raise TemplateError(f"unexpected {val!r}")

    @staticmethod
    def fields(v, path):
        for p in path:
            if not isinstance(v, dict):
                raise TemplateError(f"nil pointer evaluating .{p} (on {v!r})")
            v = v.get(p)
        return v
