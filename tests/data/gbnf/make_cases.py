#!/usr/bin/python3
"""Writes cases.json: GBNF grammars, texts, and whether each text is in the grammar's language,
as judged by Lark's Earley parser (Debian's python3-lark). The C++ tests check that GbnfState
takes exactly those texts (every byte of a valid one, and complete() exactly for valid ones),
with the grammar read from its GBNF and from its Lark text (which vLLM's guided_grammar takes
too).

Each grammar is written once as a tree (Lit, Cls, Any, Ref, Seq, Alt, Rep) and printed both as
GBNF (what the test compiles) and as a Lark grammar of one-character terminals (what judges).
Texts: random derivations of the grammar (valid by construction, judged anyway) and mutations of
them (a character dropped, doubled, swapped for another, or the text cut short).

Run: /usr/bin/python3 tests/data/gbnf/make_cases.py > tests/data/gbnf/cases.json
"""
import json
import random

import lark


class Lit:
    def __init__(self, text): self.text = text
class Cls:
    def __init__(self, ranges, negated=False): self.ranges, self.negated = ranges, negated
class Any:
    pass
class Ref:
    def __init__(self, name): self.name = name
class Seq:
    def __init__(self, *items): self.items = items
class Alt:
    def __init__(self, *items): self.items = items
class Rep:
    def __init__(self, item, lo, hi=None): self.item, self.lo, self.hi = item, lo, hi


def c(chars, negated=False):
    """A class from 'a-z09' style text (no escapes needed in the tree)."""
    ranges, i = [], 0
    while i < len(chars):
        if i + 2 < len(chars) and chars[i + 1] == '-':
            ranges.append((chars[i], chars[i + 2])); i += 3
        else:
            ranges.append((chars[i], chars[i])); i += 1
    return Cls(ranges, negated)


def gbnf_char(ch, in_class, rng):
    o = ord(ch)
    simple = {'\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\'}
    if ch in simple: return simple[ch]
    if not in_class and ch == '"': return '\\"'
    if in_class and ch in ']-^[': return '\\' + ch
    if o < 0x20 or o == 0x7f: return '\\x%02X' % o
    if o > 0x7f and rng.random() < 0.5:  # both raw UTF-8 and escapes
        return '\\u%04X' % o if o <= 0xffff else '\\U%08X' % o
    return ch


def to_gbnf(node, rng):
    if isinstance(node, Lit):
        return '"' + ''.join(gbnf_char(ch, False, rng) for ch in node.text) + '"'
    if isinstance(node, Cls):
        body = ''.join(gbnf_char(a, True, rng) + ('' if a == b else '-' + gbnf_char(b, True, rng))
                       for a, b in node.ranges)
        return '[' + ('^' if node.negated else '') + body + ']'
    if isinstance(node, Any): return '.'
    if isinstance(node, Ref): return node.name
    if isinstance(node, Seq): return '(' + ' '.join(to_gbnf(i, rng) for i in node.items) + ')'
    if isinstance(node, Alt): return '(' + ' | '.join(to_gbnf(i, rng) for i in node.items) + ')'
    if isinstance(node, Rep):
        inner = to_gbnf(node.item, rng)
        if (node.lo, node.hi) == (0, None): return inner + '*'
        if (node.lo, node.hi) == (1, None): return inner + '+'
        if (node.lo, node.hi) == (0, 1): return inner + '?'
        if node.hi is None: return inner + '{%d,}' % node.lo
        if node.lo == node.hi: return inner + '{%d}' % node.lo
        return inner + '{%d,%d}' % (node.lo, node.hi)
    raise TypeError(node)


def lark_name(name):
    return 'r' + name.encode().hex()


def lark_char(ch):
    # Lark decodes \x, \u and \U itself before the regex sees them: the regex's own
    # metacharacters are escaped with a backslash instead.
    return '\\' + ch if ch in '\\]^-[/' else '\\U%08x' % ord(ch)


def lark_class(ranges, negated):
    body = ''.join(lark_char(a) + ('' if a == b else '-' + lark_char(b)) for a, b in ranges)
    return '/[' + ('^' if negated else '') + body + ']/'


def to_lark(node):
    if isinstance(node, Lit):
        return '(' + ' '.join(lark_class([(ch, ch)], False) for ch in node.text) + ')' if node.text else ''
    if isinstance(node, Cls): return lark_class(node.ranges, node.negated)
    if isinstance(node, Any): return '/./s'
    if isinstance(node, Ref): return lark_name(node.name)
    if isinstance(node, Seq): return '(' + ' '.join(to_lark(i) for i in node.items) + ')'
    if isinstance(node, Alt):
        # Lark has no empty alternative inside a group: an empty one makes the group optional.
        items = [to_lark(i) for i in node.items]
        nonempty = [i for i in items if i]
        group = '(' + ' | '.join(nonempty) + ')'
        return '[' + group + ']' if len(nonempty) < len(items) else group
    if isinstance(node, Rep):
        inner = to_lark(node.item)
        if node.hi is None:
            return '(' + inner + ' ~ %d) ' % node.lo + inner + '*' if node.lo else inner + '*'
        if node.hi == 0: return ''
        return inner + ' ~ %d..%d' % (node.lo, node.hi) if node.lo else '[' + inner + ' ~ 1..%d]' % node.hi
    raise TypeError(node)


def derive(node, rules, rng, depth):
    if isinstance(node, Lit): return node.text
    if isinstance(node, Cls):
        if node.negated:
            while True:
                ch = rng.choice(['a', 'Z', '5', ' ', '\n', '"', '\\', 'é', '中', '😀', '\t', '-'])
                if not any(ord(a) <= ord(ch) <= ord(b) for a, b in node.ranges): return ch
        a, b = rng.choice(node.ranges)
        return chr(rng.randint(ord(a), ord(b)))
    if isinstance(node, Any): return rng.choice(['x', ' ', '\n', 'ü', '字', '🙂', '"'])
    if isinstance(node, Ref): return derive(rules[node.name], rules, rng, depth + 1)
    if isinstance(node, Seq): return ''.join(derive(i, rules, rng, depth) for i in node.items)
    if isinstance(node, Alt):
        items = list(node.items)
        if depth > 6:  # prefer the alternatives that do not recurse
            flat = [i for i in items if not contains_ref(i)]
            items = flat or items
        return derive(rng.choice(items), rules, rng, depth)
    if isinstance(node, Rep):
        hi = node.hi if node.hi is not None else node.lo + (3 if depth < 6 else 0)
        n = rng.randint(node.lo, hi)
        return ''.join(derive(node.item, rules, rng, depth + 1) for _ in range(n))
    raise TypeError(node)


def contains_ref(node):
    if isinstance(node, Ref): return True
    if isinstance(node, (Seq, Alt)): return any(contains_ref(i) for i in node.items)
    if isinstance(node, Rep): return contains_ref(node.item)
    return False


WS = Rep(c(' \t\n'), 0, 3)
JSON_CHAR = Alt(c('"\\\x00-\x1f', negated=True),
                Seq(Lit('\\'), Alt(c('"\\/bfnrt'), Seq(Lit('u'), Rep(c('0-9a-fA-F'), 4, 4)))))
GRAMMARS = {
    'arithmetic': {
        'root': Ref('expr'),
        'expr': Seq(Ref('term'), Rep(Seq(c('+-'), Ref('term')), 0)),
        'term': Seq(Ref('factor'), Rep(Seq(c('*/'), Ref('factor')), 0)),
        'factor': Alt(Ref('number'), Seq(Lit('('), Ref('expr'), Lit(')'))),
        'number': Seq(Rep(Lit('-'), 0, 1), Rep(c('0-9'), 1)),
    },
    'json': {
        'root': Seq(Ref('object')),
        'value': Alt(Ref('object'), Ref('array'), Ref('string'), Ref('number'),
                     Lit('true'), Lit('false'), Lit('null')),
        'object': Seq(Lit('{'), Ref('ws'), Rep(Seq(Ref('string'), Ref('ws'), Lit(':'), Ref('ws'),
                                                   Ref('value'), Ref('ws'),
                                                   Rep(Seq(Lit(','), Ref('ws'), Ref('string'),
                                                           Ref('ws'), Lit(':'), Ref('ws'),
                                                           Ref('value'), Ref('ws')), 0)), 0, 1),
                      Lit('}')),
        'array': Seq(Lit('['), Ref('ws'), Rep(Seq(Ref('value'), Ref('ws'),
                                                  Rep(Seq(Lit(','), Ref('ws'), Ref('value'),
                                                          Ref('ws')), 0)), 0, 1), Lit(']')),
        'string': Seq(Lit('"'), Rep(JSON_CHAR, 0), Lit('"')),
        'number': Seq(Rep(Lit('-'), 0, 1), Alt(Lit('0'), Seq(c('1-9'), Rep(c('0-9'), 0, 15))),
                      Rep(Seq(Lit('.'), Rep(c('0-9'), 1, 16)), 0, 1),
                      Rep(Seq(c('eE'), Rep(c('-+'), 0, 1), Rep(c('0-9'), 1, 3)), 0, 1)),
        'ws': Rep(c(' \t\n'), 0, 20),
    },
    'list': {
        'root': Rep(Seq(Lit('- '), Ref('item'), Lit('\n')), 1),
        'item': Rep(c('\n', negated=True), 1),
    },
    'counted': {
        'root': Seq(Rep(c('a-c'), 2, 4), Lit('-'), Rep(c('0-9'), 3), Rep(Lit('xy'), 0, 2),
                    Rep(Alt(Lit('!'), Lit('?')), 1, 3), Rep(Lit('.'), 2, None)),
    },
    'ambiguous': {
        'root': Alt(Ref('a'), Ref('b'), Ref('c')),
        'a': Seq(Rep(Lit('x'), 0), Lit('y')),
        'b': Alt(Seq(Rep(Lit('x'), 1), Lit('z')), Seq(Lit('x'), Rep(Lit('x'), 0))),
        'c': Seq(Rep(Lit('xx'), 1), Rep(Lit('x'), 0, 1), Lit('w')),
    },
    'nullable': {
        'root': Seq(Ref('ws'), Ref('item'), Rep(Seq(Ref('ws'), Lit(','), Ref('ws'), Ref('item')), 0),
                    Ref('ws')),
        'ws': Rep(c(' \t'), 0),
        'item': Alt(Lit('a'), Lit('bb'), Lit(''), Seq(Lit('('), Ref('maybe'), Lit(')'))),
        'maybe': Rep(Ref('item'), 0, 2),
    },
    'unicode': {
        'root': Seq(Rep(c('\u3041-\u309f'), 1, 5), Lit(' '), Rep(c('\U0001F600-\U0001F64F'), 0, 2),
                    Lit('|'), Rep(c('a-z\u00e9\u4e00-\u9fff', negated=True), 0, 3), Lit('|'),
                    Any(), Lit('\u00fcber')),
    },
    'nested': {
        'root': Ref('s'),
        's': Alt(Seq(Lit('a'), Ref('s'), Lit('a')), Seq(Lit('b'), Ref('s'), Lit('b')), Lit('c')),
    },
    'escapes': {
        'root': Seq(Lit('say "hi"\\'), Rep(c('\t\r\n'), 1, 2), Lit('[x]'), c('-^]['),
                    c('\x00-\x08'), Lit('\x7f')),
    },
}


def main():
    rng = random.Random(20261122)
    out = []
    for name, rules in GRAMMARS.items():
        gbnf = '\n'.join('%s ::= %s' % (rule, to_gbnf(body, rng)) for rule, body in rules.items())
        lark_text = 'start: %s\n' % lark_name('root') + '\n'.join(
            '%s: %s' % (lark_name(rule), to_lark(body)) for rule, body in rules.items())
        parser = lark.Lark(lark_text, start='start', parser='earley', lexer='dynamic')
        def valid(text):
            try:
                parser.parse(text)
                return True
            except lark.exceptions.LarkError:
                return False
        texts = set()
        for _ in range(60):
            texts.add(derive(rules['root'], rules, rng, 0))
        samples = sorted(texts)
        for text in samples:
            for _ in range(3):
                if not text: break
                i = rng.randrange(len(text))
                kind = rng.randrange(4)
                if kind == 0: texts.add(text[:i] + text[i + 1:])
                elif kind == 1: texts.add(text[:i] + text[i] + text[i:])
                elif kind == 2: texts.add(text[:i] + rng.choice('ax0 -"\\\n(,é😀') + text[i + 1:])
                else: texts.add(text[:i])
        texts.add('')
        cases = [{'text': t, 'valid': valid(t)} for t in sorted(texts)]
        out.append({'name': name, 'gbnf': gbnf, 'lark': lark_text, 'texts': cases})
    json.dump(out, __import__('sys').stdout, ensure_ascii=False, indent=1)
    print()


if __name__ == '__main__':
    main()
