// A JSON Schema compiled into the nodes JsonGrammar follows (response_format json_schema, vLLM's
// StructuredOutputsParams.json). Each node says which JSON types a value may have and, per type,
// what constrains it.
//
// The subset, and how it reads it (as xgrammar's strict mode, vLLM's default backend):
// - type (one name or a list); without it every type is allowed, each under its keywords.
// - object: properties, required, additionalProperties. An object with properties has only those
//   keys, each at most once, in any order, the required ones before it closes
//   (additionalProperties is taken as false, which only narrows what is written; so is an empty
//   `properties` without additionalProperties). An object without properties takes any keys,
//   their values following additionalProperties (a schema, or any value), or none when it is
//   false.
// - array: items (one schema for every item), prefixItems (tuples; items then for the rest, or
//   false for none) or draft 4's items list with additionalItems, minItems, maxItems.
// - string: minLength, maxLength (in code points), pattern (regex_dfa.h: ECMA-262 without
//   backreferences or lookaround; unanchored unless it says ^ or $, as JSON Schema reads it), and
//   format date, time, date-time, uuid, ipv4 and email, each read as a pattern that takes only
//   valid values (not every valid value: e-mail addresses are ASCII dot-atoms, dates end Feb 28,
//   times have no leap second).
// - number, integer (no fraction or exponent), boolean, null. minimum, maximum,
//   exclusiveMinimum and exclusiveMaximum (numbers, or draft 4's booleans beside minimum and
//   maximum) are kept by a pattern of the numbers between them (number_range.h): written
//   without exponent or "-0", and a `number` with at most 15 digits.
// - enum and const: the value is exactly one of the values, written as compact JSON (object
//   keys sorted); values that keywords beside them (type, lengths, item counts) refuse are
//   dropped. anyOf branches of enums, const, null or boolean join into one enum (Optional[Enum]).
// - anyOf / oneOf whose branches have different types (the usual Optional: [{...}, {"type":
//   "null"}]), and whose object branches, if several, are told apart by a discriminator: a
//   property every one of them requires, with a distinct const string in each (pydantic's tagged
//   unions). Such an object writes its discriminator first; its value picks the branch.
// - $ref to "#", "#/$defs/..." or "#/definitions/..." (recursion included), and allOf of one
//   schema (pydantic's annotated reference), each with only annotations beside it.
// - Annotations are ignored: title, description, default, examples, $schema, $id, $comment,
//   deprecated, readOnly, writeOnly.
// Any other keyword (multipleOf, allOf of several, uniqueItems, other formats, ...) is an
// error naming it: the grammar could not guarantee it, and a silently ignored constraint would
// be a broken promise.
//
// Thread safety: immutable after compile().
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "engine/sampling_params.h"
#include "engine/structured_output/gbnf.h"
#include "engine/structured_output/regex_dfa.h"

namespace manifold {

class JsonSchema {
 public:
  enum Type : uint8_t {
    kObject = 1,
    kArray = 2,
    kString = 4,
    kNumber = 8,    // any number, integers included
    kInteger = 16,  // integers only (when kNumber is not set)
    kBoolean = 32,
    kNull = 64,
  };
  static constexpr uint8_t kAnyType = kObject | kArray | kString | kNumber | kBoolean | kNull;
  static constexpr uint32_t kUnlimited = std::numeric_limits<uint32_t>::max();
  // Literal and property candidates are tracked in 64-bit masks.
  static constexpr size_t kMaxAlternatives = 64;
  static constexpr size_t kMaxNodes = 65535;
  static constexpr size_t kMaxPatterns = 256;
  // Schemas inside schemas, $ref hops included: deeper ones are refused (the compiler recurses
  // once per level).
  static constexpr int kMaxDepth = 64;

  struct Property {
    std::string key;  // as the output writes it, quotes included: "\"name\""
    int node = 0;
    bool required = false;
  };

  struct Node {
    uint8_t types = kAnyType;
    // object
    std::vector<Property> properties;  // empty: any keys, unless `closed`
    bool closed = false;               // no keys beyond `properties` (with none: only {})
    uint64_t required = 0;             // bit i: properties[i] is required
    int additional = kAnyNode;         // the values of any keys (no properties)
    // array
    std::vector<int> prefix_items;  // prefixItems (or draft 4's list of items): the first items
    int items = kAnyNode;           // the items after those
    uint32_t min_items = 0;
    uint32_t max_items = kUnlimited;
    // string
    uint32_t min_length = 0;
    uint32_t max_length = kUnlimited;
    int pattern = -1;  // pattern or format, min/maxLength folded in: an index into patterns_
    // number, integer: the numbers minimum, maximum and their exclusive forms allow (a full
    // match, no exponent), an index into patterns_; -1 when unbounded
    int number_pattern = -1;
    // enum / const: when not empty the value is exactly one of these texts, whatever `types`
    std::vector<std::string> literals;
    // Where a value of each kind continues: this node, or for anyOf the branch of that type.
    int object_node = 0;
    int array_node = 0;
    int string_node = 0;
    int number_node = 0;
    // A discriminated union of objects (see above): the object branches, and this node's one
    // property is the discriminator, whose value node's literals are the branches' values in
    // the same order. Empty for every other node.
    std::vector<int> union_branches;
    // Compilation only: a $ref (the node it names) or anyOf (its branches), resolved at the end.
    int ref = -1;
    std::vector<int> branches;

    // The schema node of item `i` of an array.
    [[nodiscard]] int itemAt(uint32_t i) const {
      return i < prefix_items.size() ? prefix_items[i] : items;
    }
  };

  static constexpr int kAnyNode = 0;  // any JSON value

  // Errors (kInvalidArgument) name the keyword and where it is, e.g. "properties.tags.items".
  [[nodiscard]] static Result<std::shared_ptr<const JsonSchema>> compile(
      const nlohmann::json& schema);
  [[nodiscard]] static Result<std::shared_ptr<const JsonSchema>> compileText(std::string_view text);
  // response_format json_object: any object.
  [[nodiscard]] static const JsonSchema& anyObject();
  // vLLM's guided_choice: the output is exactly one of `choices`, as written (not JSON). Errors:
  // none, more than kMaxAlternatives, an empty one.
  [[nodiscard]] static Result<std::shared_ptr<const JsonSchema>> choice(
      const std::vector<std::string>& choices);
  // The schema a request's structured output asks for: json_schema compiled, the choice, the
  // regex, the grammar, or anyObject() (not owned) for json_object; null when it asks for none. The
  // last 32 compiled are kept by their text (thread-safe): the gateway's validation, the engine and
  // clients that send the same tools every time share them.
  [[nodiscard]] static Result<std::shared_ptr<const JsonSchema>> forParams(
      const SamplingParams& params);
  // vLLM's guided_regex: the whole output matches `pattern` (regex_dfa.h, a full match).
  [[nodiscard]] static Result<std::shared_ptr<const JsonSchema>> regex(std::string_view pattern);
  // vLLM's guided_grammar, llama.cpp's grammar: the output is a text the GBNF grammar's root
  // derives (gbnf.h). The schema then holds only the grammar, which OutputGrammar follows.
  [[nodiscard]] static Result<std::shared_ptr<const JsonSchema>> grammar(std::string_view text);
  // The GBNF grammar of grammar(); null for every other kind of output.
  [[nodiscard]] const Gbnf* gbnf() const { return gbnf_.get(); }
  // The output is raw text (choice(), regex()), not JSON: no whitespace before it.
  [[nodiscard]] bool raw() const { return raw_; }

  [[nodiscard]] int root() const { return root_; }
  [[nodiscard]] const Node& node(int index) const { return nodes_[static_cast<size_t>(index)]; }
  // The node a value of schema node `index` follows: `index` with its $refs followed.
  [[nodiscard]] int targetOf(int index) const { return targets_[static_cast<size_t>(index)]; }
  [[nodiscard]] const RegexDfa& pattern(int index) const {
    return patterns_[static_cast<size_t>(index)];
  }

 private:
  class Compiler;
  // A schema of one node (after kAnyNode) as its root.
  [[nodiscard]] static std::unique_ptr<JsonSchema> singleNode(Node root);

  std::vector<Node> nodes_;
  std::vector<int> targets_;  // [node]: the node after following $refs
  std::vector<RegexDfa> patterns_;
  std::shared_ptr<const Gbnf> gbnf_;
  int root_ = kAnyNode;
  bool raw_ = false;
};

}  // namespace manifold
