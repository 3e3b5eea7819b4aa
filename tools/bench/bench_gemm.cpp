// The forward passes' product (plugins/models/common/gemm.hpp) against OpenBLAS's sgemm (through
// torch::mm, as the forward pass called it before), both measured in this run on the shapes of
// gpt2-medium's layers and of a seed-sized batch. Prints one line per shape and kernel: the
// median seconds of each and the ratio (OpenBLAS time / laminar time: above 1, laminar is faster).
//   build/tools/laminar_bench_gemm [REPEATS]      (OMP_NUM_THREADS sets both libraries' threads)
// Both get the same threads: OMP_NUM_THREADS, else every core this process may run on, as the
// model plugins take them (transformer.cpp). libtorch's own default, the physical cores its
// cpuinfo finds, is 1 of 2 on some virtual machines while OpenBLAS takes both: measured so, the
// product looked twice as slow as it is.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <torch/types.h>
#include <torch/utils.h>

#include "gemm.hpp"
#include "transformer.hpp"

namespace gemm = laminar::models::gemm;
using Clock = std::chrono::steady_clock;

namespace {

template <class F>
double median_seconds(int repeats, F&& f) {
    f();  // warm: caches, packed weights, thread pools
    std::vector<double> times;
    for (int i = 0; i < repeats; ++i) {
        const auto t = Clock::now();
        f();
        times.push_back(std::chrono::duration<double>(Clock::now() - t).count());
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

// After a library's product its threads keep spinning for a while, waiting for the next
// (OpenBLAS's for 2^28 cycles, about 0.1 s): on 2 cores they would take turns with the other
// library's threads and slow its first, short products by up to 3x. Wait until they sleep.
void settle() { std::this_thread::sleep_for(std::chrono::milliseconds(300)); }

}  // namespace

int main(int argc, char** argv) {
    const int repeats = argc > 1 ? std::stoi(argv[1]) : 7;
    torch::InferenceMode guard;
    laminar::models::use_allowed_cores();
    // rows x in x out: a seed-sized pass (34 prompts, ~2 own tokens), a batch of 64 and of 512
    // prompts, through gpt2-medium's four products (qkv, attention out, MLP up, MLP down).
    const int64_t shapes[][3] = {{68, 1024, 3072}, {68, 4096, 1024}, {128, 1024, 4096}, {1024, 1024, 3072},
                                 {1024, 1024, 4096}, {1024, 4096, 1024}};
    std::printf("threads %d\n%-20s %-9s %12s %12s %8s\n", at::get_num_threads(), "rows x in x out", "kernel", "openblas s",
                "laminar s", "ratio");
    for (const auto& s : shapes) {
        const torch::Tensor x = torch::randn({s[0], s[1]}), w = torch::randn({s[2], s[1]});  // nn.Linear layout
        torch::Tensor y = torch::empty({s[0], s[2]});
        const double blas = median_seconds(repeats, [&] { torch::mm_out(y, x, w.t()); });
        settle();
        for (gemm::Kernel k : {gemm::Kernel::avx512, gemm::Kernel::avx2}) {
            if (!gemm::supported(k)) continue;
            const gemm::Weights packed(w, false, k);
            const double ours = median_seconds(repeats, [&] {
                gemm::multiply(x.data_ptr<float>(), s[0], s[1], packed, y.data_ptr<float>(), s[2]);
            });
            settle();
            const std::string shape = std::to_string(s[0]) + "x" + std::to_string(s[1]) + "x" + std::to_string(s[2]);
            std::printf("%-20s %-9s %12.5f %12.5f %8.2f\n", shape.c_str(), k == gemm::Kernel::avx512 ? "avx512" : "avx2", blas,
                        ours, blas / ours);
        }
    }
}
