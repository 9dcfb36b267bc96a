// The tensor table (ids JS holds), creation from JS bytes, copies back to JS, metadata, release.
#include <cmath>
#include <cstring>

#include "common.h"

namespace samtutor {

namespace {
constexpr double kSlotSpace = 4194304.0;  // 2^22 slots; the generation lives above them
}

int64_t ToInt64(const Napi::Value& v, const char* what) {
  if (v.IsBigInt()) {
    bool lossless = true;
    return v.As<Napi::BigInt>().Int64Value(&lossless);
  }
  if (v.IsNumber()) return v.As<Napi::Number>().Int64Value();
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1 : 0;
  throw Napi::TypeError::New(v.Env(), std::string("expected an integer for ") + what);
}

std::vector<int64_t> ToIntList(const Napi::Value& v, const char* what) {
  if (v.IsNumber() || v.IsBigInt()) return {ToInt64(v, what)};
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), std::string("expected an integer list for ") + what);
  auto arr = v.As<Napi::Array>();
  std::vector<int64_t> out(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); ++i) out[i] = ToInt64(arr.Get(i), what);
  return out;
}

at::ScalarType ToScalarType(const Napi::Value& v) { return static_cast<at::ScalarType>(ToInt64(v, "dtype")); }

TensorTable& tensors(Napi::Env env) { return addonData(env).table; }

static int64_t StorageBytes(const at::Tensor& t) {
  if (!t.defined() || !t.has_storage()) return 0;
  return static_cast<int64_t>(t.storage().nbytes());
}

double TensorTable::Add(Napi::Env env, at::Tensor tensor) {
  uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    if (slots_.size() >= static_cast<size_t>(kSlotSpace)) throw std::runtime_error("too many live tensors (4M)");
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[slot];
  s.tensor = std::move(tensor);
  s.reportedBytes = 0;  // see ReportToGc
  ++live_;
  return static_cast<double>(s.generation) * kSlotSpace + slot;
}

TensorTable::Slot* TensorTable::Lookup(double id) {
  if (!(id >= 0) || id != std::floor(id)) return nullptr;
  auto slot = static_cast<size_t>(std::fmod(id, kSlotSpace));
  auto generation = static_cast<uint32_t>(std::floor(id / kSlotSpace));
  if (slot >= slots_.size()) return nullptr;
  Slot& s = slots_[slot];
  if (s.generation != generation || !s.tensor.defined()) return nullptr;
  return &s;
}

at::Tensor& TensorTable::Get(const Napi::Value& id, const char* what) {
  Napi::Env env = id.Env();
  if (!id.IsNumber()) throw Napi::TypeError::New(env, std::string("expected a tensor for ") + what);
  Slot* s = Lookup(id.As<Napi::Number>().DoubleValue());
  if (!s) throw Napi::Error::New(env, std::string("tensor passed as ") + what + " was disposed");
  return s->tensor;
}

bool TensorTable::ReportToGc(Napi::Env env, double id) {
  Slot* s = Lookup(id);
  if (!s || s->reportedBytes) return false;
  s->reportedBytes = StorageBytes(s->tensor);
  if (s->reportedBytes) Napi::MemoryManagement::AdjustExternalMemory(env, s->reportedBytes);
  return true;
}

bool TensorTable::Release(Napi::Env env, double id) {
  Slot* s = Lookup(id);
  if (!s) return false;
  if (s->reportedBytes) Napi::MemoryManagement::AdjustExternalMemory(env, -s->reportedBytes);
  s->reportedBytes = 0;
  s->tensor.reset();
  s->generation++;
  free_.push_back(static_cast<uint32_t>(&*s - slots_.data()));
  --live_;
  return true;
}

Napi::Value WrapTensor(Napi::Env env, at::Tensor tensor) {
  if (!tensor.defined()) return env.Null();
  return Napi::Number::New(env, tensors(env).Add(env, std::move(tensor)));
}

namespace {

Napi::Array IntArray(Napi::Env env, c10::IntArrayRef values) {
  Napi::Array out = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); ++i) out.Set(i, Napi::Number::New(env, static_cast<double>(values[i])));
  return out;
}

// A metadata getter over one tensor id: fn(tensor) -> JS value.
template <typename F>
Napi::Function Getter(Napi::Env env, const char* name, F fn) {
  return Napi::Function::New(
      env,
      [name, fn](const Napi::CallbackInfo& info) -> Napi::Value {
        return Guard(info.Env(), name, [&]() -> Napi::Value { return fn(info.Env(), tensors(info.Env()).Get(info[0], "self"), info); });
      },
      name);
}

// fromBytes(bytes: ArrayBufferView, dtype: number, shape: number[]): copies the bytes into a new CPU tensor.
Napi::Value FromBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "fromBytes", [&]() -> Napi::Value {
    if (!info[0].IsTypedArray() && !info[0].IsBuffer()) throw Napi::TypeError::New(env, "fromBytes: expected a typed array");
    auto view = info[0].As<Napi::TypedArray>();
    auto t = at::empty(ToIntList(info[2], "shape"), at::TensorOptions().dtype(ToScalarType(info[1])));
    size_t need = t.nbytes();
    if (need != view.ByteLength())
      throw std::runtime_error(std::to_string(view.ByteLength()) + " bytes given but the shape needs " + std::to_string(need));
    const uint8_t* src = static_cast<const uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
    if (need) std::memcpy(t.data_ptr(), src, need);
    return WrapTensor(env, std::move(t));
  });
}

// toBytes(id): a new ArrayBuffer with the tensor's elements in row-major order.
Napi::Value ToBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "toBytes", [&]() -> Napi::Value {
    at::Tensor t = tensors(env).Get(info[0], "self");
    if (!t.device().is_cpu()) t = t.cpu();
    t = t.contiguous();
    auto buffer = Napi::ArrayBuffer::New(env, t.nbytes());
    if (t.nbytes()) std::memcpy(buffer.Data(), t.data_ptr(), t.nbytes());
    return buffer;
  });
}

// copyBytesInto(id, bytes): overwrites a contiguous CPU tensor's elements in place.
Napi::Value CopyBytesInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "copyBytesInto", [&]() -> Napi::Value {
    at::Tensor& t = tensors(env).Get(info[0], "dst");
    if (!info[1].IsTypedArray()) throw Napi::TypeError::New(env, "copyBytesInto: expected a typed array");
    auto view = info[1].As<Napi::TypedArray>();
    if (!t.is_contiguous() || !t.device().is_cpu()) throw std::runtime_error("destination must be a contiguous CPU tensor");
    if (view.ByteLength() != t.nbytes())
      throw std::runtime_error(std::to_string(view.ByteLength()) + " bytes given for a tensor of " + std::to_string(t.nbytes()));
    const uint8_t* src = static_cast<const uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
    if (t.nbytes()) std::memcpy(t.data_ptr(), src, t.nbytes());
    return env.Undefined();
  });
}

}  // namespace

void InitTensor(Napi::Env env, Napi::Object exports) {
  exports.Set("fromBytes", Napi::Function::New(env, FromBytes, "fromBytes"));
  exports.Set("toBytes", Napi::Function::New(env, ToBytes, "toBytes"));
  exports.Set("copyBytesInto", Napi::Function::New(env, CopyBytesInto, "copyBytesInto"));
  exports.Set("reportToGc", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                if (!info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "reportToGc: expected a tensor id");
                return Napi::Boolean::New(info.Env(), tensors(info.Env()).ReportToGc(info.Env(), info[0].As<Napi::Number>().DoubleValue()));
              }, "reportToGc"));
  exports.Set("release", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                if (!info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "release: expected a tensor id");
                return Napi::Boolean::New(info.Env(), tensors(info.Env()).Release(info.Env(), info[0].As<Napi::Number>().DoubleValue()));
              }, "release"));
  exports.Set("isLive", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                bool live = true;
                try {
                  tensors(info.Env()).Get(info[0], "self");
                } catch (const Napi::Error&) {
                  live = false;
                }
                return Napi::Boolean::New(info.Env(), live);
              }, "isLive"));
  exports.Set("liveTensors", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return Napi::Number::New(info.Env(), static_cast<double>(tensors(info.Env()).live()));
              }, "liveTensors"));
  exports.Set("shape", Getter(env, "shape", [](Napi::Env e, at::Tensor& t, const Napi::CallbackInfo&) -> Napi::Value { return IntArray(e, t.sizes()); }));
  exports.Set("strides", Getter(env, "strides", [](Napi::Env e, at::Tensor& t, const Napi::CallbackInfo&) -> Napi::Value { return IntArray(e, t.strides()); }));
  exports.Set("dtype", Getter(env, "dtype", [](Napi::Env e, at::Tensor& t, const Napi::CallbackInfo&) -> Napi::Value {
                return Napi::Number::New(e, static_cast<int>(t.scalar_type()));
              }));
  exports.Set("device", Getter(env, "device", [](Napi::Env e, at::Tensor& t, const Napi::CallbackInfo&) -> Napi::Value {
                return Napi::String::New(e, t.device().str());
              }));
  exports.Set("numel", Getter(env, "numel", [](Napi::Env e, at::Tensor& t, const Napi::CallbackInfo&) -> Napi::Value {
                return Napi::Number::New(e, static_cast<double>(t.numel()));
              }));
  exports.Set("storageOffset", Getter(env, "storageOffset", [](Napi::Env e, at::Tensor& t, const Napi::CallbackInfo&) -> Napi::Value {
                return Napi::Number::New(e, static_cast<double>(t.storage_offset()));
              }));
  // A stable identity for the storage (its data pointer) and its size in bytes, e.g. to deduplicate on save.
  exports.Set("storageId", Getter(env, "storageId", [](Napi::Env e, at::Tensor& t, const Napi::CallbackInfo&) -> Napi::Value {
                if (!t.has_storage()) return e.Null();
                return Napi::String::New(e, std::to_string(reinterpret_cast<uintptr_t>(t.storage().unsafeGetStorageImpl())));
              }));
  exports.Set("storageBytes", Getter(env, "storageBytes", [](Napi::Env e, at::Tensor& t, const Napi::CallbackInfo&) -> Napi::Value {
                return Napi::Number::New(e, static_cast<double>(StorageBytes(t)));
              }));
  exports.Set("isContiguous", Getter(env, "isContiguous", [](Napi::Env e, at::Tensor& t, const Napi::CallbackInfo& info) -> Napi::Value {
                auto format = info.Length() > 1 && info[1].IsNumber() ? static_cast<at::MemoryFormat>(ToInt64(info[1], "memoryFormat"))
                                                                      : at::MemoryFormat::Contiguous;
                return Napi::Boolean::New(e, t.is_contiguous(format));
              }));
  exports.Set("sameStorage", Getter(env, "sameStorage", [](Napi::Env e, at::Tensor& a, const Napi::CallbackInfo& info) -> Napi::Value {
                at::Tensor& b = tensors(e).Get(info[1], "other");
                return Napi::Boolean::New(e, a.has_storage() && b.has_storage() && a.storage().is_alias_of(b.storage()));
              }));
}

}  // namespace samtutor
