// Argument conversion: JS values to libtorch types, each failure a TypeError naming the op and the
// argument; and the message of a libtorch failure (op, argument shapes, libtorch's text).
#include "common.h"

#include <ATen/ScalarOps.h>
#include <torch/csrc/api/include/torch/cuda.h>
#include <sstream>

namespace dfkd {

// ---------------------------------------------------------------- argument helpers

static std::string argName(size_t i) { return "argument " + std::to_string(i); }

at::Tensor& argTensor(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i >= info.Length() || !TensorHandle::IsHandle(info[i])) {
    throw Napi::TypeError::New(info.Env(), std::string(op) + ": " + argName(i) + " must be a tensor");
  }
  return TensorHandle::Get(info.Env(), info[i], op);
}

c10::optional<at::Tensor> argOptTensor(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i >= info.Length() || info[i].IsUndefined() || info[i].IsNull()) return c10::nullopt;
  return argTensor(info, i, op);
}

std::vector<at::Tensor> argTensorList(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i >= info.Length() || !info[i].IsArray()) {
    throw Napi::TypeError::New(info.Env(), std::string(op) + ": " + argName(i) + " must be an array of tensors");
  }
  auto arr = info[i].As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value v = arr.Get(k);
    if (!TensorHandle::IsHandle(v)) {
      throw Napi::TypeError::New(info.Env(), std::string(op) + ": element " + std::to_string(k) + " of " + argName(i) + " is not a tensor");
    }
    out.push_back(TensorHandle::Get(info.Env(), v, op));
  }
  return out;
}

std::vector<int64_t> argInts(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i >= info.Length() || !info[i].IsArray()) {
    throw Napi::TypeError::New(info.Env(), std::string(op) + ": " + argName(i) + " must be an array of integers");
  }
  auto arr = info[i].As<Napi::Array>();
  std::vector<int64_t> out;
  out.reserve(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value v = arr.Get(k);
    if (!v.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(op) + ": " + argName(i) + " must be an array of integers");
    double d = v.As<Napi::Number>().DoubleValue();
    if (d != static_cast<double>(static_cast<int64_t>(d))) {
      throw Napi::TypeError::New(info.Env(), std::string(op) + ": " + argName(i) + " must hold integers, got " + std::to_string(d));
    }
    out.push_back(static_cast<int64_t>(d));
  }
  return out;
}

int64_t argInt(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i >= info.Length() || !info[i].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), std::string(op) + ": " + argName(i) + " must be an integer");
  }
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d))) {
    throw Napi::TypeError::New(info.Env(), std::string(op) + ": " + argName(i) + " must be an integer, got " + std::to_string(d));
  }
  return static_cast<int64_t>(d);
}

double argNum(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i >= info.Length() || !info[i].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), std::string(op) + ": " + argName(i) + " must be a number");
  }
  return info[i].As<Napi::Number>().DoubleValue();
}

c10::optional<double> argOptNum(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i >= info.Length() || info[i].IsUndefined() || info[i].IsNull()) return c10::nullopt;
  return argNum(info, i, op);
}

bool argBool(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i >= info.Length() || !info[i].IsBoolean()) {
    throw Napi::TypeError::New(info.Env(), std::string(op) + ": " + argName(i) + " must be a boolean");
  }
  return info[i].As<Napi::Boolean>().Value();
}

std::string argStr(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i >= info.Length() || !info[i].IsString()) {
    throw Napi::TypeError::New(info.Env(), std::string(op) + ": " + argName(i) + " must be a string");
  }
  return info[i].As<Napi::String>().Utf8Value();
}

at::ScalarType parseDtype(const std::string& s) {
  if (s == "float32") return at::kFloat;
  if (s == "float64") return at::kDouble;
  if (s == "int64") return at::kLong;
  if (s == "int32") return at::kInt;
  if (s == "uint8") return at::kByte;
  if (s == "bool") return at::kBool;
  if (s == "bfloat16") return at::kBFloat16;
  throw std::invalid_argument("unknown dtype '" + s + "' (expected float32, float64, int64, int32, uint8, bool or bfloat16)");
}

std::string dtypeName(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    case at::kBFloat16: return "bfloat16";
    default: return std::string(c10::toString(t));
  }
}

at::Device parseDevice(const std::string& s) {
  at::Device d(s);
  if (d.is_cuda() && !torch::cuda::is_available()) {
    throw std::invalid_argument("device '" + s + "' requested but this dfkd build has no CUDA (built against a CPU-only libtorch, or no GPU is visible); rebuild with DFKD_LIBTORCH pointing at a CUDA-enabled libtorch");
  }
  if (d.is_cuda() && d.has_index() && d.index() >= static_cast<int>(torch::cuda::device_count())) {
    throw std::invalid_argument("device '" + s + "' requested but only " + std::to_string(torch::cuda::device_count()) + " CUDA device(s) are visible");
  }
  return d;
}

at::Tensor argTensorOrScalar(const Napi::CallbackInfo& info, size_t i, const char* op, const at::Tensor& like) {
  // Scalars arrive boxed as a one-element array ([2.5]): a bare number is a tensor handle.
  if (i < info.Length() && info[i].IsArray()) {
    Napi::Array box = info[i].As<Napi::Array>();
    Napi::Value inner = box.Length() == 1 ? box.Get(0u) : Napi::Value();
    if (box.Length() != 1 || !inner.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(op) + ": argument " + std::to_string(i) + " must be a tensor or a number");
    // A "wrapped number" takes part in type promotion like a Python scalar: float32 * 2.5 stays
    // float32, but int64 * 0.5 becomes float (a 0-d tensor of `like`'s dtype truncated 0.5 to 0).
    double v = inner.As<Napi::Number>().DoubleValue();
    bool integral = std::isfinite(v) && v == std::trunc(v) && std::fabs(v) <= 9007199254740992.0;
    c10::Scalar s = integral ? c10::Scalar(static_cast<int64_t>(v)) : c10::Scalar(v);
    return at::native::wrapped_scalar_tensor(s, like.device());
  }
  return argTensor(info, i, op);
}

std::string shapeString(at::IntArrayRef s) {
  std::ostringstream o;
  o << "[";
  for (size_t k = 0; k < s.size(); ++k) o << (k ? "," : "") << s[k];
  o << "]";
  return o.str();
}

std::string describeFailure(const Napi::CallbackInfo& info, const char* op, const std::string& what) {
  std::ostringstream o;
  o << op << ": " << what;
  std::vector<std::string> shapes;
  for (size_t i = 0; i < info.Length(); ++i) {
    if (TensorHandle::IsHandle(info[i])) {
      const at::Tensor* found = TensorHandle::Find(info[i]);
      if (!found) {
        shapes.push_back("<disposed>");
        continue;
      }
      const at::Tensor& t = *found;
      // The device is named only off the CPU, so CPU messages stay as they were.
      shapes.push_back(shapeString(t.sizes()) + " " + dtypeName(t.scalar_type()) + (t.device().is_cpu() ? "" : " " + t.device().str()));
    }
  }
  if (!shapes.empty()) {
    o << " (input shapes: ";
    for (size_t k = 0; k < shapes.size(); ++k) o << (k ? ", " : "") << shapes[k];
    o << ")";
  }
  return o.str();
}

}  // namespace dfkd
