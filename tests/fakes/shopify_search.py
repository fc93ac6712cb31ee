"""Shopify's search syntax (the `query` argument of `products`), parsed for real.

Grammar, from https://shopify.dev/docs/api/usage/search-syntax:

    Query      = Term { [ whitespace Connective ] whitespace Term }
    Connective = "AND" | "OR"            (AND is implied between terms)
    Term       = [ Modifier ] ( "(" Query ")" | [ name Comparator ] value )
    Modifier   = "-" | "NOT" whitespace  ("-" must not be followed by whitespace)
    Comparator = ":" | ":<" | ":>" | ":<=" | ":>="
    value      = a name, or a quoted string (single or double quotes)

Special characters `: \\ ( )` in a name are escaped with a backslash; inside a
quoted value a backslash escapes the next character (so \\" \\' \\\\).
An unquoted value ending in an unescaped `*` is a prefix query; `field:*` asks
whether the field has a value.

The grammar does not state precedence; this parser binds AND tighter than OR
(as in Lucene-style engines) and says so in README.md.

Fake-only strictness (documented): input Shopify would silently reinterpret —
an unterminated quote, a dangling backslash, an unbalanced parenthesis, a
comparator with no value — is rejected with SearchSyntaxError, so an adapter
whose escaping is wrong fails loudly in tests instead of matching other rows.
"""

SPECIAL = set(':\\()')
MAX_DEPTH = 64  # nested parentheses and modifiers; deeper is refused, not recursed
COMPARATORS = (":<=", ":>=", ":<", ":>", ":")


class SearchSyntaxError(ValueError):
    def __init__(self, message, offset):
        super().__init__("%s at offset %d" % (message, offset))
        self.offset = offset


class Term:
    """field is None for a free-text term. kind: "literal" | "prefix" | "exists"."""

    def __init__(self, field, comparator, value, kind, quoted):
        self.field, self.comparator, self.value = field, comparator, value
        self.kind, self.quoted = kind, quoted

    def to_json(self):
        return {"field": self.field, "comparator": self.comparator, "value": self.value,
                "kind": self.kind, "quoted": self.quoted}


def _tokenize(s):
    """Tokens: ("(", pos) (")", pos) ("-", pos) ("NOT", pos) ("AND", pos) ("OR", pos)
    ("TERM", pos, Term)."""
    toks, i, n = [], 0, len(s)
    while i < n:
        c = s[i]
        if c.isspace():
            i += 1
            continue
        if c == "(":
            toks.append(("(", i))
            i += 1
            continue
        if c == ")":
            toks.append((")", i))
            i += 1
            continue
        if c == "-" and i + 1 < n and not s[i + 1].isspace() and s[i + 1] != ")":
            toks.append(("-", i))
            i += 1
            continue
        start = i
        if c in "\"'":
            value, i = _quoted(s, i)
            toks.append(("TERM", start, Term(None, ":", value, "literal", True)))
            continue
        word, star, escaped, i = _name(s, i, stop_at_colon=True)
        if i < n and s[i] == ":":
            if not word:
                raise SearchSyntaxError("a comparator needs a field name before it", i)
            comp = next(c for c in COMPARATORS if s.startswith(c, i))
            i += len(comp)
            if i >= n or s[i].isspace() or s[i] in "()":
                raise SearchSyntaxError("missing value after %s%s" % (word, comp), i)
            if s[i] in "\"'":
                value, i = _quoted(s, i)
                toks.append(("TERM", start, Term(word, comp, value, "literal", True)))
            else:
                value, vstar, _, i = _name(s, i, stop_at_colon=False)
                kind = "literal"
                if vstar:
                    kind = "exists" if value == "" else "prefix"
                toks.append(("TERM", start, Term(word, comp, value, kind, False)))
            continue
        if not escaped and word in ("AND", "OR"):
            toks.append((word, start))
            continue
        if not escaped and word == "NOT" and i < n and s[i].isspace():
            toks.append(("NOT", start))
            continue
        kind = "prefix" if star else "literal"
        if star and word == "":
            kind = "exists"
        toks.append(("TERM", start, Term(None, ":", word, kind, False)))
    return toks


def _quoted(s, i):
    quote, start = s[i], i
    i += 1
    buf = []
    while True:
        if i >= len(s):
            raise SearchSyntaxError("unterminated quoted value", start)
        c = s[i]
        if c == "\\":
            if i + 1 >= len(s):
                raise SearchSyntaxError("dangling backslash in quoted value", i)
            buf.append(s[i + 1])
            i += 2
        elif c == quote:
            return "".join(buf), i + 1
        else:
            buf.append(c)
            i += 1


def _name(s, i, stop_at_colon):
    """An unquoted name: up to whitespace, a parenthesis or (for a field
    name) an unescaped colon. Returns (text, ends_with_unescaped_star,
    had_escape, next index)."""
    buf, star, escaped, n = [], False, False, len(s)
    while i < n:
        c = s[i]
        if c.isspace() or c in "()":
            break
        if c == ":" and stop_at_colon:
            break
        if c == "\\":
            if i + 1 >= n:
                raise SearchSyntaxError("dangling backslash", i)
            buf.append(s[i + 1])
            escaped = True
            star = False
            i += 2
            continue
        buf.append(c)
        star = c == "*"
        i += 1
    text = "".join(buf)
    if star:
        text = text[:-1]
    return text, star, escaped, i


class _Parser:
    def __init__(self, s):
        self.s = s
        self.toks = _tokenize(s)
        self.i = 0
        self.depth = 0

    def peek(self):
        return self.toks[self.i][0] if self.i < len(self.toks) else None

    def pos(self):
        return self.toks[self.i][1] if self.i < len(self.toks) else len(self.s)

    def parse(self):
        if not self.toks:
            return None
        node = self.or_expr()
        if self.i != len(self.toks):
            raise SearchSyntaxError("unexpected %r" % self.peek(), self.pos())
        return node

    def or_expr(self):
        items = [self.and_expr()]
        while self.peek() == "OR":
            self.i += 1
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else ("or", items)

    def and_expr(self):
        items = [self.unary()]
        while True:
            t = self.peek()
            if t == "AND":
                self.i += 1
                items.append(self.unary())
            elif t in ("TERM", "(", "-", "NOT"):
                items.append(self.unary())
            else:
                break
        return items[0] if len(items) == 1 else ("and", items)

    def unary(self):
        self.depth += 1
        try:
            return self._unary()
        finally:
            self.depth -= 1

    def _unary(self):
        if self.depth > MAX_DEPTH:
            raise SearchSyntaxError("the query nests deeper than %d" % MAX_DEPTH, self.pos())
        t = self.peek()
        if t in ("-", "NOT"):
            self.i += 1
            return ("not", self.unary())
        if t == "(":
            start = self.pos()
            self.i += 1
            if self.peek() == ")":
                raise SearchSyntaxError("empty parentheses", start)
            node = self.or_expr()
            if self.peek() != ")":
                raise SearchSyntaxError("unbalanced parenthesis", start)
            self.i += 1
            return node
        if t == "TERM":
            node = ("term", self.toks[self.i][2])
            self.i += 1
            return node
        if t is None:
            raise SearchSyntaxError("the query ends where a term was expected", len(self.s))
        raise SearchSyntaxError("unexpected %r where a term was expected" % t, self.pos())


def parse(query):
    """The query as a tree of ("and"|"or", [..]) ("not", x) ("term", Term), or
    None for an empty query. Raises SearchSyntaxError."""
    return _Parser(query or "").parse()


def evaluate(node, match_term):
    """True/False/None for one record. match_term(Term) returns True/False, or
    None for a term the provider ignores (an unknown field): an ignored term
    is dropped from its AND/OR/NOT, and a query of ignored terms matches all."""
    if node is None:
        return None
    op = node[0]
    if op == "term":
        return match_term(node[1])
    if op == "not":
        v = evaluate(node[1], match_term)
        return None if v is None else not v
    vals = [v for v in (evaluate(x, match_term) for x in node[1]) if v is not None]
    if not vals:
        return None
    return all(vals) if op == "and" else any(vals)


def terms(node):
    if node is None:
        return []
    if node[0] == "term":
        return [node[1]]
    if node[0] == "not":
        return terms(node[1])
    return [t for x in node[1] for t in terms(x)]
