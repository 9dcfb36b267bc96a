// Entry point: registers each binding group. Context-aware, so worker threads can load it too.
#include <torch/version.h>

#include "common.h"

namespace samtutor {

AddonData& addonData(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());  // freed with the environment (worker threads end cleanly)
  InitTensor(env, exports);
  InitDispatch(env, exports);
  InitAutograd(env, exports);
  InitRuntime(env, exports);
  exports.Set("torchVersion", Napi::String::New(env, std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." + std::to_string(TORCH_VERSION_PATCH)));
  return exports;
}

}  // namespace samtutor

static Napi::Object Init(Napi::Env env, Napi::Object exports) { return samtutor::InitAddon(env, exports); }
NODE_API_MODULE(NODE_GYP_MODULE_NAME, Init)
