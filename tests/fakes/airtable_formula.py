"""Airtable formulas (filterByFormula), parsed and evaluated for real.

The subset follows Airtable's formula field reference
(https://support.airtable.com/docs/formula-field-reference):

  - field references {Field Name} (case-sensitive names; no escapes inside the
    braces, so a name containing "}" cannot be referenced), and a bare
    one-word field name;
  - string literals in single or double quotes, where a backslash escapes the
    next character: \\' \\" \\\\ (and \\n, \\t, \\r for line breaks and tabs);
  - numbers (12, 1.5, .5); TRUE() and FALSE() are 1 and 0;
  - operators = != < > <= >= & + - * / and unary minus, parentheses;
  - functions AND OR NOT XOR IF, FIND SEARCH LOWER UPPER LEN TRIM LEFT RIGHT
    MID CONCATENATE SUBSTITUTE VALUE T BLANK TRUE FALSE ISERROR RECORD_ID,
    IS_BEFORE IS_AFTER IS_SAME DATETIME_PARSE.

Evaluation follows Airtable's documented behaviour: a comparison yields 1 or 0,
string comparison is case-sensitive, FIND returns a 1-based position or 0,
SEARCH is case-insensitive and returns blank when nothing is found, a record
is kept when the formula's value is truthy (non-zero, non-empty, not an
error). Blank (an empty field) behaves as 0 next to a number and as "" next to
text, as in spreadsheets; this detail is not spelled out in Airtable's docs
(README.md lists it).

A malformed formula raises FormulaError; the fake answers it with 422
INVALID_FILTER_BY_FORMULA, as Airtable does.
"""

import datetime
import re


class FormulaError(ValueError):
    """The formula cannot be parsed or refers to something unknown."""


class ErrorValue:
    """#ERROR! at evaluation time (division by zero, a bad VALUE())."""

    def __bool__(self):
        return False


ERROR = ErrorValue()

# ---------------------------------------------------------------- lexer

OPERATORS = ["!=", "<=", ">=", "<>", "=", "<", ">", "&", "+", "-", "*", "/", "(", ")", ","]
STRING_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


def tokenize(src):
    toks, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if c.isspace():
            i += 1
            continue
        if c == "{":
            j = src.find("}", i + 1)
            if j < 0:
                raise FormulaError("unterminated field reference at offset %d" % i)
            name = src[i + 1:j]
            if name == "":
                raise FormulaError("empty field reference at offset %d" % i)
            toks.append(("FIELD", name, i))
            i = j + 1
            continue
        if c in "'\"":
            quote, j, buf = c, i + 1, []
            while True:
                if j >= n:
                    raise FormulaError("unterminated string at offset %d" % i)
                d = src[j]
                if d == "\\":
                    if j + 1 >= n:
                        raise FormulaError("dangling backslash at offset %d" % j)
                    e = src[j + 1]
                    buf.append(STRING_ESCAPES.get(e, e))
                    j += 2
                elif d == quote:
                    break
                else:
                    buf.append(d)
                    j += 1
            toks.append(("STRING", "".join(buf), i))
            i = j + 1
            continue
        m = re.compile(r"\d+(\.\d*)?([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?").match(src, i)
        if m:
            text = m.group(0)
            toks.append(("NUMBER", float(text) if re.search(r"[.eE]", text) else int(text), i))
            i = m.end()
            continue
        m = re.compile(r"[A-Za-z_][A-Za-z0-9_]*").match(src, i)
        if m:
            toks.append(("IDENT", m.group(0), i))
            i = m.end()
            continue
        for op in OPERATORS:
            if src.startswith(op, i):
                toks.append(("OP", "!=" if op == "<>" else op, i))
                i += len(op)
                break
        else:
            raise FormulaError("unexpected character %r at offset %d" % (c, i))
    toks.append(("EOF", None, n))
    return toks


# ---------------------------------------------------------------- parser
# AST: ("num", v) ("str", v) ("field", name) ("call", NAME, [args]) ("neg", x)
#      ("bin", op, a, b)

COMPARISON = ("=", "!=", "<", ">", "<=", ">=")


MAX_DEPTH = 64  # nesting of parentheses, calls and unary minus


class Parser:
    def __init__(self, src, fields):
        self.toks = tokenize(src)
        self.i = 0
        self.fields = fields
        self.depth = 0

    def peek(self, value=None):
        kind, v, _ = self.toks[self.i]
        return kind == "OP" and v == value if value else kind

    def take(self):
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, value):
        kind, v, pos = self.take()
        if kind != "OP" or v != value:
            raise FormulaError("expected %r at offset %d" % (value, pos))

    def parse(self):
        node = self.comparison()
        kind, v, pos = self.toks[self.i]
        if kind != "EOF":
            raise FormulaError("unexpected %r at offset %d" % (v, pos))
        return node

    def binary(self, ops, sub):
        node = sub()
        while self.toks[self.i][0] == "OP" and self.toks[self.i][1] in ops:
            op = self.take()[1]
            node = ("bin", op, node, sub())
        return node

    def comparison(self):
        return self.binary(COMPARISON, self.concat)

    def concat(self):
        return self.binary(("&",), self.additive)

    def additive(self):
        return self.binary(("+", "-"), self.term)

    def term(self):
        return self.binary(("*", "/"), self.unary)

    def unary(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FormulaError("the formula nests deeper than %d" % MAX_DEPTH)
        try:
            return self._unary()
        finally:
            self.depth -= 1

    def _unary(self):
        if self.peek("-"):
            self.take()
            return ("neg", self.unary())
        if self.peek("+"):
            self.take()
            return self.unary()
        return self.primary()

    def primary(self):
        kind, v, pos = self.take()
        if kind == "NUMBER":
            return ("num", v)
        if kind == "STRING":
            return ("str", v)
        if kind == "FIELD":
            return self.field(v, pos)
        if kind == "OP" and v == "(":
            node = self.comparison()
            self.expect(")")
            return node
        if kind == "IDENT":
            if self.peek("("):
                self.take()
                args = []
                if not self.peek(")"):
                    args.append(self.comparison())
                    while self.peek(","):
                        self.take()
                        args.append(self.comparison())
                self.expect(")")
                name = v.upper()
                if name not in FUNCTIONS:
                    raise FormulaError("unknown function %s() at offset %d" % (v, pos))
                lo, hi = FUNCTIONS[name][0]
                if len(args) < lo or (hi is not None and len(args) > hi):
                    raise FormulaError("%s() takes %s argument(s), got %d" % (
                        name, lo if lo == hi else "%d..%s" % (lo, hi if hi is not None else "n"), len(args)))
                return ("call", name, args)
            return self.field(v, pos)  # a bare one-word field name
        if kind == "EOF":
            raise FormulaError("the formula ends where a value was expected")
        raise FormulaError("unexpected %r at offset %d" % (v, pos))

    def field(self, name, pos):
        if name not in self.fields:
            raise FormulaError("Unknown field names: %s" % name.lower())
        return ("field", name)


def parse(src, fields):
    """The formula's AST; `fields` is the set of the table's field names."""
    return Parser(src, fields).parse()


# ---------------------------------------------------------------- values

def is_blank(v):
    return v is None


def to_num(v):
    if v is None:
        return 0
    if isinstance(v, bool):
        return 1 if v else 0
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, str):
        try:
            return float(v) if re.search(r"[.eE]", v) else int(v)
        except ValueError:
            return ERROR
    return ERROR


def to_str(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return str(v)


def truthy(v):
    if v is None or v is ERROR:
        return False
    if isinstance(v, str):
        return v != ""
    return bool(v)


def compare(op, a, b):
    if a is ERROR or b is ERROR:
        return ERROR
    numeric = any(isinstance(x, (int, float)) for x in (a, b))
    if numeric:
        x, y = to_num(a), to_num(b)
        if x is ERROR or y is ERROR:  # a number against non-numeric text
            x, y = to_str(a), to_str(b)
    else:
        x, y = to_str(a), to_str(b)
    r = {"=": x == y, "!=": x != y, "<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y}[op]
    return 1 if r else 0


def parse_dt(v):
    if v is None or v is ERROR:
        return None
    t = to_str(v).strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t):
            return datetime.datetime.fromisoformat(t).replace(tzinfo=datetime.timezone.utc)
        if t.endswith(("Z", "z")):
            t = t[:-1] + "+00:00"
        dt = datetime.datetime.fromisoformat(t)
    except ValueError:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=datetime.timezone.utc)).astimezone(datetime.timezone.utc)


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


def _find(args, fold):
    needle, hay = to_str(args[0]), to_str(args[1])
    start = int(to_num(args[2])) if len(args) > 2 else 1
    if fold:
        needle, hay = needle.lower(), hay.lower()
    return hay.find(needle, max(0, start - 1)) + 1


def _same(args):
    a, b = parse_dt(args[0]), parse_dt(args[1])
    if a is None or b is None:
        return ERROR
    unit = to_str(args[2]).lower() if len(args) > 2 else "millisecond"
    fmt = {"year": "%Y", "month": "%Y-%m", "day": "%Y-%m-%d", "hour": "%Y-%m-%dT%H",
           "minute": "%Y-%m-%dT%H:%M", "second": "%Y-%m-%dT%H:%M:%S"}.get(unit)
    if fmt is None:
        return 1 if a == b else 0
    return 1 if a.strftime(fmt) == b.strftime(fmt) else 0


def _before(args, after):
    a, b = parse_dt(args[0]), parse_dt(args[1])
    if a is None or b is None:
        return ERROR
    return 1 if (a > b if after else a < b) else 0


# name: ((min args, max args or None), function(evaluated args, record))
FUNCTIONS = {
    "AND": ((1, None), lambda a, r: 1 if all(truthy(x) for x in a) else 0),
    "OR": ((1, None), lambda a, r: 1 if any(truthy(x) for x in a) else 0),
    "XOR": ((1, None), lambda a, r: sum(1 for x in a if truthy(x)) % 2),
    "NOT": ((1, 1), lambda a, r: 0 if truthy(a[0]) else 1),
    "IF": ((2, 3), None),  # lazy, see evaluate()
    "TRUE": ((0, 0), lambda a, r: 1),
    "FALSE": ((0, 0), lambda a, r: 0),
    "BLANK": ((0, 0), lambda a, r: None),
    "FIND": ((2, 3), lambda a, r: _find(a, False)),
    "SEARCH": ((2, 3), lambda a, r: _find(a, True) or None),
    "LOWER": ((1, 1), lambda a, r: to_str(a[0]).lower()),
    "UPPER": ((1, 1), lambda a, r: to_str(a[0]).upper()),
    "LEN": ((1, 1), lambda a, r: len(to_str(a[0]))),
    "TRIM": ((1, 1), lambda a, r: to_str(a[0]).strip()),
    "LEFT": ((2, 2), lambda a, r: to_str(a[0])[:max(0, int(to_num(a[1])))]),
    "RIGHT": ((2, 2), lambda a, r: to_str(a[0])[len(to_str(a[0])) - max(0, int(to_num(a[1]))):]
              if int(to_num(a[1])) > 0 else ""),
    "MID": ((3, 3), lambda a, r: to_str(a[0])[max(0, int(to_num(a[1])) - 1):
                                              max(0, int(to_num(a[1])) - 1) + max(0, int(to_num(a[2])))]),
    "CONCATENATE": ((1, None), lambda a, r: "".join(to_str(x) for x in a)),
    "SUBSTITUTE": ((3, 3), lambda a, r: to_str(a[0]).replace(to_str(a[1]), to_str(a[2]))
                   if to_str(a[1]) else to_str(a[0])),
    "VALUE": ((1, 1), lambda a, r: to_num(to_str(a[0]).strip() or "0")),
    "T": ((1, 1), lambda a, r: a[0] if isinstance(a[0], str) else ""),
    "ISERROR": ((1, 1), lambda a, r: 1 if a[0] is ERROR else 0),
    "RECORD_ID": ((0, 0), lambda a, r: r["id"]),
    "IS_BEFORE": ((2, 2), lambda a, r: _before(a, False)),
    "IS_AFTER": ((2, 2), lambda a, r: _before(a, True)),
    "IS_SAME": ((2, 3), lambda a, r: _same(a)),
    "DATETIME_PARSE": ((1, 3), lambda a, r: (lambda d: ERROR if d is None else iso(d))(parse_dt(a[0]))),
}


def evaluate(node, record, field_value):
    """The value of the formula for one record; field_value(record, name)
    returns the field's formula value (None when blank)."""
    kind = node[0]
    if kind in ("num", "str"):
        return node[1]
    if kind == "field":
        return field_value(record, node[1])
    if kind == "neg":
        v = to_num(evaluate(node[1], record, field_value))
        return ERROR if v is ERROR else -v
    if kind == "call":
        name, args = node[1], node[2]
        if name == "IF":
            cond = evaluate(args[0], record, field_value)
            if truthy(cond):
                return evaluate(args[1], record, field_value)
            return evaluate(args[2], record, field_value) if len(args) > 2 else None
        vals = [evaluate(a, record, field_value) for a in args]
        if name != "ISERROR" and any(v is ERROR for v in vals) and name not in ("AND", "OR", "XOR", "NOT"):
            return ERROR
        try:
            return FUNCTIONS[name][1](vals, record)
        except (OverflowError, ValueError, TypeError):
            return ERROR  # e.g. LEFT('a', 1e999): Airtable shows #ERROR!
    _, op, a, b = node
    x, y = evaluate(a, record, field_value), evaluate(b, record, field_value)
    if op in COMPARISON:
        return compare(op, x, y)
    if op == "&":
        return ERROR if ERROR in (x, y) else to_str(x) + to_str(y)
    x, y = to_num(x), to_num(y)
    if x is ERROR or y is ERROR:
        return ERROR
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if y == 0:
        return ERROR  # #DIV/0!
    return x / y
