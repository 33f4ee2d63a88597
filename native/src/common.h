// Shared declarations of the dfkd native binding: a handle class around at::Tensor and the
// argument helpers every op uses. Nothing here knows about models or distillation.
#pragma once
#include <napi.h>
#include <ATen/ATen.h>
#include <string>
#include <vector>

namespace dfkd {

// The tensor registry. JavaScript holds a tensor as a plain number (an id >= 2^40, never reused);
// the registry owns the at::Tensor. There is no per-tensor JS wrapper object and no finalizer, so
// dispose() frees native memory at once and nothing waits for the garbage collector or the event
// loop (N-API ObjectWrap finalizers only run when the event loop turns, which made synchronous
// training loops grow without bound). The TypeScript layer adds a FinalizationRegistry as the
// safety net for tensors nobody disposed. Main thread only.
class TensorHandle {
 public:
  static Napi::Value Wrap(Napi::Env env, at::Tensor t);
  static bool IsHandle(const Napi::Value& v);
  // The tensor behind a handle value; throws "tensor has been disposed" for a released id.
  static at::Tensor& Get(Napi::Env env, const Napi::Value& v, const char* what);
  static bool Release(Napi::Env env, const Napi::Value& v);
  // The tensor behind a handle value, or nullptr when it has been disposed (never throws).
  static const at::Tensor* Find(const Napi::Value& v);
  static size_t LiveCount();
  static int64_t LiveBytes();
};

// Argument helpers: each throws a JS TypeError naming the op and argument when the value is wrong.
at::Tensor& argTensor(const Napi::CallbackInfo& info, size_t i, const char* op);
c10::optional<at::Tensor> argOptTensor(const Napi::CallbackInfo& info, size_t i, const char* op);
std::vector<at::Tensor> argTensorList(const Napi::CallbackInfo& info, size_t i, const char* op);
std::vector<int64_t> argInts(const Napi::CallbackInfo& info, size_t i, const char* op);
int64_t argInt(const Napi::CallbackInfo& info, size_t i, const char* op);
double argNum(const Napi::CallbackInfo& info, size_t i, const char* op);
bool argBool(const Napi::CallbackInfo& info, size_t i, const char* op);
c10::optional<double> argOptNum(const Napi::CallbackInfo& info, size_t i, const char* op);
std::string argStr(const Napi::CallbackInfo& info, size_t i, const char* op);
at::ScalarType parseDtype(const std::string& s);
std::string dtypeName(at::ScalarType t);
at::Device parseDevice(const std::string& s);
// A tensor argument or a JS number (turned into a 0-d tensor of `like`'s dtype and device).
at::Tensor argTensorOrScalar(const Napi::CallbackInfo& info, size_t i, const char* op, const at::Tensor& like);

// "[2,3,4]"
std::string shapeString(at::IntArrayRef s);

// Builds the message for a libtorch failure: op name, the shapes of every tensor argument and
// libtorch's own message without its C++ backtrace.
std::string describeFailure(const Napi::CallbackInfo& info, const char* op, const std::string& what);

// Each part of the binding registers its functions (see addon.cc).
void registerRegistry(Napi::Env env, Napi::Object exports);
void registerCreation(Napi::Env env, Napi::Object exports);
void registerAutograd(Napi::Env env, Napi::Object exports);
void registerRuntime(Napi::Env env, Napi::Object exports);
void registerOps(Napi::Env env, Napi::Object exports);

// Whether the process's malloc settings were tuned when the addon loaded (registry.cc; for info()).
bool mallocTuned();

}  // namespace dfkd

// Every exported function body runs inside DFKD_GUARD so that no libtorch error can abort the
// process: c10::Error and std::exception become JS exceptions carrying libtorch's message.
#define DFKD_GUARD(opname, ...)                                                        \
  try {                                                                                 \
    __VA_ARGS__                                                                         \
  } catch (const Napi::Error&) {                                                        \
    throw;                                                                              \
  } catch (const c10::Error& e) {                                                       \
    throw Napi::Error::New(info.Env(), ::dfkd::describeFailure(info, opname, e.what_without_backtrace())); \
  } catch (const std::exception& e) {                                                   \
    throw Napi::Error::New(info.Env(), ::dfkd::describeFailure(info, opname, e.what())); \
  }
