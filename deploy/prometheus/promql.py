"""The names a PromQL expression uses, checked against metrics.txt.

Shared by deploy/prometheus/check (the rules) and deploy/grafana/check (the dashboard). This is
a lexer with just enough grammar to tell a metric name from a function, a keyword or a label,
not a parser: promtool checks the syntax. It finds:

- metric names: an identifier that is neither a keyword nor a function or an aggregation
  (followed by `(`, or by `by`/`without`);
- label matchers: `label op "value"` inside a selector's braces, with the selector's metric;
- grouping labels: inside `by`, `without`, `on`, `ignoring`, `group_left`, `group_right`.

Each must be known: the metric a family of metrics.txt (a histogram through its _bucket, _sum
or _count series) or a name the caller adds (recording rules); the label one of that metric's
(or job, instance, and le for a _bucket); a value of an enumerated label one it takes.
"""

import re

KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "bool", "inf", "nan",
}
AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk",
    "topk", "quantile",
}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
TARGET_LABELS = {"job", "instance"}

_DURATION = re.compile(r"(?:[0-9]+(?:ms|[smhdwy]))+")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_OPERATORS = ("=~", "!~", "!=", "==", ">=", "<=", "=", ">", "<", "+", "-", "*", "/", "%", "^", "@")
_PLAIN_ALTERNATIVES = re.compile(r"[A-Za-z0-9_]+(?:\|[A-Za-z0-9_]+)*")


class Family:
    def __init__(self, name, kind, labels):
        self.name = name
        self.kind = kind
        self.labels = labels  # label -> set of values, or None when its values are not fixed


def load_families(path):
    """metrics.txt -> {series name: Family}, a histogram under its three series' names."""
    series = {}
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            if len(fields) < 2 or fields[1] not in ("counter", "gauge", "histogram"):
                raise ValueError(f"{path}:{number}: expected `name type labels...`")
            labels = {}
            for field in fields[2:]:
                label, _, values = field.partition("=")
                labels[label] = set(values.split("|")) if values else None
            family = Family(fields[0], fields[1], labels)
            if family.kind == "counter" and not family.name.endswith("_total"):
                raise ValueError(f"{path}:{number}: a counter's name ends in _total")
            if family.kind == "histogram":
                for suffix in ("_bucket", "_sum", "_count"):
                    series[family.name + suffix] = family
            else:
                series[family.name] = family
    return series


def tokens(expr):
    """(kind, text) pairs: str (unquoted), duration, number, ident, op, punct."""
    i, n = 0, len(expr)
    while i < n:
        c = expr[i]
        if c.isspace():
            i += 1
        elif c == "#":
            while i < n and expr[i] != "\n":
                i += 1
        elif c in "\"'`":
            j, value = i + 1, []
            while j < n and expr[j] != c:
                if expr[j] == "\\" and c != "`" and j + 1 < n:
                    j += 1
                value.append(expr[j])
                j += 1
            if j >= n:
                raise ValueError("unterminated string")
            yield "str", "".join(value)
            i = j + 1
        elif c.isdigit() or (c == "." and i + 1 < n and expr[i + 1].isdigit()):
            duration = _DURATION.match(expr, i)
            if duration:
                yield "duration", duration.group()
                i = duration.end()
            else:
                number = _NUMBER.match(expr, i)
                yield "number", number.group()
                i = number.end()
        elif _IDENT.match(expr, i):
            ident = _IDENT.match(expr, i)
            yield "ident", ident.group()
            i = ident.end()
        elif c in "{}()[],":
            yield "punct", c
            i += 1
        else:
            for op in _OPERATORS:
                if expr.startswith(op, i):
                    yield "op", op
                    i += len(op)
                    break
            else:
                raise ValueError(f"unexpected character {c!r}")


def check(expr, families, extra_names=()):
    """The problems with the names `expr` uses (empty when none), and the metric names it uses."""
    try:
        toks = list(tokens(expr))
    except ValueError as error:
        return [str(error)], set()
    problems, used = [], set()
    all_labels = set(TARGET_LABELS) | {"le"}
    for family in families.values():
        all_labels |= set(family.labels)
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        following = toks[i + 1] if i + 1 < len(toks) else (None, None)
        if kind == "ident" and text in GROUPING:
            i += 1
            if toks[i:i + 1] == [("punct", "(")]:
                i += 1
                while i < len(toks) and toks[i] != ("punct", ")"):
                    if toks[i][0] == "ident" and toks[i][1] not in all_labels:
                        problems.append(f"unknown label {toks[i][1]!r} in {text}(...)")
                    i += 1
            continue
        if kind == "ident" and (
            following == ("punct", "(")
            or text in AGGREGATIONS and following in (("ident", "by"), ("ident", "without"))
        ):
            i += 1  # a function or an aggregation
            continue
        if kind == "ident" and text.lower() in KEYWORDS:
            i += 1
            continue
        if kind == "punct" and text == "[":
            while i < len(toks) and toks[i] != ("punct", "]"):
                i += 1
            continue
        if kind == "punct" and text == "{":
            problems.append("a selector without a metric name")
            while i < len(toks) and toks[i] != ("punct", "}"):
                i += 1
            continue
        if kind != "ident":
            i += 1
            continue
        # A metric name, perhaps with matchers.
        metric = text
        used.add(metric)
        family = families.get(metric)
        if family is None and metric not in extra_names:
            problems.append(f"unknown metric {metric!r}")
        i += 1
        if toks[i:i + 1] != [("punct", "{")]:
            continue
        i += 1
        while i < len(toks) and toks[i] != ("punct", "}"):
            if toks[i] == ("punct", ","):
                i += 1
                continue
            matcher = toks[i:i + 3]
            if len(matcher) < 3 or matcher[0][0] != "ident" or matcher[2][0] != "str":
                problems.append(f"cannot read the matchers of {metric}")
                break
            (_, label), (_, op), (_, value) = matcher
            i += 3
            if label == "__name__":
                problems.append(f"{metric}: name metrics, not __name__ matchers")
                continue
            if family is None:
                if label not in all_labels:
                    problems.append(f"{metric}: unknown label {label!r}")
                continue
            known = set(family.labels) | TARGET_LABELS
            if metric.endswith("_bucket") and family.kind == "histogram":
                known.add("le")
            if label not in known:
                problems.append(f"{metric}: it has no label {label!r}")
                continue
            values = family.labels.get(label)
            if values is None:
                continue
            if op in ("=", "!="):
                wanted = [value]
            elif _PLAIN_ALTERNATIVES.fullmatch(value):
                wanted = value.split("|")
            else:
                wanted = []
            for one in wanted:
                if one not in values:
                    problems.append(f"{metric}: {label} is never {one!r}")
        i += 1
    return problems, used
