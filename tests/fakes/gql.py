"""A small GraphQL parser: the subset a read-only client sends.

Supported (GraphQL spec, October 2021, sections 2.1-2.12): one or more
operations (`query` only; the `{...}` shorthand), variable definitions with
defaults, selection sets, aliases, arguments with every literal kind
(Int, Float, String and block strings with escapes, Boolean, null, enum,
list, object, $variable), named fragments and inline fragments, and the
@include / @skip directives. Comments (#) and commas are ignored.

Errors are raised as GraphQLError with a message in the style of
graphql-ruby, which Shopify runs: 'Parse error on "x" (IDENTIFIER) at [1, 5]'.
"""


class GraphQLError(Exception):
    def __init__(self, message, pos=None, source=None, code=None, path=None, extensions=None):
        super().__init__(message)
        self.message = message
        self.locations = [location(source, pos)] if source is not None and pos is not None else None
        self.code = code
        self.path = path
        self.extensions = dict(extensions or {})

    def to_json(self):
        out = {"message": self.message}
        if self.locations:
            out["locations"] = self.locations
        if self.path:
            out["path"] = self.path
        ext = dict(self.extensions)
        if self.code:
            ext["code"] = self.code
        if ext:
            out["extensions"] = ext
        return out


def location(source, pos):
    line = source.count("\n", 0, pos) + 1
    col = pos - (source.rfind("\n", 0, pos) + 1) + 1
    return {"line": line, "column": col}


# ---------------------------------------------------------------- lexer

PUNCT = {"!": "BANG", "$": "VAR_SIGN", "(": "LPAREN", ")": "RPAREN", ":": "COLON",
         "=": "EQUALS", "@": "DIR_SIGN", "[": "LBRACKET", "]": "RBRACKET", "{": "LCURLY",
         "|": "PIPE", "}": "RCURLY", "&": "AMP"}
NAME_START = set("_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
NAME_CONT = NAME_START | set("0123456789")
ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class Token:
    __slots__ = ("kind", "value", "pos")

    def __init__(self, kind, value, pos):
        self.kind, self.value, self.pos = kind, value, pos


def tokenize(src):
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c in " \t\r\n,\ufeff":
            i += 1
        elif c == "#":
            while i < n and src[i] not in "\r\n":
                i += 1
        elif c == "." and src.startswith("...", i):
            out.append(Token("ELLIPSIS", "...", i))
            i += 3
        elif c in PUNCT:
            out.append(Token(PUNCT[c], c, i))
            i += 1
        elif c in NAME_START:
            j = i + 1
            while j < n and src[j] in NAME_CONT:
                j += 1
            out.append(Token("IDENTIFIER", src[i:j], i))
            i = j
        elif c == "-" or c.isdigit():
            i = _number(src, i, out)
        elif c == '"':
            i = _string(src, i, out)
        else:
            raise GraphQLError('Parse error on "%s" (error) at [%d, %d]'
                               % (c, *_lc(src, i)), i, src)
    out.append(Token("EOF", None, n))
    return out


def _lc(src, pos):
    loc = location(src, pos)
    return loc["line"], loc["column"]


def _number(src, i, out):
    start, n = i, len(src)
    if src[i] == "-":
        i += 1
    digits = i
    while i < n and src[i].isdigit():
        i += 1
    if i == digits or (src[digits] == "0" and i - digits > 1):
        raise GraphQLError('Parse error on "%s" (error) at [%d, %d]' % (src[start:i + 1], *_lc(src, start)),
                           start, src)
    is_float = False
    if i < n and src[i] == ".":
        is_float = True
        i += 1
        d = i
        while i < n and src[i].isdigit():
            i += 1
        if i == d:
            raise GraphQLError("Parse error on \"%s\" (error) at [%d, %d]" % (src[start:i + 1], *_lc(src, start)),
                               start, src)
    if i < n and src[i] in "eE":
        is_float = True
        i += 1
        if i < n and src[i] in "+-":
            i += 1
        d = i
        while i < n and src[i].isdigit():
            i += 1
        if i == d:
            raise GraphQLError("Parse error on \"%s\" (error) at [%d, %d]" % (src[start:i + 1], *_lc(src, start)),
                               start, src)
    if i < n and (src[i] in NAME_START or src[i] == "."):
        raise GraphQLError('Parse error on "%s" (error) at [%d, %d]' % (src[start:i + 1], *_lc(src, start)),
                           start, src)
    text = src[start:i]
    out.append(Token("FLOAT" if is_float else "INT", float(text) if is_float else int(text), start))
    return i


def _string(src, i, out):
    start, n = i, len(src)
    if src.startswith('"""', i):  # block string: raw except \""" ; common indent removed
        i += 3
        buf = []
        while True:
            if i >= n:
                raise GraphQLError("Parse error on unterminated string at [%d, %d]" % _lc(src, start),
                                   start, src)
            if src.startswith('\\"""', i):
                buf.append('"""')
                i += 4
            elif src.startswith('"""', i):
                i += 3
                break
            else:
                buf.append(src[i])
                i += 1
        out.append(Token("STRING", _block_value("".join(buf)), start))
        return i
    i += 1
    buf = []
    while True:
        if i >= n or src[i] in "\r\n":
            raise GraphQLError("Parse error on unterminated string at [%d, %d]" % _lc(src, start),
                               start, src)
        c = src[i]
        if c == '"':
            i += 1
            break
        if c == "\\":
            e = src[i + 1] if i + 1 < n else ""
            if e in ESCAPES:
                buf.append(ESCAPES[e])
                i += 2
            elif e == "u" and _is_hex(src[i + 2:i + 6]):
                cp = int(src[i + 2:i + 6], 16)
                i += 6
                # A surrogate pair written as two \u escapes.
                if 0xD800 <= cp <= 0xDBFF and src[i:i + 2] == "\\u" and _is_hex(src[i + 2:i + 6]):
                    lo = int(src[i + 2:i + 6], 16)
                    if 0xDC00 <= lo <= 0xDFFF:
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                        i += 6
                buf.append(chr(cp))
            else:
                raise GraphQLError("Parse error on bad Unicode escape sequence at [%d, %d]" % _lc(src, i),
                                   i, src)
        else:
            buf.append(c)
            i += 1
    out.append(Token("STRING", "".join(buf), start))
    return i


def _is_hex(s):
    return len(s) == 4 and all(c in "0123456789abcdefABCDEF" for c in s)


def _block_value(raw):
    lines = raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    indent = None
    for line in lines[1:]:
        stripped = line.lstrip(" \t")
        if stripped:
            ind = len(line) - len(stripped)
            indent = ind if indent is None else min(indent, ind)
    if indent:
        lines = [lines[0]] + [l[indent:] for l in lines[1:]]
    while lines and not lines[0].strip(" \t"):
        lines.pop(0)
    while lines and not lines[-1].strip(" \t"):
        lines.pop()
    return "\n".join(lines)


# ---------------------------------------------------------------- AST

class Field:
    def __init__(self, alias, name, args, directives, selections, pos):
        self.alias, self.name, self.args = alias, name, args
        self.directives, self.selections, self.pos = directives, selections, pos

    @property
    def key(self):
        return self.alias or self.name


class FragmentSpread:
    def __init__(self, name, directives, pos):
        self.name, self.directives, self.pos = name, directives, pos


class InlineFragment:
    def __init__(self, type_condition, directives, selections, pos):
        self.type_condition, self.directives = type_condition, directives
        self.selections, self.pos = selections, pos


class Operation:
    def __init__(self, kind, name, var_defs, directives, selections, pos):
        self.kind, self.name, self.var_defs = kind, name, var_defs
        self.directives, self.selections, self.pos = directives, selections, pos


class Fragment:
    def __init__(self, name, type_condition, selections, pos):
        self.name, self.type_condition, self.selections, self.pos = name, type_condition, selections, pos


class Document:
    def __init__(self, operations, fragments):
        self.operations, self.fragments = operations, fragments


# Value nodes are tuples: ("var", name) ("int", v) ("float", v) ("string", v)
# ("bool", v) ("null", None) ("enum", name) ("list", [...]) ("object", {k: v}).
# Type references: ("named", name) ("list", t) ("nonnull", t).


# ---------------------------------------------------------------- parser

MAX_DEPTH = 64  # deeper documents are refused rather than risking the stack


class Parser:
    def __init__(self, src):
        self.src = src
        self.toks = tokenize(src)
        self.i = 0
        self.depth = 0

    def nest(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise GraphQLError("Query has depth of more than %d, which exceeds the limit" % MAX_DEPTH,
                               self.tok.pos, self.src, code="MAX_DEPTH_EXCEEDED")

    @property
    def tok(self):
        return self.toks[self.i]

    def fail(self, tok=None):
        tok = tok or self.tok
        if tok.kind == "EOF":
            raise GraphQLError("Unexpected end of document", tok.pos, self.src)
        shown = tok.value if tok.kind != "STRING" else tok.value
        raise GraphQLError('Parse error on "%s" (%s) at [%d, %d]' % (shown, tok.kind, *_lc(self.src, tok.pos)),
                           tok.pos, self.src)

    def take(self, kind, value=None):
        tok = self.tok
        if tok.kind != kind or (value is not None and tok.value != value):
            self.fail(tok)
        self.i += 1
        return tok

    def peek(self, kind, value=None):
        tok = self.tok
        return tok.kind == kind and (value is None or tok.value == value)

    def skip(self, kind, value=None):
        if self.peek(kind, value):
            self.i += 1
            return True
        return False

    def document(self):
        ops, frags = [], {}
        if self.peek("EOF"):
            raise GraphQLError("Unexpected end of document", 0, self.src)
        while not self.peek("EOF"):
            tok = self.tok
            if tok.kind == "LCURLY":
                ops.append(Operation("query", None, [], [], self.selection_set(), tok.pos))
            elif tok.kind == "IDENTIFIER" and tok.value in ("query", "mutation", "subscription"):
                ops.append(self.operation())
            elif tok.kind == "IDENTIFIER" and tok.value == "fragment":
                f = self.fragment()
                if f.name in frags:
                    raise GraphQLError('Fragment name "%s" must be unique' % f.name, f.pos, self.src)
                frags[f.name] = f
            else:
                self.fail()
        return Document(ops, frags)

    def operation(self):
        tok = self.take("IDENTIFIER")
        name = self.take("IDENTIFIER").value if self.peek("IDENTIFIER") else None
        var_defs = []
        if self.skip("LPAREN"):
            while not self.skip("RPAREN"):
                vpos = self.tok.pos
                self.take("VAR_SIGN")
                vname = self.take("IDENTIFIER").value
                self.take("COLON")
                vtype = self.type_ref()
                default = None
                has_default = False
                if self.skip("EQUALS"):
                    default, has_default = self.value(const=True), True
                var_defs.append({"name": vname, "type": vtype, "default": default,
                                 "has_default": has_default, "pos": vpos})
        directives = self.directives()
        return Operation(tok.value, name, var_defs, directives, self.selection_set(), tok.pos)

    def fragment(self):
        tok = self.take("IDENTIFIER", "fragment")
        name = self.take("IDENTIFIER")
        if name.value == "on":
            self.fail(name)
        self.take("IDENTIFIER", "on")
        cond = self.take("IDENTIFIER").value
        self.directives()
        return Fragment(name.value, cond, self.selection_set(), tok.pos)

    def type_ref(self):
        if self.skip("LBRACKET"):
            self.nest()
            inner = self.type_ref()
            self.take("RBRACKET")
            self.depth -= 1
            t = ("list", inner)
        else:
            t = ("named", self.take("IDENTIFIER").value)
        if self.skip("BANG"):
            t = ("nonnull", t)
        return t

    def selection_set(self):
        self.take("LCURLY")
        self.nest()
        sels = []
        while not self.skip("RCURLY"):
            if self.peek("ELLIPSIS"):
                pos = self.take("ELLIPSIS").pos
                if self.peek("IDENTIFIER") and self.tok.value != "on":
                    name = self.take("IDENTIFIER").value
                    sels.append(FragmentSpread(name, self.directives(), pos))
                else:
                    cond = None
                    if self.skip("IDENTIFIER", "on"):
                        cond = self.take("IDENTIFIER").value
                    dirs = self.directives()
                    sels.append(InlineFragment(cond, dirs, self.selection_set(), pos))
            else:
                sels.append(self.field())
        if not sels:
            self.fail()
        self.depth -= 1
        return sels

    def field(self):
        tok = self.take("IDENTIFIER")
        alias, name = None, tok.value
        if self.skip("COLON"):
            alias, name = name, self.take("IDENTIFIER").value
        args = self.arguments()
        dirs = self.directives()
        sels = self.selection_set() if self.peek("LCURLY") else None
        return Field(alias, name, args, dirs, sels, tok.pos)

    def arguments(self, const=False):
        args = {}
        if self.skip("LPAREN"):
            if self.peek("RPAREN"):
                self.fail()
            while not self.skip("RPAREN"):
                tok = self.take("IDENTIFIER")
                if tok.value in args:
                    raise GraphQLError('There can be only one argument named "%s"' % tok.value,
                                       tok.pos, self.src)
                self.take("COLON")
                args[tok.value] = (self.value(const), tok.pos)
        return args

    def directives(self):
        dirs = []
        while self.peek("DIR_SIGN"):
            pos = self.take("DIR_SIGN").pos
            name = self.take("IDENTIFIER").value
            dirs.append((name, self.arguments(), pos))
        return dirs

    def value(self, const=False):
        tok = self.tok
        k = tok.kind
        if k == "VAR_SIGN":
            if const:
                self.fail()
            self.i += 1
            return ("var", self.take("IDENTIFIER").value)
        self.i += 1
        if k == "INT":
            return ("int", tok.value)
        if k == "FLOAT":
            return ("float", tok.value)
        if k == "STRING":
            return ("string", tok.value)
        if k == "IDENTIFIER":
            if tok.value in ("true", "false"):
                return ("bool", tok.value == "true")
            if tok.value == "null":
                return ("null", None)
            return ("enum", tok.value)
        if k == "LBRACKET":
            self.nest()
            items = []
            while not self.skip("RBRACKET"):
                items.append(self.value(const))
            self.depth -= 1
            return ("list", items)
        if k == "LCURLY":
            self.nest()
            obj = {}
            while not self.skip("RCURLY"):
                key = self.take("IDENTIFIER").value
                self.take("COLON")
                obj[key] = self.value(const)
            self.depth -= 1
            return ("object", obj)
        self.i -= 1
        self.fail()


def parse(src):
    return Parser(src).document()


def type_str(t):
    if t[0] == "named":
        return t[1]
    if t[0] == "list":
        return "[%s]" % type_str(t[1])
    return type_str(t[1]) + "!"


def parse_type(text):
    """'[Product!]!' -> type reference tuple (for the schema tables)."""
    p = Parser(text)
    t = p.type_ref()
    p.take("EOF")
    return t
