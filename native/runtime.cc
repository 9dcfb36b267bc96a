// Process-level runtime: intra-op threads, random generators, bf16/fp16 autocast, and CPU memory accounting.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <malloc.h>

#include "common.h"

namespace samtutor {

// ---- memory: a CPU allocator that counts live bytes, delegating to c10's aligned allocation ----
namespace {
std::atomic<int64_t> g_bytes{0};
std::atomic<int64_t> g_peak{0};
constexpr size_t kHeader = 64;  // keeps the 64-byte alignment c10 promises; holds the allocation size

void CountedFree(void* ptr) {
  if (!ptr) return;
  char* base = static_cast<char*>(ptr) - kHeader;
  g_bytes -= static_cast<int64_t>(*reinterpret_cast<size_t*>(base));
  c10::free_cpu(base);
}

struct CountingAllocator final : public c10::Allocator {
  c10::DataPtr allocate(size_t nbytes) const override {
    if (nbytes == 0) return {nullptr, nullptr, &CountedFree, at::Device(at::DeviceType::CPU)};
    char* base = static_cast<char*>(c10::alloc_cpu(nbytes + kHeader));
    *reinterpret_cast<size_t*>(base) = nbytes;
    int64_t now = (g_bytes += static_cast<int64_t>(nbytes));
    int64_t peak = g_peak.load();
    while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
    }
    void* data = base + kHeader;
    return {data, data, &CountedFree, at::Device(at::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &CountedFree; }
};
CountingAllocator g_allocator;
}  // namespace

int64_t nativeBytes() { return g_bytes.load(); }
int64_t peakNativeBytes() { return g_peak.load(); }
void resetPeakNativeBytes() { g_peak = g_bytes.load(); }

static void InstallAllocator() {
  static bool done = false;
  if (done) return;
  done = true;
  c10::SetCPUAllocator(&g_allocator, /*priority=*/100);
}

// ---- heap policy: keep freed activation memory for reuse instead of unmapping it ----
// glibc serves blocks above its mmap threshold (dynamic, 128 KiB and up) with fresh mmaps and returns the heap top
// once more than 128 KiB is free, so every training step page-faults (and the kernel zeroes) its whole activation
// working set again: ~67k faults per step of the small U-Net at batch 4 x 256^2. Raising both thresholds keeps
// that memory in the heap, reused step after step; RSS stays flat at the peak working set. Tensors over
// mmapThreshold (glibc caps it at 32 MiB) are still mapped and unmapped each time.
static Napi::Value SetHeapPolicy(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "setHeapPolicy", [&]() -> Napi::Value {
    int64_t trim = ToInt64(info[0], "trimThreshold"), mmap = ToInt64(info[1], "mmapThreshold");
    if (trim < 0 || trim > INT32_MAX || mmap < 0 || mmap > INT32_MAX)
      throw Napi::RangeError::New(info.Env(), "setHeapPolicy: thresholds must be between 0 and 2^31-1 bytes");
    bool ok = mallopt(M_TRIM_THRESHOLD, static_cast<int>(trim)) == 1;
    ok = mallopt(M_MMAP_THRESHOLD, static_cast<int>(mmap)) == 1 && ok;
    return Napi::Boolean::New(info.Env(), ok);
  });
}

// Returns free heap memory to the OS now (after a large job, say); true when some was released.
static Napi::Value TrimHeap(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), malloc_trim(0) == 1);
}

// ---- generators ----
Napi::Function GeneratorHandle::Define(Napi::Env env) {
  return DefineClass(env, "GeneratorHandle",
                     {InstanceMethod("seed", &GeneratorHandle::Seed), InstanceMethod("getState", &GeneratorHandle::GetState),
                      InstanceMethod("setState", &GeneratorHandle::SetState)});
}

GeneratorHandle::GeneratorHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GeneratorHandle>(info) {
  // new GeneratorHandle(seed) makes an independent stream; new GeneratorHandle() wraps the global default one.
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    generator = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(ToInt64(info[0], "seed")));
  } else {
    generator = at::detail::getDefaultCPUGenerator();
  }
}

Napi::Value GeneratorHandle::Seed(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "generator.seed", [&]() -> Napi::Value {
    uint64_t seed = static_cast<uint64_t>(ToInt64(info[0], "seed"));
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_current_seed(seed);
    return info.Env().Undefined();
  });
}

Napi::Value GeneratorHandle::GetState(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "generator.getState", [&]() -> Napi::Value {
    std::lock_guard<std::mutex> lock(generator.mutex());
    return WrapTensor(info.Env(), at::Tensor(generator.get_state()));
  });
}

Napi::Value GeneratorHandle::SetState(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "generator.setState", [&]() -> Napi::Value {
    const at::Tensor& state = tensors(info.Env()).Get(info[0], "state");
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(state);
    return info.Env().Undefined();
  });
}

// ---- autocast: enter/leave like torch.autocast("cpu"), clearing the cast-weight cache on the outermost exit ----
static Napi::Value AutocastEnter(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "autocast", [&]() -> Napi::Value {
    auto dtype = ToScalarType(info[1]);
    // CPU autocast in libtorch 1.13 supports bfloat16 only; check before changing any state.
    if (dtype != at::kBFloat16) throw std::runtime_error("CPU autocast supports bfloat16 only");
    Napi::Object prev = Napi::Object::New(info.Env());
    prev.Set("enabled", at::autocast::is_cpu_enabled());
    prev.Set("dtype", static_cast<int>(at::autocast::get_autocast_cpu_dtype()));
    at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(info[0].ToBoolean().Value());
    at::autocast::increment_nesting();
    return prev;
  });
}

static Napi::Value AutocastExit(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "autocast", [&]() -> Napi::Value {
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_cpu_enabled(info[0].ToBoolean().Value());
    at::autocast::set_autocast_cpu_dtype(ToScalarType(info[1]));
    return info.Env().Undefined();
  });
}

static Napi::Value AutocastState(const Napi::CallbackInfo& info) {
  Napi::Object s = Napi::Object::New(info.Env());
  s.Set("enabled", at::autocast::is_cpu_enabled());
  s.Set("dtype", static_cast<int>(at::autocast::get_autocast_cpu_dtype()));
  return s;
}

void InitRuntime(Napi::Env env, Napi::Object exports) {
  InstallAllocator();
  auto genCtor = GeneratorHandle::Define(env);
  addonData(env).generatorCtor = Napi::Persistent(genCtor);
  exports.Set("GeneratorHandle", genCtor);
  exports.Set("setNumThreads", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return Guard(info.Env(), "setNumThreads", [&]() -> Napi::Value {
                  int n = static_cast<int>(ToInt64(info[0], "threads"));
                  if (n < 1) throw Napi::RangeError::New(info.Env(), "setNumThreads: expected at least 1 thread");
                  at::set_num_threads(n);
                  return info.Env().Undefined();
                });
              }));
  exports.Set("getNumThreads", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return Napi::Number::New(info.Env(), at::get_num_threads());
              }));
  exports.Set("nativeBytes", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return Napi::Number::New(info.Env(), static_cast<double>(nativeBytes()));
              }));
  exports.Set("peakNativeBytes", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return Napi::Number::New(info.Env(), static_cast<double>(peakNativeBytes()));
              }));
  exports.Set("resetPeakNativeBytes", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                resetPeakNativeBytes();
                return info.Env().Undefined();
              }));
  exports.Set("setHeapPolicy", Napi::Function::New(env, SetHeapPolicy, "setHeapPolicy"));
  exports.Set("trimHeap", Napi::Function::New(env, TrimHeap, "trimHeap"));
  exports.Set("autocastEnter", Napi::Function::New(env, AutocastEnter, "autocastEnter"));
  exports.Set("autocastExit", Napi::Function::New(env, AutocastExit, "autocastExit"));
  exports.Set("autocastState", Napi::Function::New(env, AutocastState, "autocastState"));
  exports.Set("parallelInfo", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return Napi::String::New(info.Env(), at::get_parallel_info());
              }));
}

}  // namespace samtutor
