// Autograd bindings: backward, .grad, requires_grad, and the thread-local grad / inference modes.
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/variable.h>

#include <memory>
#include <vector>

#include "common.h"

namespace samtutor {
namespace {

// backward(tensors[], grads[] | null, retainGraph, createGraph)
Napi::Value Backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "backward", [&]() -> Napi::Value {
    auto arr = info[0].As<Napi::Array>();
    std::vector<at::Tensor> outputs, grads;
    for (uint32_t i = 0; i < arr.Length(); ++i) outputs.push_back(tensors(info.Env()).Get(arr.Get(i), "tensors"));
    if (info[1].IsArray()) {
      auto g = info[1].As<Napi::Array>();
      for (uint32_t i = 0; i < g.Length(); ++i) {
        Napi::Value v = g.Get(i);
        grads.push_back(v.IsNull() || v.IsUndefined() ? at::Tensor() : tensors(info.Env()).Get(v, "grad"));
      }
    }
    c10::optional<bool> retain;
    if (info[2].IsBoolean()) retain = info[2].As<Napi::Boolean>().Value();
    bool create = info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value();
    torch::autograd::backward(outputs, grads, retain, create);
    return env.Undefined();
  });
}

// grad(outputs[], inputs[], gradOutputs[] | null, retainGraph, createGraph, allowUnused): like torch.autograd.grad.
Napi::Value Grad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "grad", [&]() -> Napi::Value {
    std::vector<at::Tensor> outputs, inputs, gradOutputs;
    auto o = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < o.Length(); ++i) outputs.push_back(tensors(info.Env()).Get(o.Get(i), "outputs"));
    auto in = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < in.Length(); ++i) inputs.push_back(tensors(info.Env()).Get(in.Get(i), "inputs"));
    if (info[2].IsArray()) {
      auto g = info[2].As<Napi::Array>();
      for (uint32_t i = 0; i < g.Length(); ++i) gradOutputs.push_back(tensors(info.Env()).Get(g.Get(i), "gradOutputs"));
    }
    c10::optional<bool> retain;
    if (info[3].IsBoolean()) retain = info[3].As<Napi::Boolean>().Value();
    bool create = info[4].IsBoolean() && info[4].As<Napi::Boolean>().Value();
    bool allowUnused = info[5].IsBoolean() && info[5].As<Napi::Boolean>().Value();
    auto result = torch::autograd::grad(outputs, inputs, gradOutputs, retain, create, allowUnused);
    Napi::Array out = Napi::Array::New(env, result.size());
    for (size_t i = 0; i < result.size(); ++i)
      out.Set(i, result[i].defined() ? WrapTensor(env, result[i]) : env.Null());
    return out;
  });
}

Napi::Value GetGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "grad", [&]() -> Napi::Value {
    return WrapTensor(env, tensors(env).Get(info[0], "self").grad());
  });
}

// setGrad(self, grad | null): replaces (or clears, like zero_grad(set_to_none=True)) the accumulated gradient.
Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "setGrad", [&]() -> Napi::Value {
    at::Tensor& t = tensors(info.Env()).Get(info[0], "self");
    t.mutable_grad() = info[1].IsNull() || info[1].IsUndefined() ? at::Tensor() : tensors(info.Env()).Get(info[1], "grad");
    return env.Undefined();
  });
}

Napi::Value RequiresGrad(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "requiresGrad", [&]() -> Napi::Value {
    return Napi::Boolean::New(info.Env(), tensors(info.Env()).Get(info[0], "self").requires_grad());
  });
}

Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "requiresGrad_", [&]() -> Napi::Value {
    tensors(info.Env()).Get(info[0], "self").set_requires_grad(info[1].ToBoolean().Value());
    return env.Undefined();
  });
}

Napi::Value RetainGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "retainGrad", [&]() -> Napi::Value {
    tensors(info.Env()).Get(info[0], "self").retain_grad();
    return env.Undefined();
  });
}

Napi::Value IsLeaf(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "isLeaf", [&]() -> Napi::Value {
    return Napi::Boolean::New(info.Env(), tensors(info.Env()).Get(info[0], "self").is_leaf());
  });
}

Napi::Value GradFnName(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "gradFn", [&]() -> Napi::Value {
    const auto& fn = tensors(info.Env()).Get(info[0], "self").grad_fn();
    return fn ? Napi::Value(Napi::String::New(info.Env(), fn->name())) : info.Env().Null();
  });
}

// setGradEnabled(enabled) -> previous: thread-local, like torch.set_grad_enabled.
Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  bool prev = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(info[0].ToBoolean().Value());
  return Napi::Boolean::New(info.Env(), prev);
}

Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), c10::GradMode::is_enabled());
}

// Inference-mode guards live on a per-thread stack so JS scopes can enter and leave them in LIFO order.
thread_local std::vector<std::unique_ptr<c10::InferenceMode>> inferenceGuards;

Napi::Value EnterInferenceMode(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "inferenceMode", [&]() -> Napi::Value {
    inferenceGuards.push_back(std::make_unique<c10::InferenceMode>(true));
    return Napi::Number::New(info.Env(), static_cast<double>(inferenceGuards.size()));
  });
}

Napi::Value ExitInferenceMode(const Napi::CallbackInfo& info) {
  if (inferenceGuards.empty()) throw Napi::Error::New(info.Env(), "exitInferenceMode: not in inference mode");
  inferenceGuards.pop_back();
  return info.Env().Undefined();
}

Napi::Value IsInferenceTensor(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "isInference", [&]() -> Napi::Value {
    return Napi::Boolean::New(info.Env(), tensors(info.Env()).Get(info[0], "self").is_inference());
  });
}

}  // namespace

void InitAutograd(Napi::Env env, Napi::Object exports) {
  exports.Set("backward", Napi::Function::New(env, Backward, "backward"));
  exports.Set("autogradGrad", Napi::Function::New(env, Grad, "autogradGrad"));
  exports.Set("getGrad", Napi::Function::New(env, GetGrad, "getGrad"));
  exports.Set("setGrad", Napi::Function::New(env, SetGrad, "setGrad"));
  exports.Set("requiresGrad", Napi::Function::New(env, RequiresGrad, "requiresGrad"));
  exports.Set("setRequiresGrad", Napi::Function::New(env, SetRequiresGrad, "setRequiresGrad"));
  exports.Set("retainGrad", Napi::Function::New(env, RetainGrad, "retainGrad"));
  exports.Set("isLeaf", Napi::Function::New(env, IsLeaf, "isLeaf"));
  exports.Set("gradFnName", Napi::Function::New(env, GradFnName, "gradFnName"));
  exports.Set("setGradEnabled", Napi::Function::New(env, SetGradEnabled, "setGradEnabled"));
  exports.Set("isGradEnabled", Napi::Function::New(env, IsGradEnabled, "isGradEnabled"));
  exports.Set("enterInferenceMode", Napi::Function::New(env, EnterInferenceMode, "enterInferenceMode"));
  exports.Set("exitInferenceMode", Napi::Function::New(env, ExitInferenceMode, "exitInferenceMode"));
  exports.Set("isInferenceTensor", Napi::Function::New(env, IsInferenceTensor, "isInferenceTensor"));
}

}  // namespace samtutor
