#include "engine/structured_output/json_schema.h"

#include <algorithm>
#include <cmath>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "common/json_depth.h"
#include "engine/structured_output/number_range.h"

namespace manifold {
namespace {

using nlohmann::json;

// Keywords that say nothing about what may be written.
// "discriminator" is OpenAPI's hint beside a tagged oneOf (pydantic writes it); the branches'
// consts decide.
const std::set<std::string_view> kAnnotations = {
    "title",      "description", "default",   "examples", "$schema",     "$id",          "$comment",
    "deprecated", "readOnly",    "writeOnly", "$defs",    "definitions", "discriminator"};

// `format`s read as patterns (kFullMatch) that take only valid values: RFC 3339 dates without
// Feb 29 and times without a leap second, RFC 4122 UUIDs, dotted-quad IPv4, and e-mail addresses
// whose local part is an ASCII dot-atom.
const std::map<std::string, std::string_view, std::less<>> kFormats = {
    {"date",
     R"(\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|02-(?:0[1-9]|1\d|2[0-8])))"},
    {"time",
     R"((?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d))"},
    {"date-time",
     R"(\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|02-(?:0[1-9]|1\d|2[0-8]))T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d))"},
    {"uuid", R"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"},
    {"ipv4", R"((?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d))"},
    {"email",
     R"([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+)"},
};

Status unsupported(const std::string& where, const std::string& what) {
  return invalidArgument(where + ": " + what + " is not supported");
}

Result<uint32_t> count(const json& value, const std::string& where) {
  if (!value.is_number_integer() || value.get<int64_t>() < 0) {
    return invalidArgument(where + " must be a non-negative integer");
  }
  return static_cast<uint32_t>(std::min<int64_t>(value.get<int64_t>(), JsonSchema::kUnlimited - 1));
}

// One side of a number's range: the tighter of `inclusive_key` and `exclusive_key` (draft 4's
// boolean exclusiveMinimum/exclusiveMaximum make minimum/maximum exclusive). The keywords are
// numbers (or booleans) by now.
std::optional<NumberRange::Bound> rangeSide(const json& s, const char* inclusive_key,
                                            const char* exclusive_key, bool lower) {
  std::optional<NumberRange::Bound> side;
  const auto inclusive = s.find(inclusive_key);
  const auto exclusive = s.find(exclusive_key);
  if (inclusive != s.end()) {
    side = NumberRange::Bound{inclusive->dump(), exclusive != s.end() && exclusive->is_boolean() &&
                                                     exclusive->get<bool>()};
  }
  if (exclusive != s.end() && exclusive->is_number()) {
    const double bound = exclusive->get<double>();
    if (!side.has_value() ||
        (lower ? bound >= inclusive->get<double>() : bound <= inclusive->get<double>())) {
      side = NumberRange::Bound{exclusive->dump(), true};
    }
  }
  return side;
}

Result<uint8_t> typeBit(const json& name, const std::string& where) {
  static const std::map<std::string, uint8_t, std::less<>> kTypes = {
      {"object", JsonSchema::kObject},   {"array", JsonSchema::kArray},
      {"string", JsonSchema::kString},   {"number", JsonSchema::kNumber},
      {"integer", JsonSchema::kInteger}, {"boolean", JsonSchema::kBoolean},
      {"null", JsonSchema::kNull}};
  if (!name.is_string() || kTypes.count(name.get<std::string>()) == 0) {
    return invalidArgument(where + " has an unknown type " + name.dump());
  }
  return kTypes.find(name.get<std::string>())->second;
}

// The JSON types a value of these bits can take, integers counted as numbers.
uint8_t kinds(uint8_t types) {
  return (types & JsonSchema::kInteger) != 0 ? (types | JsonSchema::kNumber) & ~JsonSchema::kInteger
                                             : types;
}

}  // namespace

class JsonSchema::Compiler {
 public:
  Compiler(const json& root, JsonSchema& schema) : root_(root), schema_(schema) {}

  Status run() {
    schema_.nodes_.emplace_back();  // kAnyNode
    const int root = newNode();
    refs_["#"] = root;
    RETURN_IF_ERROR(compileInto(root, root_, "schema"));
    schema_.root_ = root;
    return finish();
  }

 private:
  int newNode() {
    const int index = static_cast<int>(schema_.nodes_.size());
    schema_.nodes_.emplace_back();
    Node& node = schema_.nodes_.back();
    node.object_node = node.array_node = node.string_node = node.number_node = index;
    return index;
  }

  Node& at(int index) { return schema_.nodes_[static_cast<size_t>(index)]; }

  Result<int> compile(const json& s, const std::string& where) {
    if (s.is_boolean() && s.get<bool>()) return kAnyNode;
    const int index = newNode();
    RETURN_IF_ERROR(compileInto(index, s, where));
    return index;
  }

  Status compileInto(int index, const json& s, const std::string& where) {
    if (schema_.nodes_.size() > kMaxNodes) return unsupported(where, "a schema this large");
    if (depth_ >= kMaxDepth) {
      return unsupported(where, "schemas nested deeper than " + std::to_string(kMaxDepth) +
                                    " levels ($ref hops included)");
    }
    ++depth_;
    const Status status = compileNested(index, s, where);
    --depth_;
    return status;
  }

  // compileInto() one level down.
  Status compileNested(int index, const json& s, const std::string& where) {
    std::optional<std::string> pattern;  // pattern or format
    bool no_more_items = false;          // items (after prefixItems) or additionalItems false
    RegexDfa::Anchoring anchoring = RegexDfa::Anchoring::kSearch;
    if (s.is_boolean()) {
      if (s.get<bool>()) return Status::ok();
      return unsupported(where, "the schema false");
    }
    if (!s.is_object()) return invalidArgument(where + " must be an object");
    if (const auto ref = s.find("$ref"); ref != s.end()) {
      for (const auto& [other, unused] : s.items()) {
        if (other != "$ref" && kAnnotations.count(other) == 0) {
          return unsupported(where, "\"" + other + "\" beside $ref");
        }
      }
      if (!ref->is_string()) return invalidArgument(where + ".$ref must be a string");
      ASSIGN_OR_RETURN(at(index).ref, resolveRef(ref->get<std::string>(), where));
      return Status::ok();
    }
    // allOf of one schema is that schema: pydantic writes {"allOf": [{"$ref": ...}],
    // "description": ...} to annotate a reference. Several would need their intersection.
    if (const auto all = s.find("allOf"); all != s.end()) {
      for (const auto& [other, unused] : s.items()) {
        if (other != "allOf" && kAnnotations.count(other) == 0) {
          return unsupported(where, "\"" + other + "\" beside allOf");
        }
      }
      if (!all->is_array() || all->empty()) {
        return invalidArgument(where + ".allOf must be a non-empty list");
      }
      if (all->size() > 1) return unsupported(where, "allOf of more than one schema");
      ASSIGN_OR_RETURN(at(index).ref, compile((*all)[0], where + ".allOf[0]"));
      return Status::ok();
    }
    for (const auto& [key, value] : s.items()) {
      if (kAnnotations.count(key) != 0) continue;
      const std::string here = where + "." + key;
      if (key == "type") {
        uint8_t types = 0;
        if (value.is_array()) {
          for (const json& name : value) {
            ASSIGN_OR_RETURN(uint8_t bit, typeBit(name, here));
            types |= bit;
          }
        } else {
          ASSIGN_OR_RETURN(types, typeBit(value, here));
        }
        if (types == 0) return invalidArgument(here + " names no type");
        at(index).types = types;
      } else if (key == "properties") {
        if (!value.is_object()) return invalidArgument(here + " must be an object");
        if (value.size() > kMaxAlternatives) return unsupported(here, "more than 64 properties");
        for (const auto& [name, property] : value.items()) {
          ASSIGN_OR_RETURN(int node, compile(property, here + "." + name));
          at(index).properties.push_back(Property{json(name).dump(), node, false});
        }
      } else if (key == "required") {
        if (!value.is_array()) return invalidArgument(here + " must be a list");
      } else if (key == "additionalProperties") {
        if (value.is_boolean() && !value.get<bool>()) {
          at(index).closed = true;
          continue;
        }
        // With properties the object keeps to them (narrower, still valid); without, the values
        // of any keys follow this schema.
        ASSIGN_OR_RETURN(at(index).additional, compile(value, here));
      } else if (key == "items" || key == "additionalItems") {
        // The items after prefixItems are `items`; after draft 4's list of items,
        // `additionalItems`; false for none.
        if (key == "additionalItems" && !(s.contains("items") && s["items"].is_array())) {
          return unsupported(where, "additionalItems without a list of items");
        }
        if (value.is_array()) {
          if (s.contains("prefixItems")) return unsupported(here, "a list beside prefixItems");
          ASSIGN_OR_RETURN(at(index).prefix_items, compileList(value, here));
        } else if (value.is_boolean() && !value.get<bool>()) {
          no_more_items = true;
        } else {
          ASSIGN_OR_RETURN(at(index).items, compile(value, here));
        }
      } else if (key == "prefixItems") {
        if (!value.is_array()) return invalidArgument(here + " must be a list");
        ASSIGN_OR_RETURN(at(index).prefix_items, compileList(value, here));
      } else if (key == "minItems") {
        ASSIGN_OR_RETURN(at(index).min_items, count(value, here));
      } else if (key == "maxItems") {
        ASSIGN_OR_RETURN(at(index).max_items, count(value, here));
      } else if (key == "minLength") {
        ASSIGN_OR_RETURN(at(index).min_length, count(value, here));
      } else if (key == "maxLength") {
        ASSIGN_OR_RETURN(at(index).max_length, count(value, here));
      } else if (key == "pattern") {
        if (!value.is_string()) return invalidArgument(here + " must be a string");
        if (pattern.has_value()) return unsupported(where, "pattern beside format");
        pattern = value.get<std::string>();
        anchoring = RegexDfa::Anchoring::kSearch;
      } else if (key == "format") {
        if (!value.is_string()) return invalidArgument(here + " must be a string");
        if (pattern.has_value()) return unsupported(where, "pattern beside format");
        const auto format = kFormats.find(value.get<std::string>());
        if (format == kFormats.end()) return unsupported(here, "the format " + value.dump());
        pattern = std::string(format->second);
        anchoring = RegexDfa::Anchoring::kFullMatch;
      } else if (key == "minimum" || key == "maximum") {
        if (!value.is_number()) return invalidArgument(here + " must be a number");
      } else if (key == "exclusiveMinimum" || key == "exclusiveMaximum") {
        if (!value.is_number() && !value.is_boolean()) {
          return invalidArgument(here + " must be a number");
        }
      } else if (key == "enum" || key == "const") {
        if (key == "enum" && (!value.is_array() || value.empty())) {
          return invalidArgument(here + " must be a non-empty list");
        }
        const json values = key == "enum" ? value : json::array({value});
        if (values.size() > kMaxAlternatives) return unsupported(here, "more than 64 values");
        for (const json& v : values) at(index).literals.push_back(v.dump());
      } else if (key == "anyOf" || key == "oneOf") {
        if (!value.is_array() || value.empty()) {
          return invalidArgument(here + " must be a non-empty list");
        }
        ASSIGN_OR_RETURN(const std::vector<int> branches, compileList(value, here));
        at(index).branches.insert(at(index).branches.end(), branches.begin(), branches.end());
      } else {
        return unsupported(where, "the keyword \"" + key + "\"");
      }
    }
    if (s.contains("properties") && !s.contains("additionalProperties")) at(index).closed = true;
    if (no_more_items) {
      at(index).max_items = std::min<uint32_t>(
          at(index).max_items, static_cast<uint32_t>(at(index).prefix_items.size()));
    }
    if (pattern.has_value()) {
      RETURN_IF_ERROR(compilePattern(at(index), *pattern, anchoring, where));
    }
    RETURN_IF_ERROR(compileNumberRange(at(index), s, where));
    RETURN_IF_ERROR(keepAllowedLiterals(at(index), where));
    Node& node = at(index);
    if (!node.branches.empty()) {
      for (const auto& [key, unused] : s.items()) {
        if (key != "anyOf" && key != "oneOf" && kAnnotations.count(key) == 0) {
          return unsupported(where, "\"" + key + "\" beside anyOf");
        }
      }
    }
    if (node.min_items > node.max_items || node.min_length > node.max_length) {
      return invalidArgument(where + " has a minimum above its maximum");
    }
    if (const auto required = s.find("required"); required != s.end()) {
      for (const json& name : *required) {
        const std::string key = name.is_string() ? json(name.get<std::string>()).dump() : "";
        bool found = false;
        for (size_t i = 0; i < node.properties.size(); ++i) {
          if (node.properties[i].key == key) {
            node.properties[i].required = true;
            node.required |= uint64_t{1} << i;
            found = true;
          }
        }
        if (!found) {
          return invalidArgument(where + ".required names " + name.dump() +
                                 ", which is not among its properties");
        }
      }
    }
    return Status::ok();
  }

  // The schemas of a list (anyOf, prefixItems), in order. (Compiling adds nodes: no reference
  // into them is held across it.)
  Result<std::vector<int>> compileList(const json& list, const std::string& where) {
    std::vector<int> nodes;
    for (size_t i = 0; i < list.size(); ++i) {
      ASSIGN_OR_RETURN(int node, compile(list[i], where + "[" + std::to_string(i) + "]"));
      nodes.push_back(node);
    }
    return nodes;
  }

  // A string's pattern. Its length limits stay with the node: the grammar counts characters and
  // asks the automaton how many a match still needs (RegexDfa::minRemaining), so neither leads
  // the string where it cannot close. The schema's patterns share one bound on their cost.
  Status compilePattern(Node& node, const std::string& pattern, RegexDfa::Anchoring anchoring,
                        const std::string& where) {
    ASSIGN_OR_RETURN(const int index, addPattern(pattern, anchoring, where));
    const RegexDfa& dfa = schema_.pattern(index);
    const uint32_t fewest = dfa.minRemaining(dfa.start());
    const uint32_t most = dfa.maxRemaining(dfa.start());
    if (fewest > node.max_length || (most != RegexDfa::kUnbounded && most < node.min_length)) {
      return invalidArgument(where + ": no string of " + std::to_string(node.min_length) + " to " +
                             (node.max_length == kUnlimited ? std::string("any number of")
                                                            : std::to_string(node.max_length)) +
                             " characters matches the pattern");
    }
    node.pattern = index;
    return Status::ok();
  }

  // minimum, maximum and their exclusive forms: the numbers between them as a pattern.
  Status compileNumberRange(Node& node, const json& s, const std::string& where) {
    NumberRange range;
    range.lower = rangeSide(s, "minimum", "exclusiveMinimum", /*lower=*/true);
    range.upper = rangeSide(s, "maximum", "exclusiveMaximum", /*lower=*/false);
    if (!range.lower.has_value() && !range.upper.has_value()) return Status::ok();
    range.integer = (node.types & kInteger) != 0 && (node.types & kNumber) == 0;
    Result<std::string> pattern = numberRangePattern(range);
    if (!pattern.isOk()) return invalidArgument(where + ": " + pattern.status().message());
    ASSIGN_OR_RETURN(node.number_pattern,
                     addPattern(*pattern, RegexDfa::Anchoring::kFullMatch, where));
    return Status::ok();
  }

  // Compiles a pattern into the schema's list, charged to the schema's shared budget.
  Result<int> addPattern(const std::string& pattern, RegexDfa::Anchoring anchoring,
                         const std::string& where) {
    if (schema_.patterns_.size() >= kMaxPatterns) {
      return unsupported(where, "more than " + std::to_string(kMaxPatterns) + " patterns");
    }
    Result<RegexDfa> dfa = RegexDfa::compile(pattern, anchoring, &pattern_budget_);
    if (!dfa.isOk()) return invalidArgument(where + ": " + dfa.status().message());
    schema_.patterns_.push_back(std::move(*dfa));
    return static_cast<int>(schema_.patterns_.size()) - 1;
  }

  // enum/const beside type, length, pattern or item-count keywords: only the values they allow.
  Status keepAllowedLiterals(Node& node, const std::string& where) const {
    if (node.literals.empty()) return Status::ok();
    if (!node.properties.empty() || node.items != kAnyNode || !node.prefix_items.empty() ||
        node.additional != kAnyNode) {
      return unsupported(where, "enum or const beside properties, items or additionalProperties");
    }
    std::vector<std::string> kept;
    for (const std::string& literal : node.literals) {
      const json value = json::parse(literal);
      bool allowed = false;
      if (value.is_object()) {
        allowed = (node.types & kObject) != 0 && !(node.closed && !value.empty());
      } else if (value.is_array()) {
        allowed = (node.types & kArray) != 0 && value.size() >= node.min_items &&
                  value.size() <= node.max_items;
      } else if (value.is_string()) {
        uint32_t code_points = 0;
        for (unsigned char c : value.get<std::string>()) code_points += (c & 0xC0) != 0x80;
        allowed =
            (node.types & kString) != 0 && code_points >= node.min_length &&
            code_points <= node.max_length &&
            (node.pattern < 0 || schema_.pattern(node.pattern).matches(value.get<std::string>()));
      } else if (value.is_number()) {
        const double number = value.get<double>();
        const bool integral =
            value.is_number_integer() || (std::isfinite(number) && std::trunc(number) == number);
        allowed =
            ((node.types & kNumber) != 0 || ((node.types & kInteger) != 0 && integral)) &&
            (node.number_pattern < 0 || schema_.pattern(node.number_pattern).matches(literal));
      } else if (value.is_boolean()) {
        allowed = (node.types & kBoolean) != 0;
      } else {
        allowed = (node.types & kNull) != 0;
      }
      if (allowed) kept.push_back(literal);
    }
    if (kept.empty()) {
      return invalidArgument(where +
                             ": no enum or const value is allowed by the keywords beside it");
    }
    node.literals = std::move(kept);
    return Status::ok();
  }

  Result<int> resolveRef(const std::string& ref, const std::string& where) {
    if (const auto it = refs_.find(ref); it != refs_.end()) return it->second;
    std::string_view name = ref;
    const json* defs = nullptr;
    for (const char* prefix : {"#/$defs/", "#/definitions/"}) {
      if (name.substr(0, std::string_view(prefix).size()) == prefix) {
        name.remove_prefix(std::string_view(prefix).size());
        const auto found = root_.find(prefix[2] == '$' ? "$defs" : "definitions");
        if (found != root_.end()) defs = &*found;
        break;
      }
    }
    if (defs == nullptr || !defs->is_object() || !defs->contains(std::string(name))) {
      return invalidArgument(where + ".$ref \"" + ref +
                             "\" names no definition (only \"#\", \"#/$defs/NAME\" and "
                             "\"#/definitions/NAME\" are followed)");
    }
    const int index = newNode();
    refs_[ref] = index;
    RETURN_IF_ERROR(compileInto(index, (*defs)[std::string(name)], ref));
    return index;
  }

  // Follows $refs and merges anyOf branches, now that every node exists.
  Status finish() {
    const size_t n = schema_.nodes_.size();
    schema_.targets_.assign(n, -1);
    for (size_t i = 0; i < n; ++i) {
      int target = static_cast<int>(i);
      for (size_t hops = 0; at(target).ref >= 0; ++hops) {
        if (hops > n) return invalidArgument("a $ref refers to itself");
        target = at(target).ref;
      }
      schema_.targets_[i] = target;
    }
    std::vector<int> state(n, 0);  // 0: not merged, 1: merging, 2: merged
    for (size_t i = 0; i < n; ++i) RETURN_IF_ERROR(merge(static_cast<int>(i), state));
    // Unions add a node each; node indices are 16-bit in the grammar.
    if (schema_.nodes_.size() > kMaxNodes) return unsupported("schema", "a schema this large");
    return Status::ok();
  }

  Status merge(int index, std::vector<int>& state) {
    if (state[index] == 2) return Status::ok();
    if (state[index] == 1) return unsupported("an anyOf", "an anyOf that contains itself");
    state[index] = 1;
    if (!at(index).branches.empty()) {
      for (int branch : at(index).branches) RETURN_IF_ERROR(merge(schema_.targets_[branch], state));
      ASSIGN_OR_RETURN(bool joined, joinLiterals(index));
      if (!joined) RETURN_IF_ERROR(mergeByType(index, state));
    }
    state[index] = 2;
    return Status::ok();
  }

  // anyOf branches that are each an enum/const, null or boolean: one enum of them all
  // (Optional[SomeEnum]). False when some branch is anything else.
  Result<bool> joinLiterals(int index) {
    bool any_enum = false;
    bool other = false;
    std::vector<std::string> literals;
    for (int branch : at(index).branches) {
      const Node& b = at(schema_.targets_[branch]);
      if (!b.literals.empty()) {
        any_enum = true;
        literals.insert(literals.end(), b.literals.begin(), b.literals.end());
      } else if ((b.types & ~(kNull | kBoolean)) == 0) {
        if ((b.types & kNull) != 0) literals.push_back("null");
        if ((b.types & kBoolean) != 0) literals.insert(literals.end(), {"true", "false"});
      } else {
        other = true;
      }
    }
    if (!any_enum) return false;
    if (other) return unsupported("an anyOf", "an enum or const branch beside other types");
    std::sort(literals.begin(), literals.end());
    literals.erase(std::unique(literals.begin(), literals.end()), literals.end());
    if (literals.size() > kMaxAlternatives) return unsupported("an anyOf", "more than 64 values");
    at(index).literals = std::move(literals);
    return true;
  }

  Status mergeByType(int index, std::vector<int>& state) {
    uint8_t types = 0;
    std::vector<int> objects;
    for (int branch : at(index).branches) {
      const Node& b = at(schema_.targets_[branch]);
      if ((b.types & kObject) != 0) objects.push_back(b.object_node);
      if ((kinds(types) & kinds(b.types) & ~kObject) != 0) {
        return unsupported("an anyOf", "branches that allow the same type");
      }
      types |= b.types;
      Node& node = at(index);
      if ((b.types & kArray) != 0) node.array_node = b.array_node;
      if ((b.types & kString) != 0) node.string_node = b.string_node;
      if ((b.types & (kNumber | kInteger)) != 0) node.number_node = b.number_node;
    }
    at(index).types = types;
    if (objects.size() == 1) at(index).object_node = objects[0];
    if (objects.size() > 1) RETURN_IF_ERROR(discriminate(index, objects, state));
    return Status::ok();
  }

  // The object branches of anyOf node `index` as a discriminated union (json_schema.h).
  Status discriminate(int index, const std::vector<int>& objects, std::vector<int>& state) {
    for (int object : objects) {
      if (!at(object).union_branches.empty()) {
        return unsupported("an anyOf", "nested unions of objects");
      }
      // A discriminator may itself be an anyOf of one const: merged before it is read. (One
      // being merged now is an enclosing union, recursion, and no discriminator.)
      for (const Property& p : at(object).properties) {
        const int target = schema_.targets_[p.node];
        if (state[target] == 0) RETURN_IF_ERROR(merge(target, state));
      }
    }
    for (const Property& candidate : at(objects[0]).properties) {
      std::vector<std::string> values;
      std::vector<uint64_t> bits;
      for (int object : objects) {
        const Node& branch = at(object);
        for (size_t i = 0; i < branch.properties.size(); ++i) {
          const Property& p = branch.properties[i];
          const Node& value = at(schema_.targets_[p.node]);
          if (p.key == candidate.key && p.required && value.literals.size() == 1 &&
              value.literals[0].front() == '"') {
            values.push_back(value.literals[0]);
            bits.push_back(uint64_t{1} << i);
          }
        }
      }
      if (values.size() != objects.size() ||
          std::set<std::string>(values.begin(), values.end()).size() != values.size()) {
        continue;
      }
      if (objects.size() > kMaxAlternatives) return unsupported("an anyOf", "more than 64 objects");
      const int tags = newNode();
      at(tags).literals = values;
      schema_.targets_.push_back(tags);
      Node& node = at(index);
      node.union_branches = objects;
      node.properties = {Property{candidate.key, tags, true}};
      node.required = 1;
      node.object_node = index;
      return Status::ok();
    }
    return unsupported("an anyOf",
                       "objects without a required const string property telling them apart");
  }

  const json& root_;
  JsonSchema& schema_;
  std::map<std::string, int> refs_;
  size_t pattern_budget_ = RegexDfa::kMaxWork;
  int depth_ = 0;  // compileInto() calls under way
};

Result<std::shared_ptr<const JsonSchema>> JsonSchema::compile(const json& schema) {
  auto compiled = std::make_shared<JsonSchema>();
  RETURN_IF_ERROR(Compiler(schema, *compiled).run());
  return std::shared_ptr<const JsonSchema>(std::move(compiled));
}

Result<std::shared_ptr<const JsonSchema>> JsonSchema::compileText(std::string_view text) {
  // Parsing is iterative, but copying and destroying a json value recurse once per level.
  if (nestedTooDeep(text)) {
    return invalidArgument("the schema nests arrays and objects deeper than " +
                           std::to_string(kMaxJsonDepth) + " levels");
  }
  const json schema = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (schema.is_discarded()) return invalidArgument("the schema is not valid JSON");
  return compile(schema);
}

std::unique_ptr<JsonSchema> JsonSchema::singleNode(Node root) {
  auto schema = std::make_unique<JsonSchema>();
  root.object_node = root.array_node = root.string_node = root.number_node = 1;
  schema->nodes_ = {Node{}, std::move(root)};
  schema->targets_ = {0, 1};
  schema->root_ = 1;
  return schema;
}

Result<std::shared_ptr<const JsonSchema>> JsonSchema::choice(
    const std::vector<std::string>& choices) {
  if (choices.empty() || choices.size() > kMaxAlternatives) {
    return invalidArgument("a choice needs 1 to " + std::to_string(kMaxAlternatives) +
                           " strings, got " + std::to_string(choices.size()));
  }
  for (const std::string& text : choices) {
    if (text.empty()) return invalidArgument("a choice must not be empty");
  }
  Node root;
  root.literals = choices;
  std::unique_ptr<JsonSchema> schema = singleNode(std::move(root));
  schema->raw_ = true;
  return std::shared_ptr<const JsonSchema>(std::move(schema));
}

Result<std::shared_ptr<const JsonSchema>> JsonSchema::regex(std::string_view pattern) {
  ASSIGN_OR_RETURN(RegexDfa dfa, RegexDfa::compile(pattern, RegexDfa::Anchoring::kFullMatch));
  Node root;
  root.types = kString;
  root.pattern = 0;
  std::unique_ptr<JsonSchema> schema = singleNode(std::move(root));
  schema->patterns_.push_back(std::move(dfa));
  schema->raw_ = true;
  return std::shared_ptr<const JsonSchema>(std::move(schema));
}

Result<std::shared_ptr<const JsonSchema>> JsonSchema::grammar(std::string_view text) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Gbnf> gbnf, Gbnf::compile(text));
  std::unique_ptr<JsonSchema> schema = singleNode(Node{});
  schema->gbnf_ = std::move(gbnf);
  schema->raw_ = true;
  return std::shared_ptr<const JsonSchema>(std::move(schema));
}

const JsonSchema& JsonSchema::anyObject() {
  static const JsonSchema* const schema = [] {
    Node root;
    root.types = kObject;
    return singleNode(std::move(root)).release();
  }();
  return *schema;
}

namespace {

// Compiled schemas by the text a request gave: the gateway compiles a request's schema to
// validate it, its engine compiles it again, and clients send the same schemas (their tools')
// with every request. A few dozen recent ones, least recently used out first.
class CompiledCache {
 public:
  static constexpr size_t kCapacity = 32;

  std::shared_ptr<const JsonSchema> find(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    entries_.splice(entries_.begin(), entries_, it->second);
    return it->second->second;
  }

  void insert(const std::string& key, std::shared_ptr<const JsonSchema> schema) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (index_.count(key) != 0) return;
    entries_.emplace_front(key, std::move(schema));
    index_[key] = entries_.begin();
    if (entries_.size() > kCapacity) {
      index_.erase(entries_.back().first);
      entries_.pop_back();
    }
  }

 private:
  std::mutex mutex_;
  std::list<std::pair<std::string, std::shared_ptr<const JsonSchema>>> entries_;
  std::unordered_map<std::string, decltype(entries_)::iterator> index_;
};

CompiledCache& compiledCache() {
  static CompiledCache* const cache = new CompiledCache();
  return *cache;
}

}  // namespace

Result<std::shared_ptr<const JsonSchema>> JsonSchema::forParams(const SamplingParams& params) {
  if (params.json_object && params.json_schema.empty() && params.choice.empty() &&
      params.regex.empty() && params.grammar.empty()) {
    return std::shared_ptr<const JsonSchema>(&anyObject(), [](const JsonSchema*) {});
  }
  std::string key;
  if (!params.json_schema.empty()) {
    key = "json:" + params.json_schema;
  } else if (!params.choice.empty()) {
    key = "choice:";
    for (const std::string& text : params.choice) key += std::to_string(text.size()) + ":" + text;
  } else if (!params.regex.empty()) {
    key = "regex:" + params.regex;
  } else if (!params.grammar.empty()) {
    key = "grammar:" + params.grammar;
  } else {
    return std::shared_ptr<const JsonSchema>();
  }
  if (std::shared_ptr<const JsonSchema> cached = compiledCache().find(key)) return cached;
  Result<std::shared_ptr<const JsonSchema>> compiled =
      !params.json_schema.empty() ? compileText(params.json_schema)
      : !params.choice.empty()    ? choice(params.choice)
      : !params.regex.empty()     ? regex(params.regex)
                                  : grammar(params.grammar);
  if (compiled.isOk()) compiledCache().insert(key, *compiled);
  return compiled;
}

}  // namespace manifold
