// dfkd native ops: thin wrappers from JS arguments to ATen functions, registered from tables of
// signature families. Validation and documentation of each op live in src/tensor (TypeScript).
#include "common.h"

#include <cmath>

namespace dfkd {

namespace {

using Fn = Napi::Value (*)(const Napi::CallbackInfo&);

at::Reduction::Reduction parseReduction(const std::string& r) {
  if (r == "mean") return at::Reduction::Mean;
  if (r == "sum") return at::Reduction::Sum;
  if (r == "none") return at::Reduction::None;
  throw std::invalid_argument("unknown reduction '" + r + "' (expected mean, sum or none)");
}

bool hasArg(const Napi::CallbackInfo& info, size_t i) {
  return i < info.Length() && !info[i].IsUndefined() && !info[i].IsNull();
}

Napi::Value wrap(const Napi::CallbackInfo& info, at::Tensor t) { return TensorHandle::Wrap(info.Env(), std::move(t)); }

Napi::Value wrapPair(const Napi::CallbackInfo& info, std::tuple<at::Tensor, at::Tensor> p) {
  auto arr = Napi::Array::New(info.Env(), 2);
  arr.Set(0u, TensorHandle::Wrap(info.Env(), std::get<0>(p)));
  arr.Set(1u, TensorHandle::Wrap(info.Env(), std::get<1>(p)));
  return arr;
}

}  // namespace

// ---- unary: f(t)
#define UNARY(NAME, EXPR)                                                   \
  static Napi::Value Op_##NAME(const Napi::CallbackInfo& info) {           \
    DFKD_GUARD(#NAME, {                                                     \
      const at::Tensor& t = argTensor(info, 0, #NAME);                      \
      return wrap(info, EXPR);                                              \
    })                                                                      \
  }
UNARY(neg, at::neg(t))
UNARY(exp, at::exp(t))
UNARY(log, at::log(t))
UNARY(log1p, at::log1p(t))
UNARY(sqrt, at::sqrt(t))
UNARY(rsqrt, at::rsqrt(t))
UNARY(abs, at::abs(t))
UNARY(relu, at::relu(t))
UNARY(sigmoid, at::sigmoid(t))
UNARY(tanh, at::tanh(t))
UNARY(sign, at::sign(t))
UNARY(floor, at::floor(t))
UNARY(ceil, at::ceil(t))
UNARY(round, at::round(t))
UNARY(square, at::square(t))
UNARY(reciprocal, at::reciprocal(t))
UNARY(sin, at::sin(t))
UNARY(cos, at::cos(t))
UNARY(contiguous, t.contiguous())
// PyTorch's `.to(memory_format=torch.channels_last)`: a tensor libtorch already reads as channels-last is
// returned as it is; any other is copied into channels-last strides. `contiguous(ChannelsLast)` would leave an
// ambiguous tensor alone (a [16,1,3,3] weight is "contiguous" in both orders), and a convolution with such a
// weight returns NCHW: the first layer of every one-channel network then ran in the slow order.
UNARY(channelsLast, t.to(t.options(), false, false, at::MemoryFormat::ChannelsLast))
// PyTorch's `.to(memory_format=torch.contiguous_format)`: the way back from channelsLast, which copies an
// ambiguous channels-last tensor into NCHW strides where `contiguous()` would keep it as it is.
UNARY(contiguousFormat, t.to(t.options(), false, false, at::MemoryFormat::Contiguous))
UNARY(clone, t.clone())
UNARY(detach, t.detach())
UNARY(isnan, at::isnan(t))
UNARY(isfinite, at::isfinite(t))
UNARY(logicalNot, at::logical_not(t))
UNARY(nonzero, at::nonzero(t))
UNARY(all, at::all(t))
UNARY(any, at::any(t))
#undef UNARY

// ---- binary: f(a, b) where b may be a JS number
#define BINARY(NAME, EXPR)                                                  \
  static Napi::Value Op_##NAME(const Napi::CallbackInfo& info) {           \
    DFKD_GUARD(#NAME, {                                                     \
      const at::Tensor& a = argTensor(info, 0, #NAME);                      \
      at::Tensor b = argTensorOrScalar(info, 1, #NAME, a);                  \
      return wrap(info, EXPR);                                              \
    })                                                                      \
  }
BINARY(add, at::add(a, b))
BINARY(sub, at::sub(a, b))
BINARY(mul, at::mul(a, b))
BINARY(div, at::div(a, b))
BINARY(pow, at::pow(a, b))
BINARY(maximum, at::maximum(a, b))
BINARY(minimum, at::minimum(a, b))
BINARY(eq, at::eq(a, b))
BINARY(ne, at::ne(a, b))
BINARY(lt, at::lt(a, b))
BINARY(le, at::le(a, b))
BINARY(gt, at::gt(a, b))
BINARY(ge, at::ge(a, b))
BINARY(logicalAnd, at::logical_and(a, b))
BINARY(logicalOr, at::logical_or(a, b))
BINARY(matmul, at::matmul(a, b))
#undef BINARY

// equal(a, b) -> boolean: same shape and bit-identical values
static Napi::Value Op_equal(const Napi::CallbackInfo& info) {
  DFKD_GUARD("equal", {
    const at::Tensor& a = argTensor(info, 0, "equal");
    const at::Tensor& b = argTensor(info, 1, "equal");
    return Napi::Boolean::New(info.Env(), a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() && at::equal(a, b));
  })
}

// ---- in-place updates (used by optimizers under noGrad); return undefined
static Napi::Value Op_addInplace(const Napi::CallbackInfo& info) {  // t += alpha * other
  DFKD_GUARD("add_", {
    at::Tensor& t = argTensor(info, 0, "add_");
    at::Tensor o = argTensorOrScalar(info, 1, "add_", t);
    double alpha = hasArg(info, 2) ? argNum(info, 2, "add_") : 1.0;
    // An integral alpha is passed as an integer Scalar so that int tensors accept add_/sub_.
    bool integral = std::isfinite(alpha) && std::fabs(alpha) <= 9007199254740992.0 && alpha == std::trunc(alpha);
    t.add_(o, integral ? c10::Scalar(static_cast<int64_t>(alpha)) : c10::Scalar(alpha));
    return info.Env().Undefined();
  })
}
static Napi::Value Op_mulInplace(const Napi::CallbackInfo& info) {
  DFKD_GUARD("mul_", {
    at::Tensor& t = argTensor(info, 0, "mul_");
    t.mul_(argTensorOrScalar(info, 1, "mul_", t));
    return info.Env().Undefined();
  })
}
static Napi::Value Op_divInplace(const Napi::CallbackInfo& info) {
  DFKD_GUARD("div_", {
    at::Tensor& t = argTensor(info, 0, "div_");
    t.div_(argTensorOrScalar(info, 1, "div_", t));
    return info.Env().Undefined();
  })
}
static Napi::Value Op_addcmulInplace(const Napi::CallbackInfo& info) {  // t += value * a * b
  DFKD_GUARD("addcmul_", {
    at::Tensor& t = argTensor(info, 0, "addcmul_");
    t.addcmul_(argTensor(info, 1, "addcmul_"), argTensor(info, 2, "addcmul_"), argNum(info, 3, "addcmul_"));
    return info.Env().Undefined();
  })
}
static Napi::Value Op_addcdivInplace(const Napi::CallbackInfo& info) {  // t += value * a / b
  DFKD_GUARD("addcdiv_", {
    at::Tensor& t = argTensor(info, 0, "addcdiv_");
    t.addcdiv_(argTensor(info, 1, "addcdiv_"), argTensor(info, 2, "addcdiv_"), argNum(info, 3, "addcdiv_"));
    return info.Env().Undefined();
  })
}
static Napi::Value Op_copyInplace(const Napi::CallbackInfo& info) {
  DFKD_GUARD("copy_", {
    at::Tensor& t = argTensor(info, 0, "copy_");
    const at::Tensor& s = argTensor(info, 1, "copy_");
    if (t.sizes() != s.sizes()) throw std::invalid_argument("copy_: shapes differ");
    t.copy_(s);
    return info.Env().Undefined();
  })
}
static Napi::Value Op_zeroInplace(const Napi::CallbackInfo& info) {
  DFKD_GUARD("zero_", { argTensor(info, 0, "zero_").zero_(); return info.Env().Undefined(); })
}
static Napi::Value Op_fillInplace(const Napi::CallbackInfo& info) {
  DFKD_GUARD("fill_", { argTensor(info, 0, "fill_").fill_(argNum(info, 1, "fill_")); return info.Env().Undefined(); })
}
static Napi::Value Op_clampInplace(const Napi::CallbackInfo& info) {
  DFKD_GUARD("clamp_", {
    at::Tensor& t = argTensor(info, 0, "clamp_");
    c10::optional<at::Scalar> lo, hi;
    if (hasArg(info, 1)) lo = argNum(info, 1, "clamp_");
    if (hasArg(info, 2)) hi = argNum(info, 2, "clamp_");
    t.clamp_(lo, hi);
    return info.Env().Undefined();
  })
}
static Napi::Value Op_leakyReluInplace(const Napi::CallbackInfo& info) {
  DFKD_GUARD("leakyRelu_", {
    at::leaky_relu_(argTensor(info, 0, "leakyRelu_"), argNum(info, 1, "leakyRelu_"));
    return info.Env().Undefined();
  })
}
static Napi::Value Op_uniformInplace(const Napi::CallbackInfo& info) {
  DFKD_GUARD("uniform_", {
    argTensor(info, 0, "uniform_").uniform_(argNum(info, 1, "uniform_"), argNum(info, 2, "uniform_"));
    return info.Env().Undefined();
  })
}
static Napi::Value Op_normalInplace(const Napi::CallbackInfo& info) {
  DFKD_GUARD("normal_", {
    argTensor(info, 0, "normal_").normal_(argNum(info, 1, "normal_"), argNum(info, 2, "normal_"));
    return info.Env().Undefined();
  })
}

// ---- reductions: f(t, dims?, keepdim?)
#define REDUCE(NAME, ALL, DIMS)                                                       \
  static Napi::Value Op_##NAME(const Napi::CallbackInfo& info) {                     \
    DFKD_GUARD(#NAME, {                                                               \
      const at::Tensor& t = argTensor(info, 0, #NAME);                                \
      bool keepdim = hasArg(info, 2) && argBool(info, 2, #NAME);                      \
      if (!hasArg(info, 1)) return wrap(info, ALL);                                   \
      std::vector<int64_t> dims = argInts(info, 1, #NAME);                            \
      return wrap(info, DIMS);                                                        \
    })                                                                                \
  }
REDUCE(sum, at::sum(t), at::sum(t, dims, keepdim))
REDUCE(mean, at::mean(t), at::mean(t, dims, keepdim))
REDUCE(amax, at::amax(t, at::IntArrayRef{}), at::amax(t, dims, keepdim))
REDUCE(amin, at::amin(t, at::IntArrayRef{}), at::amin(t, dims, keepdim))
REDUCE(logsumexp, at::logsumexp(t.reshape({-1}), {0}), at::logsumexp(t, dims, keepdim))
#undef REDUCE

// var/std(t, dims?, unbiased, keepdim)
static Napi::Value Op_var(const Napi::CallbackInfo& info) {
  DFKD_GUARD("var", {
    const at::Tensor& t = argTensor(info, 0, "var");
    bool unbiased = !hasArg(info, 2) || argBool(info, 2, "var");
    bool keepdim = hasArg(info, 3) && argBool(info, 3, "var");
    if (!hasArg(info, 1)) return wrap(info, at::var(t, unbiased));
    return wrap(info, at::var(t, argInts(info, 1, "var"), unbiased, keepdim));
  })
}
static Napi::Value Op_std(const Napi::CallbackInfo& info) {
  DFKD_GUARD("std", {
    const at::Tensor& t = argTensor(info, 0, "std");
    bool unbiased = !hasArg(info, 2) || argBool(info, 2, "std");
    bool keepdim = hasArg(info, 3) && argBool(info, 3, "std");
    if (!hasArg(info, 1)) return wrap(info, at::std(t, unbiased));
    return wrap(info, at::std(t, argInts(info, 1, "std"), unbiased, keepdim));
  })
}
// norm(t, p, dims?, keepdim)
static Napi::Value Op_norm(const Napi::CallbackInfo& info) {
  DFKD_GUARD("norm", {
    const at::Tensor& t = argTensor(info, 0, "norm");
    double p = argNum(info, 1, "norm");
    bool keepdim = hasArg(info, 3) && argBool(info, 3, "norm");
    if (!hasArg(info, 2)) return wrap(info, at::norm(t, p));
    return wrap(info, at::norm(t, p, argInts(info, 2, "norm"), keepdim));
  })
}
// max/min(t, dim, keepdim) -> [values, indices]
static Napi::Value Op_maxDim(const Napi::CallbackInfo& info) {
  DFKD_GUARD("max", { return wrapPair(info, at::max(argTensor(info, 0, "max"), argInt(info, 1, "max"), hasArg(info, 2) && argBool(info, 2, "max"))); })
}
static Napi::Value Op_minDim(const Napi::CallbackInfo& info) {
  DFKD_GUARD("min", { return wrapPair(info, at::min(argTensor(info, 0, "min"), argInt(info, 1, "min"), hasArg(info, 2) && argBool(info, 2, "min"))); })
}
// argmax/argmin(t, dim?, keepdim)
static Napi::Value Op_argmax(const Napi::CallbackInfo& info) {
  DFKD_GUARD("argmax", {
    const at::Tensor& t = argTensor(info, 0, "argmax");
    c10::optional<int64_t> dim;
    if (hasArg(info, 1)) dim = argInt(info, 1, "argmax");
    return wrap(info, at::argmax(t, dim, hasArg(info, 2) && argBool(info, 2, "argmax")));
  })
}
static Napi::Value Op_argmin(const Napi::CallbackInfo& info) {
  DFKD_GUARD("argmin", {
    const at::Tensor& t = argTensor(info, 0, "argmin");
    c10::optional<int64_t> dim;
    if (hasArg(info, 1)) dim = argInt(info, 1, "argmin");
    return wrap(info, at::argmin(t, dim, hasArg(info, 2) && argBool(info, 2, "argmin")));
  })
}
// topk(t, k, dim, largest) -> [values, indices]; sort(t, dim, descending) -> [values, indices]
static Napi::Value Op_topk(const Napi::CallbackInfo& info) {
  DFKD_GUARD("topk", {
    return wrapPair(info, at::topk(argTensor(info, 0, "topk"), argInt(info, 1, "topk"), argInt(info, 2, "topk"), argBool(info, 3, "topk"), true));
  })
}
static Napi::Value Op_sort(const Napi::CallbackInfo& info) {
  DFKD_GUARD("sort", { return wrapPair(info, at::sort(argTensor(info, 0, "sort"), argInt(info, 1, "sort"), argBool(info, 2, "sort"))); })
}

// ---- shape and indexing
static Napi::Value Op_reshape(const Napi::CallbackInfo& info) {
  DFKD_GUARD("reshape", { return wrap(info, at::reshape(argTensor(info, 0, "reshape"), argInts(info, 1, "reshape"))); })
}
static Napi::Value Op_view(const Napi::CallbackInfo& info) {
  DFKD_GUARD("view", { return wrap(info, argTensor(info, 0, "view").view(argInts(info, 1, "view"))); })
}
static Napi::Value Op_permute(const Napi::CallbackInfo& info) {
  DFKD_GUARD("permute", { return wrap(info, argTensor(info, 0, "permute").permute(argInts(info, 1, "permute"))); })
}
static Napi::Value Op_transpose(const Napi::CallbackInfo& info) {
  DFKD_GUARD("transpose", { return wrap(info, at::transpose(argTensor(info, 0, "transpose"), argInt(info, 1, "transpose"), argInt(info, 2, "transpose"))); })
}
static Napi::Value Op_flatten(const Napi::CallbackInfo& info) {
  DFKD_GUARD("flatten", { return wrap(info, at::flatten(argTensor(info, 0, "flatten"), argInt(info, 1, "flatten"), argInt(info, 2, "flatten"))); })
}
static Napi::Value Op_squeeze(const Napi::CallbackInfo& info) {
  DFKD_GUARD("squeeze", {
    const at::Tensor& t = argTensor(info, 0, "squeeze");
    return wrap(info, hasArg(info, 1) ? at::squeeze(t, argInt(info, 1, "squeeze")) : at::squeeze(t));
  })
}
static Napi::Value Op_unsqueeze(const Napi::CallbackInfo& info) {
  DFKD_GUARD("unsqueeze", { return wrap(info, at::unsqueeze(argTensor(info, 0, "unsqueeze"), argInt(info, 1, "unsqueeze"))); })
}
static Napi::Value Op_expand(const Napi::CallbackInfo& info) {
  DFKD_GUARD("expand", { return wrap(info, argTensor(info, 0, "expand").expand(argInts(info, 1, "expand"))); })
}
static Napi::Value Op_repeat(const Napi::CallbackInfo& info) {
  DFKD_GUARD("repeat", { return wrap(info, argTensor(info, 0, "repeat").repeat(argInts(info, 1, "repeat"))); })
}
static Napi::Value Op_flip(const Napi::CallbackInfo& info) {
  DFKD_GUARD("flip", { return wrap(info, at::flip(argTensor(info, 0, "flip"), argInts(info, 1, "flip"))); })
}
static Napi::Value Op_cat(const Napi::CallbackInfo& info) {
  DFKD_GUARD("cat", { return wrap(info, at::cat(argTensorList(info, 0, "cat"), argInt(info, 1, "cat"))); })
}
static Napi::Value Op_stack(const Napi::CallbackInfo& info) {
  DFKD_GUARD("stack", { return wrap(info, at::stack(argTensorList(info, 0, "stack"), argInt(info, 1, "stack"))); })
}
static Napi::Value Op_narrow(const Napi::CallbackInfo& info) {
  DFKD_GUARD("narrow", { return wrap(info, at::narrow(argTensor(info, 0, "narrow"), argInt(info, 1, "narrow"), argInt(info, 2, "narrow"), argInt(info, 3, "narrow"))); })
}
static Napi::Value Op_select(const Napi::CallbackInfo& info) {
  DFKD_GUARD("select", { return wrap(info, at::select(argTensor(info, 0, "select"), argInt(info, 1, "select"), argInt(info, 2, "select"))); })
}
// slice(t, dim, start, end, step)
static Napi::Value Op_slice(const Napi::CallbackInfo& info) {
  DFKD_GUARD("slice", {
    return wrap(info, at::slice(argTensor(info, 0, "slice"), argInt(info, 1, "slice"), argInt(info, 2, "slice"), argInt(info, 3, "slice"), argInt(info, 4, "slice")));
  })
}
static Napi::Value Op_indexSelect(const Napi::CallbackInfo& info) {
  DFKD_GUARD("indexSelect", { return wrap(info, at::index_select(argTensor(info, 0, "indexSelect"), argInt(info, 1, "indexSelect"), argTensor(info, 2, "indexSelect"))); })
}
static Napi::Value Op_maskedSelect(const Napi::CallbackInfo& info) {
  DFKD_GUARD("maskedSelect", { return wrap(info, at::masked_select(argTensor(info, 0, "maskedSelect"), argTensor(info, 1, "maskedSelect"))); })
}
static Napi::Value Op_gather(const Napi::CallbackInfo& info) {
  DFKD_GUARD("gather", { return wrap(info, at::gather(argTensor(info, 0, "gather"), argInt(info, 1, "gather"), argTensor(info, 2, "gather"))); })
}
static Napi::Value Op_where(const Napi::CallbackInfo& info) {
  DFKD_GUARD("where", {
    const at::Tensor& c = argTensor(info, 0, "where");
    const at::Tensor& a = argTensor(info, 1, "where");
    at::Tensor b = argTensorOrScalar(info, 2, "where", a);
    return wrap(info, at::where(c, a, b));
  })
}
// pad(t, pads, value): constant padding, pads as in torch.nn.functional.pad (last dim first)
static Napi::Value Op_pad(const Napi::CallbackInfo& info) {
  DFKD_GUARD("pad", { return wrap(info, at::constant_pad_nd(argTensor(info, 0, "pad"), argInts(info, 1, "pad"), hasArg(info, 2) ? argNum(info, 2, "pad") : 0.0)); })
}
static Napi::Value Op_oneHot(const Napi::CallbackInfo& info) {
  DFKD_GUARD("oneHot", { return wrap(info, at::one_hot(argTensor(info, 0, "oneHot"), argInt(info, 1, "oneHot"))); })
}
// to(t, dtype?, device?)
static Napi::Value Op_to(const Napi::CallbackInfo& info) {
  DFKD_GUARD("to", {
    at::Tensor t = argTensor(info, 0, "to");
    if (hasArg(info, 2)) t = t.to(parseDevice(argStr(info, 2, "to")));
    if (hasArg(info, 1)) t = t.to(parseDtype(argStr(info, 1, "to")));
    return wrap(info, t);
  })
}
// setData(t, src): t now holds src's data (device, dtype and storage), keeping t's identity and its
// requires_grad flag, like PyTorch's `param.data = src` (what nn.Module.to does to parameters).
// Its gradient is dropped: a gradient on the old device cannot accumulate with the new data.
static Napi::Value Op_setData(const Napi::CallbackInfo& info) {
  DFKD_GUARD("setData", {
    at::Tensor& t = argTensor(info, 0, "setData");
    const at::Tensor& s = argTensor(info, 1, "setData");
    if (t.sizes() != s.sizes()) throw std::invalid_argument("setData: shapes differ");
    // Same dtype keeps the registry's byte count of t right.
    if (t.scalar_type() != s.scalar_type()) throw std::invalid_argument("setData: dtypes differ (" + dtypeName(t.scalar_type()) + " vs " + dtypeName(s.scalar_type()) + ")");
    if (t.grad().defined()) t.mutable_grad() = at::Tensor();
    t.set_data(s.detach());
    return info.Env().Undefined();
  })
}
static Napi::Value Op_clamp(const Napi::CallbackInfo& info) {
  DFKD_GUARD("clamp", {
    c10::optional<at::Scalar> lo, hi;
    if (hasArg(info, 1)) lo = argNum(info, 1, "clamp");
    if (hasArg(info, 2)) hi = argNum(info, 2, "clamp");
    return wrap(info, at::clamp(argTensor(info, 0, "clamp"), lo, hi));
  })
}

// ---- neural-network functional ops
static Napi::Value Op_linear(const Napi::CallbackInfo& info) {
  DFKD_GUARD("linear", { return wrap(info, at::linear(argTensor(info, 0, "linear"), argTensor(info, 1, "linear"), argOptTensor(info, 2, "linear"))); })
}
// conv2d(x, w, b?, stride[2], padding[2], dilation[2], groups)
static Napi::Value Op_conv2d(const Napi::CallbackInfo& info) {
  DFKD_GUARD("conv2d", {
    return wrap(info, at::conv2d(argTensor(info, 0, "conv2d"), argTensor(info, 1, "conv2d"), argOptTensor(info, 2, "conv2d"),
                                 argInts(info, 3, "conv2d"), argInts(info, 4, "conv2d"), argInts(info, 5, "conv2d"), argInt(info, 6, "conv2d")));
  })
}
// batchNorm(x, weight?, bias?, runningMean?, runningVar?, training, momentum, eps)
static Napi::Value Op_batchNorm(const Napi::CallbackInfo& info) {
  DFKD_GUARD("batchNorm", {
    return wrap(info, at::batch_norm(argTensor(info, 0, "batchNorm"), argOptTensor(info, 1, "batchNorm"), argOptTensor(info, 2, "batchNorm"),
                                     argOptTensor(info, 3, "batchNorm"), argOptTensor(info, 4, "batchNorm"), argBool(info, 5, "batchNorm"),
                                     argNum(info, 6, "batchNorm"), argNum(info, 7, "batchNorm"), true));
  })
}
// maxPool2d(x, kernel[2], stride[2], padding[2]); avgPool2d same
static Napi::Value Op_maxPool2d(const Napi::CallbackInfo& info) {
  DFKD_GUARD("maxPool2d", {
    return wrap(info, at::max_pool2d(argTensor(info, 0, "maxPool2d"), argInts(info, 1, "maxPool2d"), argInts(info, 2, "maxPool2d"), argInts(info, 3, "maxPool2d"), {1, 1}, false));
  })
}
static Napi::Value Op_avgPool2d(const Napi::CallbackInfo& info) {
  DFKD_GUARD("avgPool2d", {
    return wrap(info, at::avg_pool2d(argTensor(info, 0, "avgPool2d"), argInts(info, 1, "avgPool2d"), argInts(info, 2, "avgPool2d"), argInts(info, 3, "avgPool2d"), false, true, c10::nullopt));
  })
}
static Napi::Value Op_adaptiveAvgPool2d(const Napi::CallbackInfo& info) {
  DFKD_GUARD("adaptiveAvgPool2d", { return wrap(info, at::adaptive_avg_pool2d(argTensor(info, 0, "adaptiveAvgPool2d"), argInts(info, 1, "adaptiveAvgPool2d"))); })
}
// upsampleNearest2d(x, size[2]); upsampleBilinear2d(x, size[2], alignCorners)
static Napi::Value Op_upsampleNearest2d(const Napi::CallbackInfo& info) {
  DFKD_GUARD("upsampleNearest2d", { return wrap(info, at::upsample_nearest2d(argTensor(info, 0, "upsampleNearest2d"), argInts(info, 1, "upsampleNearest2d"))); })
}
static Napi::Value Op_upsampleBilinear2d(const Napi::CallbackInfo& info) {
  DFKD_GUARD("upsampleBilinear2d", {
    return wrap(info, at::upsample_bilinear2d(argTensor(info, 0, "upsampleBilinear2d"), argInts(info, 1, "upsampleBilinear2d"), argBool(info, 2, "upsampleBilinear2d")));
  })
}
static Napi::Value Op_leakyRelu(const Napi::CallbackInfo& info) {
  DFKD_GUARD("leakyRelu", { return wrap(info, at::leaky_relu(argTensor(info, 0, "leakyRelu"), argNum(info, 1, "leakyRelu"))); })
}
static Napi::Value Op_dropout(const Napi::CallbackInfo& info) {
  DFKD_GUARD("dropout", { return wrap(info, at::dropout(argTensor(info, 0, "dropout"), argNum(info, 1, "dropout"), argBool(info, 2, "dropout"))); })
}
static Napi::Value Op_softmax(const Napi::CallbackInfo& info) {
  DFKD_GUARD("softmax", { return wrap(info, at::softmax(argTensor(info, 0, "softmax"), argInt(info, 1, "softmax"))); })
}
static Napi::Value Op_logSoftmax(const Napi::CallbackInfo& info) {
  DFKD_GUARD("logSoftmax", { return wrap(info, at::log_softmax(argTensor(info, 0, "logSoftmax"), argInt(info, 1, "logSoftmax"))); })
}
// crossEntropy(logits, target, reduction, labelSmoothing): target int64 class indices or float probabilities
static Napi::Value Op_crossEntropy(const Napi::CallbackInfo& info) {
  DFKD_GUARD("crossEntropy", {
    return wrap(info, at::cross_entropy_loss(argTensor(info, 0, "crossEntropy"), argTensor(info, 1, "crossEntropy"), c10::nullopt,
                                             parseReduction(argStr(info, 2, "crossEntropy")), -100, argNum(info, 3, "crossEntropy")));
  })
}
static Napi::Value Op_nllLoss(const Napi::CallbackInfo& info) {
  DFKD_GUARD("nllLoss", {
    return wrap(info, at::nll_loss(argTensor(info, 0, "nllLoss"), argTensor(info, 1, "nllLoss"), c10::nullopt, parseReduction(argStr(info, 2, "nllLoss")), -100));
  })
}
// klDiv(input(log-probs), target, reduction, logTarget)
static Napi::Value Op_klDiv(const Napi::CallbackInfo& info) {
  DFKD_GUARD("klDiv", {
    return wrap(info, at::kl_div(argTensor(info, 0, "klDiv"), argTensor(info, 1, "klDiv"), parseReduction(argStr(info, 2, "klDiv")), argBool(info, 3, "klDiv")));
  })
}
static Napi::Value Op_l1Loss(const Napi::CallbackInfo& info) {
  DFKD_GUARD("l1Loss", { return wrap(info, at::l1_loss(argTensor(info, 0, "l1Loss"), argTensor(info, 1, "l1Loss"), parseReduction(argStr(info, 2, "l1Loss")))); })
}
static Napi::Value Op_mseLoss(const Napi::CallbackInfo& info) {
  DFKD_GUARD("mseLoss", { return wrap(info, at::mse_loss(argTensor(info, 0, "mseLoss"), argTensor(info, 1, "mseLoss"), parseReduction(argStr(info, 2, "mseLoss")))); })
}

void registerOps(Napi::Env env, Napi::Object exports) {
  struct Entry { const char* name; Fn fn; };
  static const Entry table[] = {
#define E(NAME) {#NAME, Op_##NAME}
      E(neg), E(exp), E(log), E(log1p), E(sqrt), E(rsqrt), E(abs), E(relu), E(sigmoid), E(tanh), E(sign), E(floor), E(ceil),
      E(round), E(square), E(reciprocal), E(sin), E(cos), E(contiguous), E(channelsLast), E(contiguousFormat), E(clone), E(detach), E(isnan), E(isfinite),
      E(logicalNot), E(nonzero), E(all), E(any),
      E(add), E(sub), E(mul), E(div), E(pow), E(maximum), E(minimum), E(eq), E(ne), E(lt), E(le), E(gt), E(ge),
      E(logicalAnd), E(logicalOr), E(matmul), E(equal),
      {"add_", Op_addInplace}, {"mul_", Op_mulInplace}, {"div_", Op_divInplace}, {"addcmul_", Op_addcmulInplace},
      {"addcdiv_", Op_addcdivInplace}, {"copy_", Op_copyInplace}, {"zero_", Op_zeroInplace}, {"fill_", Op_fillInplace},
      {"clamp_", Op_clampInplace}, {"leakyRelu_", Op_leakyReluInplace}, {"uniform_", Op_uniformInplace}, {"normal_", Op_normalInplace},
      E(sum), E(mean), E(amax), E(amin), E(logsumexp), E(var), E(std), E(norm), {"max", Op_maxDim}, {"min", Op_minDim},
      E(argmax), E(argmin), E(topk), E(sort),
      E(reshape), E(view), E(permute), E(transpose), E(flatten), E(squeeze), E(unsqueeze), E(expand), E(repeat), E(flip),
      E(cat), E(stack), E(narrow), E(select), E(slice), E(indexSelect), E(maskedSelect), E(gather), E(where), E(pad),
      E(oneHot), E(to), E(setData), E(clamp),
      E(linear), E(conv2d), E(batchNorm), E(maxPool2d), E(avgPool2d), E(adaptiveAvgPool2d), E(upsampleNearest2d),
      E(upsampleBilinear2d), E(leakyRelu), E(dropout), E(softmax), E(logSoftmax), E(crossEntropy), E(nllLoss), E(klDiv),
      E(l1Loss), E(mseLoss),
#undef E
  };
  for (const auto& e : table) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
}

}  // namespace dfkd
