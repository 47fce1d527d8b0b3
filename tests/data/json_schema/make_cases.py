#!/usr/bin/python3
"""Writes cases.json: JSON Schemas, documents, and whether each document is valid, as judged by
python-jsonschema (Debian's python3-jsonschema, Draft 2020-12). The C++ tests check that
JsonGrammar accepts exactly the valid documents.

Patterns are judged by Python's re (search, as JSON Schema's ECMA-262 regexes are): the documents
keep off where the two differ: Python's $ also matches before a final newline ("AB-123\\n"), and
its \\d takes every Unicode digit ("AB-\u0661\u0662\u0663"); ECMA's do not, nor does the grammar.
Formats are judged by jsonschema's FormatChecker; the dates avoid
Feb 29, which the grammar's date format leaves out, and "20240101", which jsonschema takes
and RFC 3339's full-date does not.

The documents avoid what the grammar reads more narrowly than JSON Schema, on purpose and as
documented (engine/structured_output/json_schema.h): integral floats such as 1.0 where an integer
is asked for, bounded numbers with an exponent, "-0" or more than 15 digits, enum values spelled other than as compact JSON, keys outside `properties` (every
schema here with properties says additionalProperties false), a union's discriminator written
after other keys (the valid documents write it first, and mutations do not move keys).

Run: /usr/bin/python3 tests/data/json_schema/make_cases.py > tests/data/json_schema/cases.json
"""
import copy
import json
import random

import jsonschema

SCHEMAS = {
    "person": {
        "type": "object",
        "title": "Person",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 12, "description": "full"},
            "age": {"type": "integer"},
            "email": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            "tags": {"type": "array", "items": {"enum": ["a", "bb", "c"]},
                     "minItems": 1, "maxItems": 3},
            "score": {"type": "number"},
        },
        "required": ["name", "age"],
        "additionalProperties": False,
    },
    "tree": {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "value": {"type": "number"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                },
                "required": ["value"],
                "additionalProperties": False,
            }
        },
        "$ref": "#/$defs/node",
    },
    "mixed_enum": {"enum": ["red", "green", 1, 12, True, None, {"a": 1}, [1, 2]]},
    "int_array": {"type": "array", "items": {"type": ["integer", "null"]}, "maxItems": 4},
    "short_string": {"type": "string", "minLength": 2, "maxLength": 5},
    "number": {"type": "number"},
    "flags": {"type": "object", "additionalProperties": {"type": "boolean"}},
    "shape": {
        "type": "object",
        "properties": {"kind": {"const": "circle"}, "r": {"type": "number"}},
        "required": ["kind", "r"],
        "additionalProperties": False,
    },
    "optional_only": {
        "type": "object",
        "properties": {"x": {"type": "integer"}, "y": {"type": "boolean"}},
        "additionalProperties": False,
    },
    "any_object": {"type": "object"},
    "no_arguments": {"type": "object", "additionalProperties": False},
    "typed_enum": {"type": "object", "additionalProperties": False, "required": ["a", "b"],
                   "properties": {"a": {"type": "string", "enum": ["x", 1, "yy"], "maxLength": 1},
                                  "b": {"anyOf": [{"$ref": "#/$defs/color"}, {"type": "null"}]}},
                   "$defs": {"color": {"enum": ["red", "blue"]}}},
    "tagged": {
        "type": "array",
        "items": {"anyOf": [
            {"type": "object", "properties": {"kind": {"const": "circle"}, "r": {"type": "number"}},
             "required": ["kind", "r"], "additionalProperties": False},
            {"type": "object",
             "properties": {"kind": {"const": "rect"}, "w": {"type": "number"},
                            "h": {"type": "number"}},
             "required": ["kind", "w", "h"], "additionalProperties": False},
            {"type": "null"},
        ]},
    },
    "pattern_code": {"type": "string", "pattern": "^[A-Z]{2}-\\d{3}$"},
    "pattern_search": {"type": "string", "pattern": "ab+c"},
    "pattern_lengths": {"type": "string", "pattern": "^[a-z]+$", "minLength": 2, "maxLength": 4},
    "pattern_unicode": {
        "type": "object",
        "properties": {"w": {"type": "string", "pattern": "^[^\\s\"]*(é|\\n)$"},
                       "n": {"type": ["string", "null"], "pattern": "^(?:x|yz)*$"}},
        "required": ["w"],
        "additionalProperties": False,
    },
    "formats": {
        "type": "object",
        "properties": {"id": {"type": "string", "format": "uuid"},
                       "ip": {"type": "string", "format": "ipv4"},
                       "day": {"type": "string", "format": "date"}},
        "additionalProperties": False,
    },
    "bounds": {
        "type": "object",
        "properties": {"n": {"type": "integer", "minimum": -3, "maximum": 12},
                       "p": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                       "t": {"type": ["number", "null"], "minimum": -273.15,
                             "exclusiveMaximum": 1000},
                       "k": {"type": "array", "items": {"type": "integer", "exclusiveMinimum": 99},
                             "maxItems": 3},
                       "e": {"enum": [1, 5, 9.5], "maximum": 6}},
        "required": ["n"],
        "additionalProperties": False,
    },
    # pydantic v1's annotated reference: allOf of one $ref, with a description beside it.
    "annotated_ref": {
        "type": "object",
        "properties": {"size": {"allOf": [{"$ref": "#/definitions/Size"}],
                                "description": "how big", "default": "s"},
                       "box": {"allOf": [{"$ref": "#/definitions/Box"}]}},
        "required": ["box"],
        "additionalProperties": False,
        "definitions": {"Size": {"title": "Size", "enum": ["s", "m", "l"]},
                        "Box": {"type": "object", "properties": {"w": {"type": "integer",
                                                                       "minimum": 1}},
                                "required": ["w"], "additionalProperties": False}},
    },
    # pydantic's Tuple[str, int] (items false: no more), and a tuple whose rest are booleans.
    "tuple": {"type": "array", "prefixItems": [{"type": "string", "maxLength": 3},
                                               {"type": "integer", "minimum": 0}],
              "items": False, "minItems": 1},
    "tuple_rest": {"type": "array", "prefixItems": [{"type": "null"}], "items": {"type": "boolean"},
                   "maxItems": 3},
}

# Strings near the patterns and formats, and numbers near the bounds, judged like the rest.
NEAR = {
    "pattern_code": ["AB-12", "ab-123", "AB-1234", "AB 123", "ABC-123", "A1-123", "XY-99\n"],
    "pattern_search": ["ac", "abc", "xxabbbcyy", "a\nbc", "ABC", "cba", "abab", "éabcé"],
    "pattern_lengths": ["a", "ab", "abcd", "abcde", "aB", "a1", "zzzz", ""],
    "pattern_unicode": [{"w": "é"}, {"w": "abé"}, {"w": "a bé"}, {"w": "a\tb\n"}, {"w": "a\"é"},
                        {"w": "e"}, {"w": "😀\n", "n": "xyzx"}, {"w": "é", "n": "xy"},
                        {"w": "é", "n": None}, {"w": "é", "n": ""}, {"w": "a\n"}],
    "formats": [{"id": "123e4567-e89b-12d3-a456-426614174000"}, {"id": "123e4567e89b12d3a456426614174000"},
                {"id": "123e4567-e89b-12d3-a456-42661417400g"}, {"ip": "192.168.0.255"},
                {"ip": "256.1.1.1"}, {"ip": "01.2.3.4"}, {"ip": "1.2.3"}, {"day": "2024-12-31"},
                {"day": "2024-02-30"}, {"day": "2024-13-01"}, {"day": "2024-04-31"},
                {"day": "2023-02-28", "ip": "0.0.0.0"}],
    "bounds": [{"n": -3}, {"n": -4}, {"n": 12}, {"n": 13}, {"n": 0, "p": 0}, {"n": 0, "p": 0.0001},
               {"n": 1, "p": 1}, {"n": 1, "p": 1.0}, {"n": 1, "p": 1.0000001}, {"n": 2, "p": -0.5},
               {"n": 2, "t": -273.15}, {"n": 2, "t": -273.16}, {"n": 2, "t": -273.149},
               {"n": 2, "t": 999.999}, {"n": 2, "t": 1000}, {"n": 2, "t": 12345.5},
               {"n": 2, "t": None}, {"n": 3, "k": [99]}, {"n": 3, "k": [100, 1000000]},
               {"n": 3, "k": [99.5]}, {"n": 3, "k": [-100]}, {"n": 3, "e": 1}, {"n": 3, "e": 5},
               {"n": 3, "e": 9.5}, {"n": 3, "e": 6}, {"n": 11.5}, {"n": 123456789012}],
    "annotated_ref": [{"box": {"w": 0}}, {"box": {}}, {"size": "xl", "box": {"w": 2}},
                      {"size": "l"}, {"box": {"w": 1, "h": 1}}],
    "tuple": [[], ["a"], ["abcd", 1], [1, "a"], ["a", -1], ["a", 1, 2], ["a", 1, None], ["", 0]],
    "tuple_rest": [[], [None], [True], [None, True, False], [None, True, False, True],
                   [None, None], [None, 1]],
}

VALID = {
    "person": [
        {"name": "Ann", "age": 31},
        {"age": -4, "name": "Zoë Æ", "email": None, "tags": ["bb"]},
        {"name": "a\"b\\c\n", "age": 0, "email": "x@y", "tags": ["a", "c", "a"], "score": 1.5e3},
        {"score": -0.25, "tags": ["c"], "email": "é", "age": 7, "name": "😀x"},
    ],
    "tree": [
        {"value": 1},
        {"value": 2.5, "children": []},
        {"children": [{"value": 1, "children": [{"value": -3e-2}]}, {"value": 0}], "value": 9},
    ],
    "mixed_enum": ["red", "green", 1, 12, True, None, {"a": 1}, [1, 2]],
    "int_array": [[], [1, None, -7], [0, 0, 0, 123456789]],
    "short_string": ["ab", "abcde", "éé", "😀😀😀", "\"\\"],
    "number": [0, -1, 3.25, 1e-7, -12345678901],
    "flags": [{}, {"a": True}, {"x y": False, "": True}],
    "shape": [{"kind": "circle", "r": 2}, {"r": 0.5, "kind": "circle"}],
    "optional_only": [{}, {"x": 1}, {"y": False}, {"y": True, "x": -2}],
    "any_object": [{}, {"a": [1, {"b": None}], "c": "d"}],
    "no_arguments": [{}],
    "typed_enum": [{"a": "x", "b": None}, {"b": "red", "a": "x"}, {"a": "x", "b": "blue"}],
    # The discriminator first: the grammar writes it first (json_schema.h).
    "tagged": [[], [{"kind": "circle", "r": 1}],
               [{"kind": "rect", "w": 1, "h": 2}, None, {"kind": "circle", "r": 0.5}]],
    "pattern_code": ["AB-123", "ZZ-000"],
    "pattern_search": ["abc", "_abbbc_"],
    "pattern_lengths": ["ab", "wxyz"],
    "pattern_unicode": [{"w": "é"}, {"n": "yzx", "w": "ab\n"}],
    "formats": [{}, {"id": "00000000-0000-0000-0000-000000000000", "ip": "10.0.0.1",
                     "day": "1999-01-31"}],
    "bounds": [{"n": 7}, {"p": 0.25, "n": -1, "t": 36.6, "k": [100, 512], "e": 5},
               {"n": 12, "t": -40, "k": [], "p": 1}],
    "annotated_ref": [{"box": {"w": 1}}, {"size": "m", "box": {"w": 40}}],
    "tuple": [["ab"], ["abc", 7]],
    "tuple_rest": [[None], [None, False, True], []],
}

OTHER_VALUES = ["", "text", "é", 0, 7, -3, 2.5, True, False, None, [], [1], {}, {"k": 1},
                "x", "yy", 1, "red", "green"]


def mutations(value, rng):
    """Values near `value`: one change somewhere inside it."""
    out = []
    for _ in range(12):
        v = copy.deepcopy(value)
        target = v
        path = []
        while isinstance(target, (dict, list)) and target and rng.random() < 0.6:
            key = rng.choice(list(target.keys())) if isinstance(target, dict) else rng.randrange(len(target))
            if not isinstance(target[key], (dict, list)):
                break
            path.append(key)
            target = target[key]
        choice = rng.randrange(5)
        if isinstance(target, dict) and target and choice < 2:
            key = rng.choice(list(target.keys()))
            if choice == 0:
                del target[key]
            else:
                target[key] = rng.choice(OTHER_VALUES)
        elif isinstance(target, dict) and choice == 2:
            target[rng.choice(["name", "age", "zz", "value", "kind", "x"])] = rng.choice(OTHER_VALUES)
        elif isinstance(target, list) and choice < 3:
            if target and rng.random() < 0.5:
                target.pop(rng.randrange(len(target)))
            else:
                target.append(rng.choice(OTHER_VALUES))
        else:
            v = rng.choice(OTHER_VALUES + ["a", "bb", "circle", "abcdef", "x" * 13, 12, 1])
        out.append(v)
    return out


def nested_bool(value):
    """A bool inside a container: python-jsonschema 4.10 compares enum members with ==, for which
    {"a": True} equals {"a": 1}. JSON does not; such documents are left out of enum cases."""
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return any(isinstance(v, bool) or nested_bool(v) for v in items)


def texts(value, rng, literals):
    forms = [json.dumps(value, separators=(",", ":"), ensure_ascii=False),
             json.dumps(value, separators=(",", ":"), ensure_ascii=True)]
    if not literals:
        forms.append(json.dumps(value, indent=2, ensure_ascii=False))
        forms.append(json.dumps(value, ensure_ascii=rng.random() < 0.5))
    return forms


def main():
    rng = random.Random(3)
    cases = []
    for name, schema in SCHEMAS.items():
        validator = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        literals = name == "mixed_enum"
        values = list(VALID[name]) + NEAR.get(name, [])
        for v in VALID[name]:
            values.extend(mutations(v, rng))
        documents = []
        seen = set()
        for v in values:
            if literals and nested_bool(v):
                continue
            for text in texts(v, rng, literals):
                if text in seen:
                    continue
                seen.add(text)
                documents.append({"text": text, "valid": validator.is_valid(v)})
        for v in VALID[name]:
            assert validator.is_valid(v), (name, v)
        cases.append({"name": name, "schema": schema, "documents": documents})
    json.dump({"generator": "tests/data/json_schema/make_cases.py",
               "oracle": "python3-jsonschema Draft202012Validator", "cases": cases},
              fp=__import__("sys").stdout, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()
