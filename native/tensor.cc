// Tensor handles: creation from JS bytes, copies back to JS, metadata, explicit disposal.
#include "common.h"

#include <cstring>

namespace samtutor {

std::atomic<int64_t>& liveHandles() {
  static std::atomic<int64_t> count{0};
  return count;
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

at::ScalarType ToScalarType(const Napi::Value& v) {
  return static_cast<at::ScalarType>(ToInt64(v, "dtype"));
}

static int64_t StorageBytes(const at::Tensor& t) {
  if (!t.defined() || !t.has_storage()) return 0;
  return static_cast<int64_t>(t.storage().nbytes());
}

Napi::Function TensorHandle::Define(Napi::Env env) {
  return DefineClass(env, "TensorHandle",
                     {
                         InstanceMethod("dispose", &TensorHandle::Dispose),
                         InstanceMethod("isDisposed", &TensorHandle::IsDisposed),
                         InstanceMethod("shape", &TensorHandle::Shape),
                         InstanceMethod("strides", &TensorHandle::Strides),
                         InstanceMethod("dtype", &TensorHandle::DType),
                         InstanceMethod("device", &TensorHandle::Device),
                         InstanceMethod("numel", &TensorHandle::Numel),
                         InstanceMethod("storageOffset", &TensorHandle::StorageOffset),
                         InstanceMethod("isContiguous", &TensorHandle::IsContiguous),
                         InstanceMethod("sameStorage", &TensorHandle::SameStorage),
                     });
}

Napi::Object TensorHandle::Wrap(Napi::Env env, at::Tensor tensor) {
  Napi::Object obj = addonData(env).tensorCtor.New({});
  TensorHandle* self = Napi::ObjectWrap<TensorHandle>::Unwrap(obj);
  self->tensor = std::move(tensor);
  self->reportedBytes_ = StorageBytes(self->tensor);
  // Tell V8 how much native memory this small JS object keeps alive, so GC pressure is realistic.
  if (self->reportedBytes_) Napi::MemoryManagement::AdjustExternalMemory(env, self->reportedBytes_);
  return obj;
}

bool TensorHandle::Is(Napi::Env env, const Napi::Value& value) {
  return value.IsObject() && value.As<Napi::Object>().InstanceOf(addonData(env).tensorCtor.Value());
}

at::Tensor& TensorHandle::Get(const Napi::Value& value, const char* what) {
  Napi::Env env = value.Env();
  if (!Is(env, value)) throw Napi::TypeError::New(env, std::string("expected a tensor for ") + what);
  TensorHandle* self = Napi::ObjectWrap<TensorHandle>::Unwrap(value.As<Napi::Object>());
  if (!self->tensor.defined()) throw Napi::Error::New(env, std::string("tensor passed as ") + what + " was disposed");
  return self->tensor;
}

TensorHandle::TensorHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorHandle>(info) {
  liveHandles()++;
}

TensorHandle::~TensorHandle() {
  // The finalizer runs without a usable env for external-memory accounting; V8 drops it with the object.
  if (counted_) liveHandles()--;
}

void TensorHandle::Release(Napi::Env env) {
  if (reportedBytes_) Napi::MemoryManagement::AdjustExternalMemory(env, -reportedBytes_);
  reportedBytes_ = 0;
  tensor.reset();
}

void TensorHandle::Finalize(Napi::Env env) { Release(env); }

Napi::Value TensorHandle::Dispose(const Napi::CallbackInfo& info) {
  if (counted_) {
    counted_ = false;
    liveHandles()--;
  }
  Release(info.Env());
  return info.Env().Undefined();
}

Napi::Value TensorHandle::IsDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !tensor.defined());
}

static Napi::Array IntArray(Napi::Env env, c10::IntArrayRef values) {
  Napi::Array out = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); ++i) out.Set(i, Napi::Number::New(env, static_cast<double>(values[i])));
  return out;
}

Napi::Value TensorHandle::Shape(const Napi::CallbackInfo& info) {
  return IntArray(info.Env(), Get(info.This(), "shape").sizes());
}
Napi::Value TensorHandle::Strides(const Napi::CallbackInfo& info) {
  return IntArray(info.Env(), Get(info.This(), "strides").strides());
}
Napi::Value TensorHandle::DType(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<int>(Get(info.This(), "dtype").scalar_type()));
}
Napi::Value TensorHandle::Device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), Get(info.This(), "device").device().str());
}
Napi::Value TensorHandle::Numel(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(Get(info.This(), "numel").numel()));
}
Napi::Value TensorHandle::StorageOffset(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(Get(info.This(), "storageOffset").storage_offset()));
}
Napi::Value TensorHandle::IsContiguous(const Napi::CallbackInfo& info) {
  auto& t = Get(info.This(), "isContiguous");
  auto format = info.Length() > 0 && info[0].IsNumber() ? static_cast<at::MemoryFormat>(ToInt64(info[0], "memoryFormat"))
                                                        : at::MemoryFormat::Contiguous;
  return Napi::Boolean::New(info.Env(), t.is_contiguous(format));
}
Napi::Value TensorHandle::SameStorage(const Napi::CallbackInfo& info) {
  auto& a = Get(info.This(), "self");
  auto& b = Get(info[0], "other");
  return Napi::Boolean::New(info.Env(), a.has_storage() && b.has_storage() && a.storage().is_alias_of(b.storage()));
}

// fromBytes(bytes: ArrayBufferView, dtype: number, shape: number[]): copies the bytes into a new CPU tensor.
static Napi::Value FromBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "fromBytes", [&]() -> Napi::Value {
    if (!info[0].IsTypedArray() && !info[0].IsDataView() && !info[0].IsBuffer())
      throw Napi::TypeError::New(env, "fromBytes: expected a typed array");
    auto view = info[0].As<Napi::TypedArray>();
    auto dtype = ToScalarType(info[1]);
    auto shape = ToIntList(info[2], "shape");
    auto t = at::empty(shape, at::TensorOptions().dtype(dtype));
    size_t need = t.nbytes();
    size_t have = view.ByteLength();
    if (need != have)
      throw Napi::RangeError::New(env, "fromBytes: " + std::to_string(have) + " bytes given but shape needs " +
                                           std::to_string(need));
    const uint8_t* src = static_cast<const uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
    if (need) std::memcpy(t.data_ptr(), src, need);
    return TensorHandle::Wrap(env, std::move(t));
  });
}

// toBytes(tensor): a new ArrayBuffer with the tensor's elements in row-major order.
static Napi::Value ToBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "toBytes", [&]() -> Napi::Value {
    at::Tensor t = TensorHandle::Get(info[0], "self");
    if (!t.device().is_cpu()) t = t.cpu();
    t = t.contiguous();
    auto buffer = Napi::ArrayBuffer::New(env, t.nbytes());
    if (t.nbytes()) std::memcpy(buffer.Data(), t.data_ptr(), t.nbytes());
    return buffer;
  });
}

// copyInto(dst, bytes): overwrites a contiguous tensor's elements in place (used by loaders; keeps autograd leaves).
static Napi::Value CopyBytesInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "copyBytesInto", [&]() -> Napi::Value {
    at::Tensor& t = TensorHandle::Get(info[0], "dst");
    auto view = info[1].As<Napi::TypedArray>();
    if (!t.is_contiguous() || !t.device().is_cpu()) throw std::runtime_error("destination must be a contiguous CPU tensor");
    if (view.ByteLength() != t.nbytes())
      throw std::runtime_error(std::to_string(view.ByteLength()) + " bytes given for a tensor of " +
                               std::to_string(t.nbytes()));
    const uint8_t* src = static_cast<const uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
    if (t.nbytes()) std::memcpy(t.data_ptr(), src, t.nbytes());
    return env.Undefined();
  });
}

void InitTensor(Napi::Env env, Napi::Object exports) {
  auto ctor = TensorHandle::Define(env);
  addonData(env).tensorCtor = Napi::Persistent(ctor);
  exports.Set("TensorHandle", ctor);
  exports.Set("fromBytes", Napi::Function::New(env, FromBytes, "fromBytes"));
  exports.Set("toBytes", Napi::Function::New(env, ToBytes, "toBytes"));
  exports.Set("copyBytesInto", Napi::Function::New(env, CopyBytesInto, "copyBytesInto"));
  exports.Set("liveHandles", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return Napi::Number::New(info.Env(), static_cast<double>(liveHandles().load()));
              }));
}

}  // namespace samtutor
