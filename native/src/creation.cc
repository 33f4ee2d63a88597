// Tensor creation (factories, random tensors) and data transfer between JS typed arrays and tensors.
#include "common.h"

#include <cstring>

namespace dfkd {

// ---------------------------------------------------------------- creation and data transfer

static at::TensorOptions optionsFrom(const Napi::CallbackInfo& info, size_t dtypeIdx, size_t deviceIdx, const char* op) {
  at::TensorOptions o = at::TensorOptions().dtype(at::kFloat);
  if (dtypeIdx < info.Length() && info[dtypeIdx].IsString()) o = o.dtype(parseDtype(argStr(info, dtypeIdx, op)));
  if (deviceIdx < info.Length() && info[deviceIdx].IsString()) o = o.device(parseDevice(argStr(info, deviceIdx, op)));
  return o;
}

// fromArray(typedArray, shape, dtype?, device?)
static Napi::Value FromArray(const Napi::CallbackInfo& info) {
  DFKD_GUARD("fromArray", {
    if (info.Length() < 2 || !info[0].IsTypedArray()) throw Napi::TypeError::New(info.Env(), "fromArray: argument 0 must be a typed array");
    auto ta = info[0].As<Napi::TypedArray>();
    auto shape = argInts(info, 1, "fromArray");
    at::ScalarType src;
    switch (ta.TypedArrayType()) {
      case napi_float32_array: src = at::kFloat; break;
      case napi_float64_array: src = at::kDouble; break;
      case napi_int32_array: src = at::kInt; break;
      case napi_bigint64_array: src = at::kLong; break;
      case napi_uint8_array: src = at::kByte; break;
      default: throw Napi::TypeError::New(info.Env(), "fromArray: unsupported typed array (use Float32Array, Float64Array, Int32Array, BigInt64Array or Uint8Array)");
    }
    int64_t n = 1;
    for (auto d : shape) {
      if (d < 0) throw Napi::RangeError::New(info.Env(), "fromArray: negative dimension in shape");
      n *= d;
    }
    if (n != static_cast<int64_t>(ta.ElementLength())) {
      throw Napi::RangeError::New(info.Env(), "fromArray: shape " + shapeString(shape) + " holds " + std::to_string(n) +
                                                  " elements but the array has " + std::to_string(ta.ElementLength()));
    }
    auto buf = ta.ArrayBuffer();
    uint8_t* ptr = static_cast<uint8_t*>(buf.Data()) + ta.ByteOffset();
    // The JS data is copied into a CPU tensor first (data_ptr of a CPU tensor), then converted and
    // moved to the target device; never memcpy into device memory.
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(src).device(at::kCPU));
    if (n > 0) std::memcpy(t.data_ptr(), ptr, static_cast<size_t>(n) * t.element_size());
    at::TensorOptions target = optionsFrom(info, 2, 3, "fromArray");
    if (info.Length() > 2 && info[2].IsString()) t = t.to(target.dtype().toScalarType());
    if (info.Length() > 3 && info[3].IsString()) t = t.to(target.device());
    return TensorHandle::Wrap(info.Env(), t);
  })
}

// toArray(t): a copy of the data (copied to the CPU first, so any device works) as a typed array (float32 -> Float32Array, float64 -> Float64Array,
// int32 -> Int32Array, int64 -> BigInt64Array, uint8/bool -> Uint8Array).
static Napi::Value ToArray(const Napi::CallbackInfo& info) {
  DFKD_GUARD("toArray", {
    at::Tensor t = argTensor(info, 0, "toArray").detach().to(at::kCPU).contiguous();
    if (t.scalar_type() == at::kBool) t = t.to(at::kByte);
    size_t n = static_cast<size_t>(t.numel());
    size_t bytes = n * t.element_size();
    auto ab = Napi::ArrayBuffer::New(info.Env(), bytes);
    if (bytes) std::memcpy(ab.Data(), t.data_ptr(), bytes);
    switch (t.scalar_type()) {
      case at::kFloat: return Napi::Float32Array::New(info.Env(), n, ab, 0);
      case at::kDouble: return Napi::Float64Array::New(info.Env(), n, ab, 0);
      case at::kInt: return Napi::Int32Array::New(info.Env(), n, ab, 0);
      case at::kLong: return Napi::BigInt64Array::New(info.Env(), n, ab, 0);
      case at::kByte: return Napi::Uint8Array::New(info.Env(), n, ab, 0);
      default: throw std::invalid_argument("toArray: unsupported dtype " + dtypeName(t.scalar_type()));
    }
  })
}

static Napi::Value Item(const Napi::CallbackInfo& info) {
  DFKD_GUARD("item", {
    at::Tensor& t = argTensor(info, 0, "item");
    if (t.numel() != 1) throw std::invalid_argument("item: tensor has " + std::to_string(t.numel()) + " elements, expected exactly 1");
    return Napi::Number::New(info.Env(), t.item().toDouble());
  })
}

// zeros/ones/empty/rand/randn(shape, dtype?, device?)
#define DFKD_FACTORY(NAME, FN)                                                              \
  static Napi::Value NAME(const Napi::CallbackInfo& info) {                                \
    DFKD_GUARD(#FN, {                                                                       \
      auto shape = argInts(info, 0, #FN);                                                   \
      return TensorHandle::Wrap(info.Env(), at::FN(shape, optionsFrom(info, 1, 2, #FN)));   \
    })                                                                                      \
  }
DFKD_FACTORY(Zeros, zeros)
DFKD_FACTORY(Ones, ones)
DFKD_FACTORY(Empty, empty)
DFKD_FACTORY(Rand, rand)
DFKD_FACTORY(Randn, randn)

// full(shape, value, dtype?, device?)
static Napi::Value Full(const Napi::CallbackInfo& info) {
  DFKD_GUARD("full", {
    auto shape = argInts(info, 0, "full");
    double v = argNum(info, 1, "full");
    return TensorHandle::Wrap(info.Env(), at::full(shape, v, optionsFrom(info, 2, 3, "full")));
  })
}

// arange(start, end, step, dtype?, device?)
static Napi::Value Arange(const Napi::CallbackInfo& info) {
  DFKD_GUARD("arange", {
    double a = argNum(info, 0, "arange"), b = argNum(info, 1, "arange"), s = argNum(info, 2, "arange");
    return TensorHandle::Wrap(info.Env(), at::arange(a, b, s, optionsFrom(info, 3, 4, "arange")));
  })
}

// randint(low, high, shape, device?) -> int64
static Napi::Value Randint(const Napi::CallbackInfo& info) {
  DFKD_GUARD("randint", {
    int64_t lo = argInt(info, 0, "randint"), hi = argInt(info, 1, "randint");
    auto shape = argInts(info, 2, "randint");
    auto o = at::TensorOptions().dtype(at::kLong);
    if (info.Length() > 3 && info[3].IsString()) o = o.device(parseDevice(argStr(info, 3, "randint")));
    return TensorHandle::Wrap(info.Env(), at::randint(lo, hi, shape, o));
  })
}

// randperm(n, device?) -> int64
static Napi::Value Randperm(const Napi::CallbackInfo& info) {
  DFKD_GUARD("randperm", {
    int64_t n = argInt(info, 0, "randperm");
    auto o = at::TensorOptions().dtype(at::kLong);
    if (info.Length() > 1 && info[1].IsString()) o = o.device(parseDevice(argStr(info, 1, "randperm")));
    return TensorHandle::Wrap(info.Env(), at::randperm(n, o));
  })
}

void registerCreation(Napi::Env env, Napi::Object exports) {
#define REG(name, fn) exports.Set(name, Napi::Function::New(env, fn, name))
  REG("fromArray", FromArray);
  REG("toArray", ToArray);
  REG("item", Item);
  REG("zeros", Zeros);
  REG("ones", Ones);
  REG("empty", Empty);
  REG("rand", Rand);
  REG("randn", Randn);
  REG("full", Full);
  REG("arange", Arange);
  REG("randint", Randint);
  REG("randperm", Randperm);
#undef REG
}

}  // namespace dfkd
