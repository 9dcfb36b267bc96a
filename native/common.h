// Shared pieces of the samtutor addon: the tensor handle class, per-instance data and error mapping.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

#include <atomic>
#include <string>

namespace samtutor {

// Per-addon-instance data (one per Node environment, so worker threads each get their own).
struct AddonData {
  Napi::FunctionReference tensorCtor;
  Napi::FunctionReference generatorCtor;
};

AddonData& addonData(Napi::Env env);

// Counts of tensor handles alive in JS and the bytes of CPU memory libtorch holds (all environments).
std::atomic<int64_t>& liveHandles();
int64_t nativeBytes();
int64_t peakNativeBytes();
void resetPeakNativeBytes();

// A JS object owning one at::Tensor. Disposing releases it early; the GC finalizer is the fallback.
class TensorHandle : public Napi::ObjectWrap<TensorHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Object Wrap(Napi::Env env, at::Tensor tensor);
  static bool Is(Napi::Env env, const Napi::Value& value);
  static at::Tensor& Get(const Napi::Value& value, const char* what);

  explicit TensorHandle(const Napi::CallbackInfo& info);
  ~TensorHandle() override;
  void Finalize(Napi::Env env) override;

  at::Tensor tensor;

 private:
  void Release(Napi::Env env);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);
  Napi::Value Shape(const Napi::CallbackInfo& info);
  Napi::Value Strides(const Napi::CallbackInfo& info);
  Napi::Value DType(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value Numel(const Napi::CallbackInfo& info);
  Napi::Value StorageOffset(const Napi::CallbackInfo& info);
  Napi::Value IsContiguous(const Napi::CallbackInfo& info);
  Napi::Value SameStorage(const Napi::CallbackInfo& info);

  int64_t reportedBytes_ = 0;
  bool counted_ = true;
};

// An at::Generator owned by JS (an independent random stream; state can be saved and restored).
class GeneratorHandle : public Napi::ObjectWrap<GeneratorHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit GeneratorHandle(const Napi::CallbackInfo& info);
  at::Generator generator;

 private:
  Napi::Value Seed(const Napi::CallbackInfo& info);
  Napi::Value GetState(const Napi::CallbackInfo& info);
  Napi::Value SetState(const Napi::CallbackInfo& info);
};

// Runs `body`, turning libtorch and C++ errors into a JS Error whose message starts with `op`.
template <typename F>
Napi::Value Guard(Napi::Env env, const std::string& op, F&& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, op + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, op + ": " + e.what());
  }
}

int64_t ToInt64(const Napi::Value& v, const char* what);
std::vector<int64_t> ToIntList(const Napi::Value& v, const char* what);
at::ScalarType ToScalarType(const Napi::Value& v);

// Registration functions, one per translation unit.
void InitTensor(Napi::Env env, Napi::Object exports);
void InitDispatch(Napi::Env env, Napi::Object exports);
void InitAutograd(Napi::Env env, Napi::Object exports);
void InitRuntime(Napi::Env env, Napi::Object exports);

}  // namespace samtutor
