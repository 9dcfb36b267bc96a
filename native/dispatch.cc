// One binding for every ATen operator: look an op up once by schema name, then call it boxed through c10's
// dispatcher. Arguments are converted by the op's schema, so autograd, autocast and every kernel behave exactly
// as they do under PyTorch. The TypeScript op layer validates arguments before calling.
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/jit_type.h>

#include "common.h"

namespace samtutor {

namespace {

struct OpEntry {
  c10::OperatorHandle handle;
  std::string name;
};

// Resolved operators, shared by all environments (the dispatcher is process-wide).
std::vector<OpEntry>& opTable() {
  static std::vector<OpEntry> table;
  return table;
}
std::mutex& opTableMutex() {
  static std::mutex m;
  return m;
}

c10::IValue ToIValue(const Napi::Value& v, const c10::TypePtr& type, const std::string& argName);

c10::IValue ToScalar(const Napi::Value& v, const std::string& argName) {
  if (v.IsBoolean()) return c10::IValue(v.As<Napi::Boolean>().Value());
  if (v.IsBigInt()) return c10::IValue(ToInt64(v, argName.c_str()));
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    // Integral JS numbers become integer Scalars so integer tensors stay integer (as in Python with int literals).
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9007199254740992.0)
      return c10::IValue(static_cast<int64_t>(d));
    return c10::IValue(d);
  }
  throw Napi::TypeError::New(v.Env(), "expected a number for argument '" + argName + "'");
}

c10::IValue ToList(const Napi::Value& v, const c10::ListTypePtr& listType, const std::string& argName) {
  Napi::Env env = v.Env();
  const auto& elem = listType->getElementType();
  if (!v.IsArray()) {
    // PyTorch accepts a single int where an int[] is expected (e.g. kernel_size=3): broadcast it.
    if (elem->kind() == c10::TypeKind::IntType && (v.IsNumber() || v.IsBigInt()))
      return c10::IValue(std::vector<int64_t>{ToInt64(v, argName.c_str())});
    throw Napi::TypeError::New(env, "expected an array for argument '" + argName + "'");
  }
  auto arr = v.As<Napi::Array>();
  uint32_t n = arr.Length();
  switch (elem->kind()) {
    case c10::TypeKind::IntType: {
      std::vector<int64_t> out(n);
      for (uint32_t i = 0; i < n; ++i) out[i] = ToInt64(arr.Get(i), argName.c_str());
      return c10::IValue(out);
    }
    case c10::TypeKind::FloatType: {
      std::vector<double> out(n);
      for (uint32_t i = 0; i < n; ++i) out[i] = arr.Get(i).As<Napi::Number>().DoubleValue();
      return c10::IValue(out);
    }
    case c10::TypeKind::BoolType: {
      c10::List<bool> out;
      for (uint32_t i = 0; i < n; ++i) out.push_back(arr.Get(i).ToBoolean().Value());
      return c10::IValue(out);
    }
    case c10::TypeKind::TensorType: {
      std::vector<at::Tensor> out;
      out.reserve(n);
      for (uint32_t i = 0; i < n; ++i) out.push_back(tensors(env).Get(arr.Get(i), argName.c_str()));
      return c10::IValue(out);
    }
    case c10::TypeKind::OptionalType: {
      c10::List<c10::optional<at::Tensor>> out;
      for (uint32_t i = 0; i < n; ++i) {
        Napi::Value e = arr.Get(i);
        if (e.IsNull() || e.IsUndefined()) out.push_back(c10::nullopt);
        else out.push_back(tensors(env).Get(e, argName.c_str()));
      }
      return c10::IValue(out);
    }
    default:
      throw Napi::TypeError::New(env, "unsupported list type " + listType->str() + " for argument '" + argName + "'");
  }
}

c10::IValue ToIValue(const Napi::Value& v, const c10::TypePtr& type, const std::string& argName) {
  Napi::Env env = v.Env();
  switch (type->kind()) {
    case c10::TypeKind::OptionalType:
      if (v.IsNull() || v.IsUndefined()) return c10::IValue();
      return ToIValue(v, type->expectRef<c10::OptionalType>().getElementType(), argName);
    case c10::TypeKind::TensorType:
      return c10::IValue(tensors(env).Get(v, argName.c_str()));
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
      return c10::IValue(ToInt64(v, argName.c_str()));
    case c10::TypeKind::FloatType:
      if (!v.IsNumber()) throw Napi::TypeError::New(env, "expected a number for argument '" + argName + "'");
      return c10::IValue(v.As<Napi::Number>().DoubleValue());
    case c10::TypeKind::BoolType:
      return c10::IValue(v.ToBoolean().Value());
    case c10::TypeKind::NumberType:
      return ToScalar(v, argName);
    case c10::TypeKind::StringType:
      if (!v.IsString()) throw Napi::TypeError::New(env, "expected a string for argument '" + argName + "'");
      return c10::IValue(v.As<Napi::String>().Utf8Value());
    case c10::TypeKind::ListType:
      return ToList(v, type->expect<c10::ListType>(), argName);
    case c10::TypeKind::DeviceObjType:
      return c10::IValue(c10::Device(v.As<Napi::String>().Utf8Value()));
    case c10::TypeKind::GeneratorType: {
      if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(addonData(env).generatorCtor.Value()))
        throw Napi::TypeError::New(env, "expected a generator for argument '" + argName + "'");
      return c10::IValue(Napi::ObjectWrap<GeneratorHandle>::Unwrap(v.As<Napi::Object>())->generator);
    }
    default:
      throw Napi::TypeError::New(env, "unsupported argument type " + type->str() + " for '" + argName + "'");
  }
}

Napi::Value FromIValue(Napi::Env env, const c10::IValue& v) {
  if (v.isNone()) return env.Null();
  if (v.isTensor()) {
    return WrapTensor(env, v.toTensor());
  }
  if (v.isTensorList()) {
    auto list = v.toTensorList();
    Napi::Array out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) {
      out.Set(i, WrapTensor(env, list.get(i)));
    }
    return out;
  }
  if (v.isTuple() || v.isList()) {
    std::vector<c10::IValue> items;
    if (v.isTuple()) items = v.toTupleRef().elements().vec();
    else items = v.toListRef().vec();
    Napi::Array out = Napi::Array::New(env, items.size());
    for (size_t i = 0; i < items.size(); ++i) out.Set(i, FromIValue(env, items[i]));
    return out;
  }
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isScalar()) {
    auto s = v.toScalar();
    if (s.isBoolean()) return Napi::Boolean::New(env, s.toBool());
    if (s.isIntegral(false)) return Napi::Number::New(env, static_cast<double>(s.toLong()));
    return Napi::Number::New(env, s.toDouble());
  }
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  if (v.isIntList()) {
    auto list = v.toIntVector();
    Napi::Array out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) out.Set(i, Napi::Number::New(env, static_cast<double>(list[i])));
    return out;
  }
  throw Napi::Error::New(env, "unsupported return type " + v.tagKind());
}

// resolveOp(name: "aten::conv2d", overload: ""): returns {id, schema, args: [{name, type, hasDefault}]}.
Napi::Value ResolveOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "resolveOp: expected an operator name");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::string overload = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  return Guard(env, "resolveOp(" + name + (overload.empty() ? "" : "." + overload) + ")", [&]() -> Napi::Value {
    auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
    if (!handle) throw std::runtime_error("no such operator");
    size_t id;
    {
      std::lock_guard<std::mutex> lock(opTableMutex());
      id = opTable().size();
      opTable().push_back({*handle, overload.empty() ? name : name + "." + overload});
    }
    const auto& schema = handle->schema();
    Napi::Object out = Napi::Object::New(env);
    out.Set("id", Napi::Number::New(env, static_cast<double>(id)));
    out.Set("schema", Napi::String::New(env, c10::toString(schema)));
    Napi::Array args = Napi::Array::New(env, schema.arguments().size());
    for (size_t i = 0; i < schema.arguments().size(); ++i) {
      const auto& a = schema.arguments()[i];
      Napi::Object arg = Napi::Object::New(env);
      arg.Set("name", a.name());
      arg.Set("type", a.type()->str());
      arg.Set("hasDefault", a.default_value().has_value());
      arg.Set("kwargOnly", a.kwarg_only());
      args.Set(i, arg);
    }
    out.Set("args", args);
    Napi::Array returns = Napi::Array::New(env, schema.returns().size());
    for (size_t i = 0; i < schema.returns().size(); ++i) returns.Set(i, schema.returns()[i].type()->str());
    out.Set("returns", returns);
    return out;
  });
}

// callOp(id, positional: any[], named?: {[arg]: value}): runs the op; returns one value or an array of them.
Napi::Value CallOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t id = info[0].IsNumber() ? static_cast<size_t>(info[0].As<Napi::Number>().Int64Value()) : SIZE_MAX;
  OpEntry* entry;
  {
    std::lock_guard<std::mutex> lock(opTableMutex());
    if (!info[0].IsNumber() || id >= opTable().size()) throw Napi::RangeError::New(env, "callOp: unknown operator id");
    entry = &opTable()[id];
  }
  return Guard(env, entry->name, [&]() -> Napi::Value {
    const auto& schema = entry->handle.schema();
    const auto& formals = schema.arguments();
    if (!info[1].IsArray()) throw Napi::TypeError::New(env, "callOp: expected an argument array");
    Napi::Array positional = info[1].As<Napi::Array>();
    Napi::Object named = info.Length() > 2 && info[2].IsObject() ? info[2].As<Napi::Object>() : Napi::Object();
    uint32_t given = positional.Length();
    if (given > formals.size())
      throw std::runtime_error("takes " + std::to_string(formals.size()) + " arguments but " +
                               std::to_string(given) + " were given");
    torch::jit::Stack stack;
    stack.reserve(formals.size());
    for (size_t i = 0; i < formals.size(); ++i) {
      const auto& formal = formals[i];
      Napi::Value v = env.Undefined();
      if (i < given) v = positional.Get(static_cast<uint32_t>(i));
      else if (!named.IsEmpty() && named.Has(formal.name())) v = named.Get(formal.name());
      if (v.IsUndefined()) {
        if (formal.default_value()) {
          stack.push_back(*formal.default_value());
          continue;
        }
        if (formal.type()->kind() != c10::TypeKind::OptionalType)
          throw std::runtime_error("missing argument '" + formal.name() + "'");
      }
      stack.push_back(ToIValue(v, formal.type(), formal.name()));
    }
    entry->handle.callBoxed(&stack);
    if (stack.empty()) return env.Undefined();
    if (stack.size() == 1) return FromIValue(env, stack[0]);
    Napi::Array out = Napi::Array::New(env, stack.size());
    for (size_t i = 0; i < stack.size(); ++i) out.Set(i, FromIValue(env, stack[i]));
    return out;
  });
}

}  // namespace

void InitDispatch(Napi::Env env, Napi::Object exports) {
  exports.Set("resolveOp", Napi::Function::New(env, ResolveOp, "resolveOp"));
  exports.Set("callOp", Napi::Function::New(env, CallOp, "callOp"));
}

}  // namespace samtutor
