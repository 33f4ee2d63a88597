// The engine benchmark's reference side: the same workloads as bench/engine.ts, written directly
// in C++ against libtorch (torch::nn / torch::optim), so that the dfkd addon's overhead can be read
// off as a ratio. bench/engine.ts compiles this file once (cached in build/bench/) and runs it as a
// subprocess, one workload per call, interleaved with the addon's own measurement.
//
//   workloads --workload NAME [--warmup W] [--runs N] [--threads T] [--seed S]
//   workloads --list
//
// Prints one JSON object on stdout: {"workload", "threads", "warmup", "runs", "times_ms" (wall time of
// each timed run), "cpu_ms" (process user+system CPU time of each run), "minflt" (minor page faults of
// each run), "median_ms", "libtorch", "malloc_tuned", "cpu_cache", "parallel"}. Architectures, shapes, losses and optimizers mirror src/models and
// src/optim exactly (see docs/benchmarks.md); keep both sides in step when either changes.
#include <torch/torch.h>
#include <ATen/Parallel.h>

// The addon's CPU allocator, installed the same way (DFKD_MALLOC=system / DFKD_CPU_CACHE_MB=0 turn
// it off on both sides), so that the ratio measures the binding and not two allocators.
#include "../../native/src/cpu_allocator.h"

#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace nn = torch::nn;

// Same allocator settings as the addon (native/src/addon.cc tuneMalloc): page faults are very
// expensive on the project's VMs, so freed tensor memory stays in the heap. DFKD_MALLOC=system
// keeps glibc's defaults, as for the addon.
static bool tuneMalloc() {
  const char* mode = std::getenv("DFKD_MALLOC");
  if (mode && std::string(mode) == "system") return false;
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  mallopt(M_TOP_PAD, 16 << 20);
  return true;
}

// ------------------------------------------------------------------ models (mirroring src/models)

// LeNet-5 with BatchNorm (src/models/lenet.ts), 32x32 inputs.
struct LeNet5Impl : nn::Module {
  nn::Sequential features{nullptr}, classifier{nullptr};
  LeNet5Impl(int64_t inC, int64_t K) {
    features = register_module(
        "features",
        nn::Sequential(nn::Conv2d(nn::Conv2dOptions(inC, 6, 5)), nn::BatchNorm2d(6), nn::ReLU(), nn::MaxPool2d(nn::MaxPool2dOptions(2)),
                       nn::Conv2d(nn::Conv2dOptions(6, 16, 5)), nn::BatchNorm2d(16), nn::ReLU(), nn::MaxPool2d(nn::MaxPool2dOptions(2)),
                       nn::Conv2d(nn::Conv2dOptions(16, 120, 5)), nn::BatchNorm2d(120), nn::ReLU()));
    classifier = register_module("classifier", nn::Sequential(nn::Linear(120, 84), nn::ReLU(), nn::Linear(84, K)));
  }
  torch::Tensor forward(const torch::Tensor& x) { return classifier->forward(features->forward(x).flatten(1)); }
};
TORCH_MODULE(LeNet5);

// CIFAR BasicBlock (src/models/resnet.ts): conv-BN-ReLU-conv-BN + shortcut, ReLU.
struct BasicBlockImpl : nn::Module {
  nn::Conv2d conv1{nullptr}, conv2{nullptr};
  nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  nn::Sequential shortcut{nullptr};
  bool projection = false;
  BasicBlockImpl(int64_t inPlanes, int64_t planes, int64_t stride) {
    conv1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(inPlanes, planes, 3).stride(stride).padding(1).bias(false)));
    bn1 = register_module("bn1", nn::BatchNorm2d(planes));
    conv2 = register_module("conv2", nn::Conv2d(nn::Conv2dOptions(planes, planes, 3).stride(1).padding(1).bias(false)));
    bn2 = register_module("bn2", nn::BatchNorm2d(planes));
    projection = stride != 1 || inPlanes != planes;
    shortcut = projection ? nn::Sequential(nn::Conv2d(nn::Conv2dOptions(inPlanes, planes, 1).stride(stride).bias(false)), nn::BatchNorm2d(planes))
                          : nn::Sequential();
    register_module("shortcut", shortcut);
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto h = torch::relu(bn1->forward(conv1->forward(x)));
    auto y = bn2->forward(conv2->forward(h));
    return torch::relu(y + (projection ? shortcut->forward(x) : x));
  }
};
TORCH_MODULE(BasicBlock);

// CIFAR ResNet (3x3 stem, no max-pool, global average pooling, linear).
struct CifarResNetImpl : nn::Module {
  nn::Conv2d conv1{nullptr};
  nn::BatchNorm2d bn1{nullptr};
  std::vector<nn::Sequential> layers;
  nn::Linear linear{nullptr};
  CifarResNetImpl(int64_t inC, int64_t K, const std::vector<int64_t>& numBlocks, const std::vector<int64_t>& widths) {
    conv1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(inC, widths[0], 3).stride(1).padding(1).bias(false)));
    bn1 = register_module("bn1", nn::BatchNorm2d(widths[0]));
    int64_t inPlanes = widths[0];
    for (size_t s = 0; s < widths.size(); ++s) {
      nn::Sequential seq;
      for (int64_t i = 0; i < numBlocks[s]; ++i) {
        seq->push_back(BasicBlock(inPlanes, widths[s], i == 0 && s > 0 ? 2 : 1));
        inPlanes = widths[s];
      }
      layers.push_back(register_module("layer" + std::to_string(s + 1), seq));
    }
    linear = register_module("linear", nn::Linear(inPlanes, K));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto out = torch::relu(bn1->forward(conv1->forward(x)));
    for (auto& l : layers) out = l->forward(out);
    return linear->forward(torch::adaptive_avg_pool2d(out, {1, 1}).flatten(1));
  }
};
TORCH_MODULE(CifarResNet);

// DAFL generator (src/models/generator.ts).
struct GeneratorImpl : nn::Module {
  int64_t width, initSize;
  nn::Sequential l1{nullptr}, conv_blocks0{nullptr}, conv_blocks1{nullptr}, conv_blocks2{nullptr};
  GeneratorImpl(int64_t nz, int64_t w, int64_t imageSize, int64_t channels) : width(w), initSize(imageSize / 4) {
    const int64_t s = initSize;
    l1 = register_module("l1", nn::Sequential(nn::Linear(nz, w * s * s)));
    conv_blocks0 = register_module("conv_blocks0", nn::Sequential(nn::BatchNorm2d(w)));
    conv_blocks1 = register_module(
        "conv_blocks1",
        nn::Sequential(nn::Conv2d(nn::Conv2dOptions(w, w, 3).stride(1).padding(1)), nn::BatchNorm2d(nn::BatchNorm2dOptions(w).eps(0.8)),
                       nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2))));
    conv_blocks2 = register_module(
        "conv_blocks2",
        nn::Sequential(nn::Conv2d(nn::Conv2dOptions(w, w / 2, 3).stride(1).padding(1)), nn::BatchNorm2d(nn::BatchNorm2dOptions(w / 2).eps(0.8)),
                       nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)),
                       nn::Conv2d(nn::Conv2dOptions(w / 2, channels, 3).stride(1).padding(1)), nn::Sigmoid()));
  }
  torch::Tensor forward(const torch::Tensor& z) {
    auto out = l1->forward(z).reshape({z.size(0), width, initSize, initSize});
    auto img = conv_blocks0->forward(out);
    img = at::upsample_nearest2d(img, {img.size(2) * 2, img.size(3) * 2});
    img = conv_blocks1->forward(img);
    img = at::upsample_nearest2d(img, {img.size(2) * 2, img.size(3) * 2});
    return conv_blocks2->forward(img);
  }
};
TORCH_MODULE(Generator);

// ------------------------------------------------------------------ workloads

struct Workload {
  std::function<void()> step;
  std::vector<std::shared_ptr<void>> keep;  // owns models, optimizers and data
};

template <typename M>
static std::function<void()> classifierTrainStep(M model, std::shared_ptr<torch::optim::SGD> opt, torch::Tensor x, torch::Tensor y) {
  return [model, opt, x, y]() mutable {
    model->zero_grad(/*set_to_none=*/true);  // dfkd's zeroGrad() drops the grads, like set_to_none
    auto logits = model->forward(x);
    auto loss = torch::nn::functional::cross_entropy(logits, y);
    loss.backward();
    opt->step();
  };
}

static Workload makeWorkload(const std::string& name) {
  Workload w;
  if (name == "lenet5_train_b256") {
    auto model = LeNet5(1, 10);
    model->train();
    auto opt = std::make_shared<torch::optim::SGD>(model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
    auto x = torch::randn({256, 1, 32, 32});
    auto y = torch::randint(0, 10, {256}, torch::kLong);
    w.step = classifierTrainStep(model, opt, x, y);
    w.keep = {model.ptr(), opt};
  } else if (name == "resnet8_train_b128") {
    auto model = CifarResNet(3, 10, std::vector<int64_t>{1, 1, 1}, std::vector<int64_t>{16, 32, 64});
    model->train();
    auto opt = std::make_shared<torch::optim::SGD>(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
    auto x = torch::randn({128, 3, 32, 32});
    auto y = torch::randint(0, 10, {128}, torch::kLong);
    w.step = classifierTrainStep(model, opt, x, y);
    w.keep = {model.ptr(), opt};
  } else if (name == "resnet18_fwd_b256") {
    auto model = CifarResNet(3, 10, std::vector<int64_t>{2, 2, 2, 2}, std::vector<int64_t>{64, 128, 256, 512});
    model->eval();
    auto x = torch::randn({256, 3, 32, 32});
    w.step = [model, x]() mutable {
      torch::NoGradGuard ng;  // dfkd's noGrad() = torch.no_grad(), not inference mode
      auto out = model->forward(x);
    };
    w.keep = {model.ptr()};
  } else if (name == "generator_w64_b256" || name == "generator_w128_b256") {
    const int64_t width = name == "generator_w64_b256" ? 64 : 128;
    auto gen = Generator(100, width, 28, 1);
    gen->train();
    auto opt = std::make_shared<torch::optim::Adam>(gen->parameters(), torch::optim::AdamOptions(1e-3).betas({0.5, 0.999}));
    w.step = [gen, opt]() mutable {
      gen->zero_grad(/*set_to_none=*/true);
      auto z = torch::randn({256, 100});
      auto loss = gen->forward(z).mean();
      loss.backward();
      opt->step();
    };
    w.keep = {gen.ptr(), opt};
  } else {
    throw std::invalid_argument("unknown workload '" + name + "'");
  }
  return w;
}

static const char* kWorkloads[] = {"lenet5_train_b256", "generator_w64_b256", "generator_w128_b256", "resnet18_fwd_b256", "resnet8_train_b128"};

static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// User + system CPU time of the whole process (all threads), in ms.
static double cpuMs(const struct rusage& r) {
  return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e3 + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e3;
}

static std::string jsonArray(const std::vector<double>& v) {
  std::ostringstream o;
  o.precision(6);
  o << "[";
  for (size_t i = 0; i < v.size(); ++i) o << (i ? "," : "") << v[i];
  o << "]";
  return o.str();
}

static std::string jsonEscape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += c;
    else if (c == '\n') o += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20) o += ' ';
    else o += c;
  }
  return o;
}

int main(int argc, char** argv) {
  const bool tuned = tuneMalloc();
  const bool cached = dfkd::CachingCPUAllocator::install() != nullptr;
  std::map<std::string, std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--list") {
      for (auto* n : kWorkloads) std::cout << n << "\n";
      return 0;
    }
    if (a.rfind("--", 0) == 0 && i + 1 < argc) args[a.substr(2)] = argv[++i];
    else {
      std::cerr << "usage: workloads --workload NAME [--warmup W] [--runs N] [--threads T] [--seed S] | --list\n";
      return 2;
    }
  }
  if (!args.count("workload")) {
    std::cerr << "workloads: --workload NAME is required (see --list)\n";
    return 2;
  }
  const std::string name = args["workload"];
  const int warmup = args.count("warmup") ? std::stoi(args["warmup"]) : 3;
  const int runs = args.count("runs") ? std::stoi(args["runs"]) : 10;
  const int threads = args.count("threads") ? std::stoi(args["threads"]) : 1;
  const uint64_t seed = args.count("seed") ? std::stoull(args["seed"]) : 0;
  try {
    at::set_num_threads(threads);
    torch::manual_seed(seed);
    Workload w = makeWorkload(name);
    for (int i = 0; i < warmup; ++i) w.step();
    std::vector<double> times, cpu, faults;
    for (int i = 0; i < runs; ++i) {
      struct rusage r0, r1;
      getrusage(RUSAGE_SELF, &r0);
      auto t0 = std::chrono::steady_clock::now();
      w.step();
      auto t1 = std::chrono::steady_clock::now();
      getrusage(RUSAGE_SELF, &r1);
      times.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      cpu.push_back(cpuMs(r1) - cpuMs(r0));
      faults.push_back(static_cast<double>(r1.ru_minflt - r0.ru_minflt));
    }
    std::ostringstream o;
    o.precision(6);
    o << "{\"workload\":\"" << name << "\",\"threads\":" << at::get_num_threads() << ",\"warmup\":" << warmup << ",\"runs\":" << runs
      << ",\"times_ms\":" << jsonArray(times) << ",\"cpu_ms\":" << jsonArray(cpu) << ",\"minflt\":" << jsonArray(faults)
      << ",\"median_ms\":" << median(times) << ",\"libtorch\":\"" << TORCH_VERSION << "\",\"malloc_tuned\":" << (tuned ? "true" : "false")
      << ",\"cpu_cache\":" << (cached ? "true" : "false") << ",\"parallel\":\"" << jsonEscape(at::get_parallel_info()) << "\"}";
    std::cout << o.str() << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "workloads: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
