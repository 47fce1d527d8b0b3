#!/usr/bin/python3
"""Writes cases.json: regular expressions, texts, and whether each text matches, as judged by
Python's re module: re.fullmatch for guided_regex (RegexDfa::Anchoring::kFullMatch) and re.search
for JSON Schema's pattern (kSearch). The C++ tests check that RegexDfa agrees on every text.

re runs with re.ASCII, so that \\d \\w \\s are ASCII classes as in ECMA-262 (JSON Schema's
dialect), and the texts keep off where the two dialects still differ: no \\r (ECMA's . refuses
it, Python's takes it), no \\x1c-\\x1f (whitespace to Python only), and no text ending in \\n
for a search pattern with $ (Python's $ also matches before a final newline).

Run: /usr/bin/python3 tests/data/regex/make_cases.py > tests/data/regex/cases.json
"""
import itertools
import json
import random
import re
import sys

PATTERNS = [
    "abc", "a|b|cd", "a*", "a+b?", "(ab)*c", "[a-c]{2,3}", "[^a]+", r"\d{2}-\d{2}",
    r"\w+@\w+\.com", r"\s*x\s*", ".*", ".{2}", "(?:a|bc){1,3}", "a{3}", "a{2,}", "x?y?z?",
    r"[\-.]+", r"[a\]]+", "é+", "😀|é", "[^é]", r"\.", r"a\+", "(a|b)*abb",
    r"[0-9]+(\.[0-9]+)?", "^ab$", "^a|b$", "[A-Z][a-z]*", r"\\", "(a|)+", "(?P<x>a)b",
    "a{0}b", "a{0,1}b", r"[\d\s]+", r"\D\W\S", r"[^\d]", r"\u00e9", r"\x41",
    "a{", "a}", "a*?b", "(?:ab|a)(?:bc|c)", "[a-]", "[-a]", r"[\w.-]+", r"\t\n", "é{2}[😀]",
    r"(\d{1,3}\.){3}\d{1,3}", r"[^\s]*é", "ab|", "|ab", "()", r"[\u00e0-\u00ff]+",
    "^$", "(?:x|yz)*", "[.][^.]", r"\/\-\:",
]

ALPHABET = ["a", "b", "c", "x", "y", "z", "A", "B", "0", "1", "9", "_", "-", ".", "@", " ", "\t",
            "\n", "é", "à", "😀", "\\", "{", "}", "+", "/", ":"]


# Texts some pattern matches, which random ones seldom hit.
EXAMPLES = ["12-34", "1.2.3.4", "123.4.56.7", "1.2.3", "ab@cd.com", "a_b@x1.com", "\t\n", "A",
            "abb", "aabb", "babb", "ababb", " x ", "12.5", "0.25", "éé😀", "AB", "Abc", "aaa",
            "aaaa", "abcbc", "abbc", "ac", "-.", ".a", "/-:", "yzx", "àÿ", "a+", "é", "a{", "a}",
            "aab", "abcc", "a-b.c_d", "0 1", "!_é", "éa", "a b é"]


def texts_for(pattern, rng):
    chars = list(ALPHABET)
    out = set(EXAMPLES)
    # Short texts over the characters the pattern names, and random longer ones.
    used = sorted({c for c in pattern if c in ALPHABET} | {"a", "b", "1", "é"})
    for n in range(0, 4):
        for t in itertools.product(used, repeat=n):
            out.add("".join(t))
    while len(out) < 300:
        n = rng.randrange(0, 12)
        pool = used if rng.random() < 0.7 else chars
        out.add("".join(rng.choice(pool) for _ in range(n)))
    return sorted(out)


def main():
    rng = random.Random(7)
    cases = []
    for pattern in PATTERNS:
        compiled = re.compile(pattern, re.ASCII)
        full = []
        search = []
        for text in texts_for(pattern, rng):
            full.append([text, compiled.fullmatch(text) is not None])
            if "$" in pattern and text.endswith("\n"):
                continue
            search.append([text, compiled.search(text) is not None])
        cases.append({"pattern": pattern, "full_match": full, "search": search})
    json.dump({"generator": "tests/data/regex/make_cases.py", "oracle": "python3 re (re.ASCII)",
               "cases": cases}, fp=sys.stdout, ensure_ascii=False, separators=(",", ":"))


if __name__ == "__main__":
    main()
