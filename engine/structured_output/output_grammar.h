// The state of one sequence's structured output: a JsonGrammar (JSON of a schema, a choice, a
// regex) or a GbnfState (a GBNF grammar), as the request's compiled JsonSchema says. The sampler
// and TokenBytesIndex see one type; the vocabulary walk dispatches once per mask, not per byte.
//
// A value type like the states it holds; copy it to try bytes, as they are.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <variant>

#include "engine/structured_output/gbnf.h"
#include "engine/structured_output/json_grammar.h"
#include "engine/structured_output/json_schema.h"

namespace manifold {

class OutputGrammar {
 public:
  // The start of `schema`'s output; the schema must outlive the grammar.
  explicit OutputGrammar(const JsonSchema& schema)
      : state_(schema.gbnf() != nullptr ? State(std::in_place_type<GbnfState>, *schema.gbnf())
                                        : State(std::in_place_type<JsonGrammar>, schema)) {}
  // A state already under way (tests).
  OutputGrammar(const JsonGrammar& state) : state_(state) {}  // NOLINT(google-explicit-constructor)
  OutputGrammar(const GbnfState& state) : state_(state) {}    // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool advance(uint8_t byte) {
    return std::visit([byte](auto& s) { return s.advance(byte); }, state_);
  }
  [[nodiscard]] bool advance(std::string_view bytes) {
    return std::visit([bytes](auto& s) { return s.advance(bytes); }, state_);
  }
  [[nodiscard]] bool complete() const {
    return std::visit([](const auto& s) { return s.complete(); }, state_);
  }
  [[nodiscard]] bool done() const {
    return std::visit([](const auto& s) { return s.done(); }, state_);
  }

  // fn(state) with the JsonGrammar or GbnfState held.
  template <class Fn>
  decltype(auto) visit(Fn&& fn) const {
    return std::visit(std::forward<Fn>(fn), state_);
  }
  template <class Fn>
  decltype(auto) visit(Fn&& fn) {
    return std::visit(std::forward<Fn>(fn), state_);
  }

 private:
  using State = std::variant<JsonGrammar, GbnfState>;
  State state_;
};

}  // namespace manifold
