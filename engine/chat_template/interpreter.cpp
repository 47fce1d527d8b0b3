#include "engine/chat_template/interpreter.h"

#include <cmath>

#include "engine/chat_template/builtins.h"
#include "engine/chat_template/filters.h"
#include "engine/chat_template/template_error.h"
#include "engine/chat_template/unicode.h"

namespace manifold::jinja {

const Value* Scope::find(std::string_view name) const {
  for (const Scope* scope = this; scope != nullptr; scope = scope->parent_.get()) {
    if (const Value* value = scope->variables_.find(name)) return value;
  }
  return nullptr;
}

namespace {

[[noreturn]] void failLimit(std::string message) {
  throw TemplateError(TemplateError::Kind::kLimit, std::move(message));
}

[[noreturn]] void failUndefined(const Value& value) {
  if (value.undefinedName().empty()) throwRuntime("value is undefined");
  throwRuntime("'" + value.undefinedName() + "' is undefined");
}

int64_t toIndex(const Value& value, const char* what) {
  if (value.isInt()) return value.asInt();
  if (value.isBool()) return value.asBool() ? 1 : 0;
  throwRuntime(std::string(what) + " must be an integer, got " + value.typeName());
}

// REQUIRES: b != 0. The one quotient past int64 (INT64_MIN / -1) is an error, as in the other
// integer operations.
int64_t floorDiv(int64_t a, int64_t b) {
  if (a == std::numeric_limits<int64_t>::min() && b == -1) throwRuntime("integer overflow");
  const int64_t quotient = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? quotient - 1 : quotient;
}

Value numericOp(BinaryOp op, const Value& left, const Value& right) {
  const bool integers = !left.isFloat() && !right.isFloat();
  if (integers) {
    const int64_t a = left.isBool() ? left.asBool() : left.asInt();
    const int64_t b = right.isBool() ? right.asBool() : right.asInt();
    int64_t result = 0;
    switch (op) {
      case BinaryOp::kAdd:
        if (__builtin_add_overflow(a, b, &result)) throwRuntime("integer overflow");
        return Value::integer(result);
      case BinaryOp::kSubtract:
        if (__builtin_sub_overflow(a, b, &result)) throwRuntime("integer overflow");
        return Value::integer(result);
      case BinaryOp::kMultiply:
        if (__builtin_mul_overflow(a, b, &result)) throwRuntime("integer overflow");
        return Value::integer(result);
      case BinaryOp::kFloorDivide:
        if (b == 0) throwRuntime("integer division or modulo by zero");
        return Value::integer(floorDiv(a, b));
      case BinaryOp::kModulo:
        if (b == 0) throwRuntime("integer division or modulo by zero");
        if (b == -1) return Value::integer(0);  // x % -1, without INT64_MIN / -1
        return Value::integer(a - floorDiv(a, b) * b);
      case BinaryOp::kPower:
        if (b >= 0) {
          int64_t value = 1;
          for (int64_t i = 0; i < b; ++i) {
            if (__builtin_mul_overflow(value, a, &value)) throwRuntime("integer overflow");
            if (value == 0 || value == 1) break;
          }
          return Value::integer(value);
        }
        break;
      default:
        break;
    }
  }
  const double a = left.toDouble();
  const double b = right.toDouble();
  switch (op) {
    case BinaryOp::kAdd:
      return Value::number(a + b);
    case BinaryOp::kSubtract:
      return Value::number(a - b);
    case BinaryOp::kMultiply:
      return Value::number(a * b);
    case BinaryOp::kDivide:
      if (b == 0) throwRuntime("division by zero");
      return Value::number(a / b);
    case BinaryOp::kFloorDivide:
      if (b == 0) throwRuntime("float floor division by zero");
      return Value::number(std::floor(a / b));
    case BinaryOp::kModulo: {
      if (b == 0) throwRuntime("float modulo by zero");
      double rem = std::fmod(a, b);
      if (rem != 0 && ((rem < 0) != (b < 0))) rem += b;
      return Value::number(rem);
    }
    case BinaryOp::kPower:
      if (a == 0 && b < 0) throwRuntime("0.0 cannot be raised to a negative power");
      return Value::number(std::pow(a, b));
    default:
      throwRuntime("unsupported numeric operator");
  }
}

}  // namespace

void Interpreter::checkSize(size_t bytes) const {
  if (bytes > limits_.max_output_bytes) {
    failLimit("rendered output exceeds the limit of " + std::to_string(limits_.max_output_bytes) +
              " bytes");
  }
}

void Interpreter::countIterations(size_t count) {
  iterations_ += count;
  if (count > limits_.max_loop_iterations || iterations_ > limits_.max_loop_iterations) {
    failLimit("template exceeds the limit of " + std::to_string(limits_.max_loop_iterations) +
              " loop iterations");
  }
}

void Interpreter::append(std::string& out, std::string_view text) const {
  checkSize(out.size() + text.size());
  out.append(text);
}

std::string Interpreter::render(const Body& program, const Dict& context) {
  auto root = std::make_shared<Scope>(nullptr);
  Dict globals;
  addGlobalFunctions(*this, globals);
  for (auto& [name, value] : globals.entries()) root->set(name, value);
  for (const auto& [name, value] : context.entries()) root->set(name, value);
  std::string out;
  try {
    const Flow flow = execute(program, *root, out);
    if (flow != Flow::kNormal) throwRuntime("'break' or 'continue' outside of a loop");
  } catch (TemplateError& error) {
    error.setPosIfUnknown(pos_);
    throw;
  }
  return out;
}

Interpreter::Flow Interpreter::execute(const Body& body, Scope& scope, std::string& out) {
  for (const StmtPtr& stmt_ptr : body) {
    const Stmt& stmt = *stmt_ptr;
    pos_ = stmt.pos;
    switch (stmt.kind) {
      case Stmt::Kind::kText:
        append(out, static_cast<const TextStmt&>(stmt).text);
        break;
      case Stmt::Kind::kOutput: {
        const Value value = evaluate(*static_cast<const OutputStmt&>(stmt).expr, scope);
        if (value.isString()) {
          append(out, value.asString());
        } else {
          append(out, value.toString());
        }
        break;
      }
      case Stmt::Kind::kIf: {
        const auto& if_stmt = static_cast<const IfStmt&>(stmt);
        const Body* chosen = &if_stmt.else_body;
        for (const auto& [condition, branch] : if_stmt.branches) {
          if (evaluate(*condition, scope).truthy()) {
            chosen = &branch;
            break;
          }
        }
        const Flow flow = execute(*chosen, scope, out);
        if (flow != Flow::kNormal) return flow;
        break;
      }
      case Stmt::Kind::kFor: {
        // The loop consumes its own break/continue; one from its `else` body belongs outside.
        const Flow flow = executeFor(static_cast<const ForStmt&>(stmt), scope, out);
        if (flow != Flow::kNormal) return flow;
        break;
      }
      case Stmt::Kind::kSet:
        executeSet(static_cast<const SetStmt&>(stmt), scope);
        break;
      case Stmt::Kind::kMacro: {
        const auto& macro = static_cast<const MacroStmt&>(stmt);
        scope.set(macro.name, defineMacro(macro, scope));
        break;
      }
      case Stmt::Kind::kCallBlock:
        executeCallBlock(static_cast<const CallBlockStmt&>(stmt), scope, out);
        break;
      case Stmt::Kind::kFilterBlock: {
        const auto& filter_block = static_cast<const FilterBlockStmt&>(stmt);
        std::string body_text;
        const Flow flow = execute(filter_block.body, scope, body_text);
        if (flow != Flow::kNormal) return flow;
        Value value = Value::string(std::move(body_text));
        for (const auto& filter : filter_block.filters) {
          value = evaluateFilter(*filter, std::move(value), scope);
        }
        append(out, value.toString());
        break;
      }
      case Stmt::Kind::kBreak:
        return Flow::kBreak;
      case Stmt::Kind::kContinue:
        return Flow::kContinue;
    }
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::executeFor(const ForStmt& stmt, Scope& scope, std::string& out) {
  const Value iterable = evaluate(*stmt.iterable, scope);
  ValueList items;
  switch (iterable.kind()) {
    case Value::Kind::kList:
      items = iterable.asList();  // a snapshot: appending inside the body cannot extend the loop
      break;
    case Value::Kind::kDict:
      for (const auto& entry : iterable.asDict().entries()) {
        items.push_back(Value::string(entry.first));
      }
      break;
    case Value::Kind::kString:
      for (std::string& part : splitCodePoints(iterable.asString())) {
        items.push_back(Value::string(std::move(part)));
      }
      break;
    case Value::Kind::kUndefined:
      pos_ = stmt.iterable->pos;
      failUndefined(iterable);
    default:
      pos_ = stmt.iterable->pos;
      throwRuntime(std::string("'") + iterable.typeName() + "' object is not iterable");
  }

  auto loop_scope = std::make_shared<Scope>(scope.shared_from_this());
  const auto bind = [&](const Value& item) {
    if (stmt.targets.size() == 1) {
      loop_scope->set(stmt.targets[0], item);
      return;
    }
    if (!item.isList()) {
      throwRuntime(std::string("cannot unpack non-iterable ") + item.typeName());
    }
    const ValueList& parts = item.asList();
    if (parts.size() != stmt.targets.size()) {
      throwRuntime("expected " + std::to_string(stmt.targets.size()) + " values to unpack, got " +
                   std::to_string(parts.size()));
    }
    for (size_t i = 0; i < parts.size(); ++i) loop_scope->set(stmt.targets[i], parts[i]);
  };

  countIterations(items.size());
  if (stmt.condition) {
    ValueList kept;
    for (Value& item : items) {
      bind(item);
      if (evaluate(*stmt.condition, *loop_scope).truthy()) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }

  if (items.empty()) return execute(stmt.else_body, scope, out);

  // One loop object, updated in place each iteration, as Jinja2's LoopContext is.
  const int64_t length = static_cast<int64_t>(items.size());
  Value loop = Value::dict();
  Dict& loop_dict = loop.asDict();
  for (const char* key : {"index", "index0", "revindex", "revindex0", "first", "last", "length",
                          "previtem", "nextitem"}) {
    loop_dict.set(key, Value());
  }
  auto& entries = loop_dict.entries();
  loop_scope->set("loop", loop);
  for (int64_t i = 0; i < length; ++i) {
    entries[0].second = Value::integer(i + 1);
    entries[1].second = Value::integer(i);
    entries[2].second = Value::integer(length - i);
    entries[3].second = Value::integer(length - i - 1);
    entries[4].second = Value::boolean(i == 0);
    entries[5].second = Value::boolean(i == length - 1);
    entries[6].second = Value::integer(length);
    entries[7].second = i > 0 ? items[i - 1] : Value::undefined("loop.previtem");
    entries[8].second = i + 1 < length ? items[i + 1] : Value::undefined("loop.nextitem");
    bind(items[i]);
    const Flow flow = execute(stmt.body, *loop_scope, out);
    if (flow == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

void Interpreter::executeSet(const SetStmt& stmt, Scope& scope) {
  Value value;
  if (stmt.value) {
    value = evaluate(*stmt.value, scope);
  } else {
    std::string body_text;
    if (execute(stmt.body, scope, body_text) != Flow::kNormal) {
      throwRuntime("'break' or 'continue' inside a set block");
    }
    value = Value::string(std::move(body_text));
  }
  if (stmt.namespace_object) {
    const Value target = evaluate(*stmt.namespace_object, scope);
    if (!target.isNamespace()) {
      throwRuntime("cannot assign attribute on a " + std::string(target.typeName()) +
                   " (only namespace objects support it)");
    }
    if (containsContainer(value, target)) throwRuntime("cannot store a namespace inside itself");
    target.asNamespace().set(stmt.targets[0], std::move(value));
    return;
  }
  if (stmt.targets.size() == 1) {
    scope.set(stmt.targets[0], std::move(value));
    return;
  }
  if (!value.isList()) throwRuntime(std::string("cannot unpack non-iterable ") + value.typeName());
  const ValueList& parts = value.asList();
  if (parts.size() != stmt.targets.size()) {
    throwRuntime("expected " + std::to_string(stmt.targets.size()) + " values to unpack, got " +
                 std::to_string(parts.size()));
  }
  for (size_t i = 0; i < parts.size(); ++i) scope.set(stmt.targets[i], parts[i]);
}

Value Interpreter::defineMacro(const MacroStmt& stmt, Scope& scope) {
  // A weak reference: the macro is usually stored in the scope it closes over, and a strong one
  // would make a cycle that outlives the render.
  std::weak_ptr<Scope> closure = scope.weak_from_this();
  return Value::callable(stmt.name, [this, &stmt, closure](CallArgs& args) {
    const std::shared_ptr<Scope> scope_ptr = closure.lock();
    if (!scope_ptr) throwRuntime("macro '" + stmt.name + "' called outside the scope it lives in");
    return invokeMacro(stmt, scope_ptr, args);
  });
}

Value Interpreter::invokeMacro(const MacroStmt& stmt, const std::shared_ptr<Scope>& closure,
                               CallArgs& args) {
  if (++call_depth_ > limits_.max_call_depth) {
    --call_depth_;
    failLimit("macro calls nested deeper than " + std::to_string(limits_.max_call_depth));
  }
  struct DepthRestore {
    int& depth;
    ~DepthRestore() { --depth; }
  } restore{call_depth_};

  auto scope = std::make_shared<Scope>(closure);
  ValueList varargs;
  for (size_t i = 0; i < args.positional.size(); ++i) {
    if (i < stmt.parameters.size()) {
      scope->set(stmt.parameters[i].name, args.positional[i]);
    } else {
      varargs.push_back(args.positional[i]);
    }
  }
  Dict kwargs;
  for (auto& [name, value] : args.keyword) {
    bool is_parameter = false;
    for (const Parameter& parameter : stmt.parameters) {
      if (parameter.name == name) is_parameter = true;
    }
    if (is_parameter || name == "caller") {
      scope->set(name, value);
    } else {
      kwargs.set(name, value);
    }
  }
  for (size_t i = 0; i < stmt.parameters.size(); ++i) {
    const Parameter& parameter = stmt.parameters[i];
    bool bound = i < args.positional.size();
    for (const auto& entry : args.keyword) bound = bound || entry.first == parameter.name;
    if (bound) continue;
    scope->set(parameter.name, parameter.default_value ? evaluate(*parameter.default_value, *scope)
                                                       : Value::undefined(parameter.name));
  }
  scope->set("varargs", Value::list(std::move(varargs)));
  scope->set("kwargs", Value::dict(std::move(kwargs)));
  std::string out;
  if (execute(stmt.body, *scope, out) != Flow::kNormal) {
    throwRuntime("'break' or 'continue' outside of a loop");
  }
  return Value::string(std::move(out));
}

void Interpreter::executeCallBlock(const CallBlockStmt& stmt, Scope& scope, std::string& out) {
  // The block body becomes the `caller` callable; the syntax tree outlives the render.
  const std::weak_ptr<Scope> closure = scope.weak_from_this();
  const CallBlockStmt* block = &stmt;
  Value caller = Value::callable("caller", [this, block, closure](CallArgs& args) {
    const std::shared_ptr<Scope> scope_ptr = closure.lock();
    if (!scope_ptr) throwRuntime("caller() used outside its call block");
    auto caller_scope = std::make_shared<Scope>(scope_ptr);
    for (size_t i = 0; i < block->caller_parameters.size(); ++i) {
      const Parameter& parameter = block->caller_parameters[i];
      if (const Value* value = args.get(i, parameter.name)) {
        caller_scope->set(parameter.name, *value);
      } else {
        caller_scope->set(parameter.name, parameter.default_value
                                              ? evaluate(*parameter.default_value, *caller_scope)
                                              : Value::undefined(parameter.name));
      }
    }
    std::string text;
    if (execute(block->body, *caller_scope, text) != Flow::kNormal) {
      throwRuntime("'break' or 'continue' outside of a loop");
    }
    return Value::string(std::move(text));
  });
  const Value callee = evaluate(*stmt.call->callee, scope);
  CallArgs args = evaluateArguments(stmt.call->arguments, scope);
  args.keyword.emplace_back("caller", std::move(caller));
  pos_ = stmt.pos;
  append(out, call(callee, args).toString());
}

Value Interpreter::call(const Value& callee, CallArgs& args) {
  if (callee.isUndefined()) failUndefined(callee);
  if (!callee.isCallable()) {
    throwRuntime(std::string("'") + callee.typeName() + "' object is not callable");
  }
  // Copy the function: the callable may be released while it runs (e.g. a macro reassigning
  // its own name).
  const std::function<Value(CallArgs&)> function = callee.asCallable().function;
  return function(args);
}

CallArgs Interpreter::evaluateArguments(const std::vector<Argument>& arguments, Scope& scope) {
  CallArgs args;
  for (const Argument& argument : arguments) {
    Value value = evaluate(*argument.value, scope);
    if (argument.name.empty()) {
      args.positional.push_back(std::move(value));
    } else {
      args.keyword.emplace_back(argument.name, std::move(value));
    }
  }
  return args;
}

Value Interpreter::evaluate(const Expr& expr, Scope& scope) {
  switch (expr.kind) {
    case Expr::Kind::kLiteral:
      return static_cast<const LiteralExpr&>(expr).value;
    case Expr::Kind::kName: {
      const std::string& name = static_cast<const NameExpr&>(expr).name;
      if (const Value* value = scope.find(name)) return *value;
      return Value::undefined(name);
    }
    case Expr::Kind::kList:
    case Expr::Kind::kTuple: {
      ValueList items;
      for (const ExprPtr& item : static_cast<const ListExpr&>(expr).items) {
        items.push_back(evaluate(*item, scope));
      }
      return Value::list(std::move(items));
    }
    case Expr::Kind::kDict: {
      Dict dict;
      for (const auto& [key_expr, value_expr] : static_cast<const DictExpr&>(expr).items) {
        const Value key = evaluate(*key_expr, scope);
        if (!key.isString()) {
          pos_ = key_expr->pos;
          throwRuntime(std::string("dict keys must be strings, got ") + key.typeName());
        }
        dict.set(key.asString(), evaluate(*value_expr, scope));
      }
      return Value::dict(std::move(dict));
    }
    case Expr::Kind::kUnary: {
      const auto& unary = static_cast<const UnaryExpr&>(expr);
      const Value operand = evaluate(*unary.operand, scope);
      pos_ = expr.pos;
      if (unary.op == UnaryExpr::Op::kNot) return Value::boolean(!operand.truthy());
      if (operand.isUndefined()) failUndefined(operand);
      if (operand.isFloat()) {
        return Value::number(unary.op == UnaryExpr::Op::kNegate ? -operand.asFloat()
                                                                : operand.asFloat());
      }
      if (operand.isInt() || operand.isBool()) {
        const int64_t value = operand.isInt() ? operand.asInt() : operand.asBool();
        if (unary.op == UnaryExpr::Op::kPlus) return Value::integer(value);
        if (value == INT64_MIN) throwRuntime("integer overflow");
        return Value::integer(-value);
      }
      throwRuntime(std::string("bad operand type for unary sign: ") + operand.typeName());
    }
    case Expr::Kind::kBinary:
      return evaluateBinary(static_cast<const BinaryExpr&>(expr), scope);
    case Expr::Kind::kTernary: {
      const auto& ternary = static_cast<const TernaryExpr&>(expr);
      if (evaluate(*ternary.condition, scope).truthy()) return evaluate(*ternary.then_value, scope);
      if (ternary.else_value) return evaluate(*ternary.else_value, scope);
      return Value::undefined();
    }
    case Expr::Kind::kAttribute: {
      const auto& attribute = static_cast<const AttributeExpr&>(expr);
      return getAttribute(*this, evaluate(*attribute.object, scope), attribute.name);
    }
    case Expr::Kind::kIndex: {
      const auto& index = static_cast<const IndexExpr&>(expr);
      const Value object = evaluate(*index.object, scope);
      const Value key = evaluate(*index.index, scope);
      pos_ = expr.pos;
      return getItem(object, key);
    }
    case Expr::Kind::kSlice:
      return evaluateSlice(static_cast<const SliceExpr&>(expr), scope);
    case Expr::Kind::kCall:
      return evaluateCall(static_cast<const CallExpr&>(expr), scope);
    case Expr::Kind::kFilter: {
      const auto& filter = static_cast<const FilterExpr&>(expr);
      return evaluateFilter(filter, evaluate(*filter.operand, scope), scope);
    }
    case Expr::Kind::kTest: {
      const auto& test = static_cast<const TestExpr&>(expr);
      const Value operand = evaluate(*test.operand, scope);
      CallArgs args = evaluateArguments(test.arguments, scope);
      pos_ = expr.pos;
      const bool result = applyTest(*this, test.name, operand, args);
      return Value::boolean(test.negated ? !result : result);
    }
  }
  throwRuntime("unknown expression");
}

Value Interpreter::evaluateFilter(const FilterExpr& expr, Value operand, Scope& scope) {
  CallArgs args = evaluateArguments(expr.arguments, scope);
  pos_ = expr.pos;
  return applyFilter(*this, expr.name, operand, args);
}

Value Interpreter::evaluateCall(const CallExpr& expr, Scope& scope) {
  if (expr.callee->kind == Expr::Kind::kAttribute) {
    // `object.method(args)`: a dict key of that name wins, as in @huggingface/jinja.
    const auto& attribute = static_cast<const AttributeExpr&>(*expr.callee);
    const Value object = evaluate(*attribute.object, scope);
    const bool is_key = (object.isDict() && object.asDict().find(attribute.name) != nullptr) ||
                        (object.isNamespace() && object.asNamespace().find(attribute.name));
    if (!is_key) {
      CallArgs args = evaluateArguments(expr.arguments, scope);
      pos_ = expr.pos;
      if (std::optional<Value> result = callMethod(*this, object, attribute.name, args)) {
        return std::move(*result);
      }
      if (object.isUndefined()) failUndefined(object);
      throwRuntime(std::string("'") + object.typeName() + "' object has no attribute '" +
                   attribute.name + "'");
    }
    const Value callee = getAttribute(*this, object, attribute.name);
    CallArgs args = evaluateArguments(expr.arguments, scope);
    pos_ = expr.pos;
    return call(callee, args);
  }
  const Value callee = evaluate(*expr.callee, scope);
  CallArgs args = evaluateArguments(expr.arguments, scope);
  pos_ = expr.pos;
  return call(callee, args);
}

Value Interpreter::evaluateSlice(const SliceExpr& expr, Scope& scope) {
  const Value object = evaluate(*expr.object, scope);
  const Value start = expr.start ? evaluate(*expr.start, scope) : Value::none();
  const Value stop = expr.stop ? evaluate(*expr.stop, scope) : Value::none();
  const Value step = expr.step ? evaluate(*expr.step, scope) : Value::none();
  pos_ = expr.pos;
  if (!object.isList() && !object.isString()) {
    if (object.isUndefined()) failUndefined(object);
    throwRuntime(std::string("'") + object.typeName() + "' object is not subscriptable");
  }
  return sliceValue(object, start, stop, step);
}

Value Interpreter::evaluateBinary(const BinaryExpr& expr, Scope& scope) {
  const BinaryOp op = expr.op;
  if (op == BinaryOp::kAnd || op == BinaryOp::kOr) {
    Value left = evaluate(*expr.left, scope);
    if (left.truthy() == (op == BinaryOp::kOr)) return left;
    return evaluate(*expr.right, scope);
  }
  const Value left = evaluate(*expr.left, scope);
  const Value right = evaluate(*expr.right, scope);
  pos_ = expr.pos;
  switch (op) {
    case BinaryOp::kEqual:
      return Value::boolean(valuesEqual(left, right));
    case BinaryOp::kNotEqual:
      return Value::boolean(!valuesEqual(left, right));
    case BinaryOp::kConcat: {
      std::string text = left.toString();
      checkSize(text.size() + right.toString().size());
      text.append(right.toString());
      return Value::string(std::move(text));
    }
    case BinaryOp::kIn:
    case BinaryOp::kNotIn: {
      bool found = false;
      if (right.isUndefined()) {
        found = false;
      } else if (right.isList()) {
        for (const Value& item : right.asList()) {
          if (valuesEqual(left, item)) {
            found = true;
            break;
          }
        }
      } else if (right.isString()) {
        if (!left.isString()) {
          throwRuntime(std::string("'in <string>' requires string as left operand, not ") +
                       left.typeName());
        }
        found = right.asString().find(left.asString()) != std::string::npos;
      } else if (right.isDict() || right.isNamespace()) {
        const Dict& dict = right.isDict() ? right.asDict() : right.asNamespace();
        found = left.isString() && dict.find(left.asString()) != nullptr;
      } else {
        throwRuntime(std::string("argument of type '") + right.typeName() + "' is not iterable");
      }
      return Value::boolean(op == BinaryOp::kIn ? found : !found);
    }
    case BinaryOp::kLess:
      return Value::boolean(compareValues(left, right) < 0);
    case BinaryOp::kLessEqual:
      return Value::boolean(compareValues(left, right) <= 0);
    case BinaryOp::kGreater:
      return Value::boolean(compareValues(left, right) > 0);
    case BinaryOp::kGreaterEqual:
      return Value::boolean(compareValues(left, right) >= 0);
    default:
      break;
  }
  if (left.isUndefined()) failUndefined(left);
  if (right.isUndefined()) failUndefined(right);
  const bool left_numeric = left.isNumber() || left.isBool();
  const bool right_numeric = right.isNumber() || right.isBool();
  if (left_numeric && right_numeric) return numericOp(op, left, right);
  if (op == BinaryOp::kAdd) {
    if (left.isList() && right.isList()) {
      ValueList items = left.asList();
      checkSize((items.size() + right.asList().size()) * sizeof(Value));
      items.insert(items.end(), right.asList().begin(), right.asList().end());
      return Value::list(std::move(items));
    }
    // Strings concatenate with anything printable, as @huggingface/jinja allows.
    if ((left.isString() || right.isString()) && !left.isNone() && !right.isNone()) {
      std::string text = left.toString();
      const std::string tail = right.toString();
      checkSize(text.size() + tail.size());
      text.append(tail);
      return Value::string(std::move(text));
    }
  }
  if (op == BinaryOp::kMultiply) {
    const Value* sequence = left.isString() || left.isList() ? &left : &right;
    const Value* count = sequence == &left ? &right : &left;
    if ((sequence->isString() || sequence->isList()) && (count->isInt() || count->isBool())) {
      const int64_t times = std::max<int64_t>(0, count->isInt() ? count->asInt() : count->asBool());
      if (sequence->isString()) {
        const std::string& unit = sequence->asString();
        if (!unit.empty()) checkSize(unit.size() * static_cast<size_t>(times));
        std::string text;
        for (int64_t i = 0; i < times && !unit.empty(); ++i) text.append(unit);
        return Value::string(std::move(text));
      }
      const ValueList& unit = sequence->asList();
      if (!unit.empty()) checkSize(unit.size() * static_cast<size_t>(times) * sizeof(Value));
      ValueList items;
      for (int64_t i = 0; i < times && !unit.empty(); ++i) {
        items.insert(items.end(), unit.begin(), unit.end());
      }
      return Value::list(std::move(items));
    }
  }
  if (op == BinaryOp::kModulo && left.isString()) {
    return Value::string(percentFormat(left.asString(), right));
  }
  static constexpr const char* kNames[] = {"+", "-", "*", "/", "//", "%", "**"};
  const int index = static_cast<int>(op);
  throwRuntime(std::string("unsupported operand types for ") +
               (index < 7 ? kNames[index] : "operator") + ": '" + left.typeName() + "' and '" +
               right.typeName() + "'");
}

Value getAttribute(Interpreter& interpreter, const Value& object, const std::string& name) {
  if (object.isDict()) {
    if (const Value* value = object.asDict().find(name)) return *value;
  } else if (object.isNamespace()) {
    if (const Value* value = object.asNamespace().find(name)) return *value;
    return Value::undefined(name);
  }
  if (hasMethod(object, name)) {
    // A bound method, for `x.items` passed around without being called right away.
    Interpreter* bound_interpreter = &interpreter;
    return Value::callable(name, [bound_interpreter, object, name](CallArgs& args) {
      return *callMethod(*bound_interpreter, object, name, args);
    });
  }
  return Value::undefined(name);
}

Value getItem(const Value& object, const Value& key) {
  switch (object.kind()) {
    case Value::Kind::kList: {
      if (!key.isInt() && !key.isBool()) return Value::undefined();
      const ValueList& items = object.asList();
      int64_t index = toIndex(key, "list index");
      if (index < 0) index += static_cast<int64_t>(items.size());
      if (index < 0 || index >= static_cast<int64_t>(items.size())) return Value::undefined();
      return items[static_cast<size_t>(index)];
    }
    case Value::Kind::kString: {
      if (!key.isInt()) return Value::undefined();
      const std::vector<std::string> chars = splitCodePoints(object.asString());
      int64_t index = key.asInt();
      if (index < 0) index += static_cast<int64_t>(chars.size());
      if (index < 0 || index >= static_cast<int64_t>(chars.size())) return Value::undefined();
      return Value::string(chars[static_cast<size_t>(index)]);
    }
    case Value::Kind::kDict:
    case Value::Kind::kNamespace: {
      if (!key.isString()) return Value::undefined();
      const Dict& dict = object.isDict() ? object.asDict() : object.asNamespace();
      if (const Value* value = dict.find(key.asString())) return *value;
      return Value::undefined(key.asString());
    }
    default:
      return Value::undefined();
  }
}

Value sliceValue(const Value& object, const Value& start_value, const Value& stop_value,
                 const Value& step_value) {
  const int64_t step = step_value.isNone() ? 1 : toIndex(step_value, "slice step");
  if (step == 0) throwRuntime("slice step cannot be zero");
  std::vector<std::string> chars;
  const bool is_string = object.isString();
  if (is_string) chars = splitCodePoints(object.asString());
  const int64_t length = static_cast<int64_t>(is_string ? chars.size() : object.asList().size());
  const auto clamp = [&](const Value& value, int64_t fallback, int64_t low, int64_t high) {
    if (value.isNone() || value.isUndefined()) return fallback;
    int64_t index = toIndex(value, "slice index");
    if (index < 0) index += length;
    return std::clamp(index, low, high);
  };
  int64_t start;
  int64_t stop;
  if (step > 0) {
    start = clamp(start_value, 0, 0, length);
    stop = clamp(stop_value, length, 0, length);
  } else {
    start = clamp(start_value, length - 1, -1, length - 1);
    stop = clamp(stop_value, -1, -1, length - 1);
  }
  if (is_string) {
    std::string text;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      text.append(chars[static_cast<size_t>(i)]);
    }
    return Value::string(std::move(text));
  }
  ValueList items;
  const ValueList& source = object.asList();
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    items.push_back(source[static_cast<size_t>(i)]);
  }
  return Value::list(std::move(items));
}

}  // namespace manifold::jinja
