// The limits a Mantel null runs against on this machine (bench_analyze.py): a relabelling of n
// stimuli reads m = n (n - 1) / 2 values at scattered places within columns of n floats, beside
// streaming as many floats of the other matrix from memory. Measured on all cores, each in the
// plainest loop that does it (the values summed, so that no read is optimised away):
//   stream_GBps          reading a 512 MiB array once, in order
//   gather_per_s         reads at random places within 8 columns of n floats (in cache), 16-bit indices
//   stream_gather_per_s  both at once, as the null does: per pair one value streamed from an array
//                        of STORED bytes (the triangle: in cache when it fits, else from memory)
//                        and one gathered
// Prints JSON.
//
//     laminar_bench_gather N STORED
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <vector>

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

/// Reads per second (all threads) of `reps` passes of n pairs: a[i] streamed (from an array of
/// `stored` bytes; 0: the same n values) times b[index[i]] from one of 8 cached columns.
double pairs_per_second(std::size_t n, std::size_t stored, double& sink) {
    const bool stream = stored > 0;
    const std::size_t big = std::max(stored / sizeof(float), 4 * n * std::size_t(omp_get_max_threads())), columns = 8;
    std::mt19937_64 rng(1);
    std::vector<float> a(stream ? big : n), b(n * columns);
    for (auto& x : a) x = float(rng() % 1000);
    for (auto& x : b) x = float(rng() % 1000);
    std::vector<std::uint16_t> index(n);
    for (std::size_t i = 0; i < n; ++i) index[i] = static_cast<std::uint16_t>(i % 65536);
    std::shuffle(index.begin(), index.end(), rng);
    const std::size_t reps = std::max<std::size_t>(4, std::size_t(4e9) / n / std::size_t(omp_get_max_threads()) / 2);
    double total = 0;
    const auto started = std::chrono::steady_clock::now();
#pragma omp parallel reduction(+ : total)
    {
        const std::size_t part = a.size() / std::size_t(omp_get_num_threads()), offset = part * std::size_t(omp_get_thread_num());
        for (std::size_t r = 0; r < reps; ++r) {
            const float* column = b.data() + (r % columns) * n;
            const float* values = a.data() + (stream ? offset + (r * n) % (part - n) : 0);
            double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (std::size_t i = 0; i + 8 <= n; i += 8)
                for (int l = 0; l < 8; ++l) lane[l] += double(values[i + l]) * double(column[index[i + l]]);
            for (const double x : lane) total += x;
        }
    }
    const double s = seconds_since(started);
    sink += total;
    return double(n / 8 * 8) * double(reps) * omp_get_max_threads() / s;
}

double stream_bytes_per_second(double& sink) {
    const std::size_t count = (std::size_t{512} << 20) / sizeof(float);
    std::vector<float> a(count, 1.0f);
    double best = 0;
    for (int pass = 0; pass < 3; ++pass) {
        double total = 0;
        const auto started = std::chrono::steady_clock::now();
#pragma omp parallel for reduction(+ : total) schedule(static)
        for (std::size_t block = 0; block < count / 4096; ++block) {
            float lane[16] = {};
            const float* p = a.data() + block * 4096;
            for (std::size_t i = 0; i < 4096; i += 16)
                for (int l = 0; l < 16; ++l) lane[l] += p[i + l];
            for (const float x : lane) total += x;
        }
        best = std::max(best, double(count) * sizeof(float) / seconds_since(started));
        sink += total;
    }
    return best;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: laminar_bench_gather N STORED\n");
        return 2;
    }
    const std::size_t n = std::strtoul(argv[1], nullptr, 10), stored = std::strtoul(argv[2], nullptr, 10);
    double sink = 0;
    const double stream = stream_bytes_per_second(sink);
    const double gather = pairs_per_second(n, 0, sink);
    const double both = pairs_per_second(n, stored, sink);
    std::printf("{\"n\": %zu, \"threads\": %d, \"stream_GBps\": %.3f, \"gather_per_s\": %.4g, \"stream_gather_per_s\": %.4g, \"sink\": %g}\n",
                n, omp_get_max_threads(), stream / 1e9, gather, both, sink);
}
