// Shared declarations of the dfkd native binding: a handle class around at::Tensor and the
// argument helpers every op uses. Nothing here knows about models or distillation.
#pragma once
#include <napi.h>
#include <ATen/ATen.h>
#include <string>
#include <vector>

namespace dfkd {

// A JS-visible handle that owns one at::Tensor. dispose() releases it deterministically;
// the finalizer is only a safety net. Its byte size is reported to V8 as external memory.
class TensorHandle : public Napi::ObjectWrap<TensorHandle> {
 public:
  static Napi::Object Init(Napi::Env env, Napi::Object exports);
  static Napi::Object Wrap(Napi::Env env, at::Tensor t);
  static bool IsHandle(const Napi::Value& v);
  explicit TensorHandle(const Napi::CallbackInfo& info);
  ~TensorHandle() override;

  at::Tensor& tensor(const char* what);
  bool disposed() const { return !t_.defined(); }
  void release(Napi::Env env);

 private:
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);
  at::Tensor t_;
  int64_t bytes_ = 0;
  static Napi::FunctionReference* ctor_;
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

// Builds the message for a libtorch failure: op name, the shapes of every tensor argument and
// libtorch's own message without its C++ backtrace.
std::string describeFailure(const Napi::CallbackInfo& info, const char* op, const std::string& what);

void registerOps(Napi::Env env, Napi::Object exports);

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
