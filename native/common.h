// Shared pieces of the samtutor addon: the tensor handle class, per-instance data and error mapping.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

#include <atomic>
#include <string>

namespace samtutor {

// Per-addon-instance data (one per Node environment, so worker threads each get their own).
class TensorTable;
struct AddonData;

// Bytes of CPU memory libtorch holds (all environments).
int64_t nativeBytes();
int64_t peakNativeBytes();
void resetPeakNativeBytes();

// Tensors owned by JS live in a per-environment slot table and are addressed by integer ids
// (generation * 2^22 + slot). Disposal frees the slot at once and the slot is reused, so nothing waits for the
// garbage collector's deferred finalizers (which, in a synchronous training loop, never run).
class TensorTable {
 public:
  double Add(Napi::Env env, at::Tensor tensor);
  at::Tensor& Get(const Napi::Value& id, const char* what);
  // Tells V8 how much native memory a tensor's small JS handle keeps alive, once its lifetime is left to the
  // garbage collector (no tidy scope owns it), so that GC pressure is realistic. Scoped tensors are not reported:
  // they are freed deterministically, and reporting the gigabytes of activations a training step makes and frees
  // set off several full (Mark-Compact) collections per step, about 20 ms of a 0.6 s U-Net step.
  // Returns false if the id was not live or was already reported.
  bool ReportToGc(Napi::Env env, double id);
  // Returns false if the id was not live (already released).
  bool Release(Napi::Env env, double id);
  int64_t live() const { return live_; }

 private:
  struct Slot {
    at::Tensor tensor;
    uint32_t generation = 0;
    int64_t reportedBytes = 0;
  };
  Slot* Lookup(double id);
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  int64_t live_ = 0;
};

TensorTable& tensors(Napi::Env env);
// Wraps a result tensor for JS: its id, or null for an undefined tensor.
Napi::Value WrapTensor(Napi::Env env, at::Tensor tensor);

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
  // Every binding runs inside this: an uncaught C++ exception would abort the Node process.
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

struct AddonData {
  Napi::FunctionReference generatorCtor;
  TensorTable table;
};
AddonData& addonData(Napi::Env env);

// Registration functions, one per translation unit.
void InitTensor(Napi::Env env, Napi::Object exports);
void InitDispatch(Napi::Env env, Napi::Object exports);
void InitAutograd(Napi::Env env, Napi::Object exports);
void InitRuntime(Napi::Env env, Napi::Object exports);

}  // namespace samtutor
