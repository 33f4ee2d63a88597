// Tensor metadata (shape, dtype, device) and autograd: requires-grad flags, .grad, backward, grad mode.
#include "common.h"
#include <torch/csrc/autograd/autograd.h>
#include <ATen/autocast_mode.h>

namespace dfkd {

// ---------------------------------------------------------------- metadata

static Napi::Value Shape(const Napi::CallbackInfo& info) {
  DFKD_GUARD("shape", {
    at::Tensor& t = argTensor(info, 0, "shape");
    auto arr = Napi::Array::New(info.Env(), t.dim());
    for (int64_t k = 0; k < t.dim(); ++k) arr.Set(static_cast<uint32_t>(k), Napi::Number::New(info.Env(), static_cast<double>(t.size(k))));
    return arr;
  })
}

static Napi::Value Dtype(const Napi::CallbackInfo& info) {
  DFKD_GUARD("dtype", { return Napi::String::New(info.Env(), dtypeName(argTensor(info, 0, "dtype").scalar_type())); })
}

static Napi::Value DeviceOf(const Napi::CallbackInfo& info) {
  DFKD_GUARD("device", { return Napi::String::New(info.Env(), argTensor(info, 0, "device").device().str()); })
}

static Napi::Value RequiresGrad(const Napi::CallbackInfo& info) {
  DFKD_GUARD("requiresGrad", { return Napi::Boolean::New(info.Env(), argTensor(info, 0, "requiresGrad").requires_grad()); })
}

static Napi::Value IsLeaf(const Napi::CallbackInfo& info) {
  DFKD_GUARD("isLeaf", { return Napi::Boolean::New(info.Env(), argTensor(info, 0, "isLeaf").is_leaf()); })
}

// The memory order libtorch reads from the strides (suggest_memory_format): what a convolution or
// pooling on this tensor runs in. 4-D tensors only report channels-last.
static Napi::Value MemoryFormatOf(const Napi::CallbackInfo& info) {
  DFKD_GUARD("memoryFormat", {
    const auto f = argTensor(info, 0, "memoryFormat").suggest_memory_format();
    return Napi::String::New(info.Env(), f == at::MemoryFormat::ChannelsLast ? "channels-last" : "contiguous");
  })
}

// ---------------------------------------------------------------- autograd

static Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  DFKD_GUARD("setRequiresGrad", {
    at::Tensor& t = argTensor(info, 0, "setRequiresGrad");
    bool b = argBool(info, 1, "setRequiresGrad");
    if (b && !at::isFloatingType(t.scalar_type())) {
      throw std::invalid_argument("only floating-point tensors can require gradients, this one is " + dtypeName(t.scalar_type()));
    }
    t.set_requires_grad(b);
    return info.Env().Undefined();
  })
}

// grad(t) -> handle or undefined
static Napi::Value Grad(const Napi::CallbackInfo& info) {
  DFKD_GUARD("grad", {
    at::Tensor& t = argTensor(info, 0, "grad");
    const at::Tensor& g = t.grad();
    if (!g.defined()) return info.Env().Undefined();
    return TensorHandle::Wrap(info.Env(), g);
  })
}

// clearGrad(t): sets .grad to None (PyTorch's zero_grad(set_to_none=True)).
static Napi::Value ClearGrad(const Napi::CallbackInfo& info) {
  DFKD_GUARD("clearGrad", {
    at::Tensor& t = argTensor(info, 0, "clearGrad");
    if (t.grad().defined()) t.mutable_grad() = at::Tensor();
    return info.Env().Undefined();
  })
}

// backward(t, gradient?, retainGraph?)
static Napi::Value Backward(const Napi::CallbackInfo& info) {
  DFKD_GUARD("backward", {
    at::Tensor& t = argTensor(info, 0, "backward");
    if (!t.requires_grad()) {
      throw std::invalid_argument("this tensor does not require grad and has no grad_fn (was it computed under noGrad, from detached inputs, or from parameters with requiresGrad=false?)");
    }
    auto g = argOptTensor(info, 1, "backward");
    bool retain = info.Length() > 2 && info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
    if (!g && t.numel() != 1) {
      throw std::invalid_argument("gradient can be implicitly created only for scalar outputs; this tensor has " + std::to_string(t.numel()) + " elements");
    }
    t.backward(g ? *g : at::Tensor(), retain, false);
    return info.Env().Undefined();
  })
}

// autogradGrad(output, inputs[], gradOutput?, createGraph?, retainGraph?) -> handles[]: the gradients of
// output with respect to inputs (torch::autograd::grad), without touching any .grad. With createGraph the
// returned gradients are themselves differentiable (double backward: input-gradient matching).
static Napi::Value AutogradGrad(const Napi::CallbackInfo& info) {
  DFKD_GUARD("autogradGrad", {
    at::Tensor& out = argTensor(info, 0, "autogradGrad");
    auto inputs = argTensorList(info, 1, "autogradGrad");
    auto g = argOptTensor(info, 2, "autogradGrad");
    bool create = info.Length() > 3 && info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value();
    bool retain = info.Length() > 4 && info[4].IsBoolean() ? info[4].As<Napi::Boolean>().Value() : create;
    if (!out.requires_grad()) {
      throw std::invalid_argument("output does not require grad and has no grad_fn (was it computed under noGrad, or from inputs that do not require grad?)");
    }
    if (!g && out.numel() != 1) {
      throw std::invalid_argument("gradOutput can be implicitly created only for scalar outputs; this tensor has " + std::to_string(out.numel()) + " elements");
    }
    for (size_t k = 0; k < inputs.size(); ++k) {
      if (!inputs[k].requires_grad()) throw std::invalid_argument("input " + std::to_string(k) + " does not require grad");
    }
    std::vector<at::Tensor> gradOut;
    if (g) gradOut.push_back(*g);
    auto grads = torch::autograd::grad({out}, inputs, gradOut, retain, create, /*allow_unused=*/true);
    auto arr = Napi::Array::New(info.Env(), grads.size());
    for (size_t k = 0; k < grads.size(); ++k) {
      at::Tensor r = grads[k].defined() ? grads[k] : at::zeros_like(inputs[k]);
      arr.Set(static_cast<uint32_t>(k), TensorHandle::Wrap(info.Env(), r));
    }
    return arr;
  })
}

static Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  DFKD_GUARD("setGradEnabled", {
    bool prev = at::GradMode::is_enabled();
    at::GradMode::set_enabled(argBool(info, 0, "setGradEnabled"));
    return Napi::Boolean::New(info.Env(), prev);
  })
}

// autocastCpuEnter() -> whether it was on; autocastCpuExit(wasOn): a scope of CPU autocast to bfloat16 (like
// torch.autocast('cpu', dtype=torch.bfloat16)): convolutions and matrix products run in bfloat16 and
// return bfloat16. runtime.ts autocast() pairs them; leaving the outermost scope clears the weight-cast cache.
static Napi::Value AutocastCpuEnter(const Napi::CallbackInfo& info) {
  DFKD_GUARD("autocastCpuEnter", {
    bool prev = at::autocast::is_cpu_enabled();
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
    at::autocast::increment_nesting();
    return Napi::Boolean::New(info.Env(), prev);
  })
}

static Napi::Value AutocastCpuExit(const Napi::CallbackInfo& info) {
  DFKD_GUARD("autocastCpuExit", {
    bool prev = argBool(info, 0, "autocastCpuExit");
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_cpu_enabled(prev);
    return info.Env().Undefined();
  })
}

static Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled());
}

void registerAutograd(Napi::Env env, Napi::Object exports) {
#define REG(name, fn) exports.Set(name, Napi::Function::New(env, fn, name))
  REG("shape", Shape);
  REG("dtype", Dtype);
  REG("device", DeviceOf);
  REG("requiresGrad", RequiresGrad);
  REG("isLeaf", IsLeaf);
  REG("memoryFormat", MemoryFormatOf);
  REG("setRequiresGrad", SetRequiresGrad);
  REG("grad", Grad);
  REG("clearGrad", ClearGrad);
  REG("backward", Backward);
  REG("autogradGrad", AutogradGrad);
  REG("setGradEnabled", SetGradEnabled);
  REG("isGradEnabled", IsGradEnabled);
  REG("autocastCpuEnter", AutocastCpuEnter);
  REG("autocastCpuExit", AutocastCpuExit);
#undef REG
}

}  // namespace dfkd
