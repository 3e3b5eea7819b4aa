// The sums behind the Mantel-type permutation tests: for each of thousands of relabellings perm
// of n stimuli,
//     S(perm) = sum over i < j of A(i, j) B(perm(i), perm(j))
// (A and B symmetric). rsa's Mantel null is this sum over its normalised RDMs, cka's and the
// whitened comparisons' are the sums over whole matrices (twice this plus the diagonal), and
// mutual_information's null counts the same pairs into joint histograms.
//
// Where the time goes: a relabelling reads m = n (n - 1) / 2 values of B at places it scatters,
// so each costs m random reads, beside streaming A's triangle from memory once it outgrows the
// caches (tools/bench/bench_gather.cpp measures both limits). The layout makes each read cheap:
//   a      A's strict upper triangle packed by columns, column j (rows 0..j-1) at j (j - 1) / 2  [m]
//   b      B whole, column-major: B(perm(i), c) is a read within column c                      [n x n]
//   perm   a relabelling as 16-bit indices (32-bit past 65,536 stimuli), and its inverse       [n]
// Column c of B meets column j = inverse(c) of A: sum over i < j of a_j[i] b_c[perm(i)]. The
// columns of B are visited in tiles that stay in the core's cache while a chunk of relabellings
// passes over them, so B is read from memory once per chunk and A once per relabelling.
//
// The same bits everywhere: a relabelling's sum adds its column sums in the order of c whatever
// the tile, the chunk, the thread or the rank, and a column sum combines 8 lanes in a fixed
// order (no BLAS; the analysis target compiles with -ffp-contract=off).
//
// Precision: a value stored as a float errs by at most 2^-24 of itself, and the product of two
// floats is exact in double, so a sum errs by sum_k a_k b_k' e_k with e_k the rounding errors:
// about 2^-24 sqrt(2/3 sum_k a_k^2 b_k'^2) (errors of independent roundings add as a random
// walk). float_precision_suffices() bounds that sum over every relabelling (largest with
// largest, on values rounded up to powers of two) and stores floats only where the error's
// standard deviation stays below 2.5e-10 of |a| |b| (a correlation's scale, rsa's null: 1e-9 is
// 4 of them): half the bytes to stream and 1.4 times the reads per second at 1,000 words. Few
// stimuli, or values concentrated on few pairs, keep doubles. A test compares its null with the
// identity's sum computed the same way (mantel_observed in rsa.hpp), so a tie stays a tie.
#pragma once

#include <algorithm>
#include <armadillo>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "laminar/analysis/parallel.hpp"
#include "laminar/team_work.hpp"

namespace laminar::analysis {

namespace permuted {

/// How many of the nonzero squares x_k^2 fall between each power of two (frexp's exponent), and
/// their sum.
struct Magnitudes {
    std::vector<double> count = std::vector<double>(2200, 0.0);  ///< [exponent + 1100]: x^2 < 2^exponent
    double sum = 0;
    int lowest = 1100, highest = -1100;  ///< the exponents of the smallest and largest nonzero squares
    void add(double x) {
        const double square = x * x;
        if (square == 0) return;  // (exact in any type)
        int exponent = 0;
        std::frexp(square, &exponent);
        exponent = std::clamp(exponent, -1099, 1099);
        count[static_cast<std::size_t>(exponent + 1100)] += 1;
        lowest = std::min(lowest, exponent);
        highest = std::max(highest, exponent);
        sum += square;
    }
    /// Every nonzero value a normal float, far from both ends of its range (|x| in 2^-100..2^100),
    /// where rounding to float errs by at most 2^-24 of it.
    bool fits_float() const { return lowest >= -200 && highest <= 200; }
};

/// Whether floats keep a sum's rounding error below 2.5e-10 |a| |b| in standard deviation for
/// every relabelling (see above): sum_k a_k^2 b_k'^2 is at most the rearrangement inequality's
/// largest-with-largest sum, here of the squares rounded up to powers of two.
inline bool float_precision_suffices(const Magnitudes& a, const Magnitudes& b) {
    if (!(a.sum > 0 && b.sum > 0 && std::isfinite(a.sum) && std::isfinite(b.sum))) return false;
    if (!a.fits_float() || !b.fits_float()) return false;
    double bound = 0, left_a = 0, left_b = 0;
    std::size_t ia = a.count.size(), ib = b.count.size();
    while (true) {  // the largest squares of each, paired in turn
        while (left_a == 0 && ia > 0) left_a = a.count[--ia];
        while (left_b == 0 && ib > 0) left_b = b.count[--ib];
        if (left_a == 0 || left_b == 0) break;
        const double pairs = std::min(left_a, left_b);
        bound += pairs * std::ldexp(1.0, static_cast<int>(ia) - 1100) * std::ldexp(1.0, static_cast<int>(ib) - 1100);
        left_a -= pairs;
        left_b -= pairs;
    }
    const double sd = std::ldexp(1.0, -24) * std::sqrt(2.0 / 3.0 * bound);
    return sd <= 2.5e-10 * std::sqrt(a.sum * b.sum);
}

/// A chunk of relabellings shares a pass over B's tiles; a tile is about this many bytes of B
/// (well inside a core's L2 beside the streamed column of A). Neither changes a result.
inline constexpr std::size_t kChunk = 32;
inline constexpr std::size_t kTileBytes = 256 * 1024;

/// A and B laid out for the sums (see above), values of type V.
template <class V>
struct Packed {
    arma::uword n = 0;
    std::vector<V> a, b;     ///< A's packed triangle [m]; B whole [n x n]
    arma::vec a_diag, b_diag;  ///< the diagonals, for sums over whole matrices
};

/// Packs A (entry (i, j), i < j, given by a_at) and B (b_at), with their diagonals when `diag`.
template <class V, class AtA, class AtB>
Packed<V> pack(arma::uword n, AtA a_at, AtB b_at, bool diag) {
    Packed<V> p;
    p.n = n;
    p.a.resize(n * (n - 1) / 2);
    p.b.assign(std::size_t{n} * n, V(0));
    for (arma::uword j = 1; j < n; ++j)
        for (arma::uword i = 0; i < j; ++i) {
            p.a[j * (j - 1) / 2 + i] = static_cast<V>(a_at(i, j));
            p.b[std::size_t{j} * n + i] = p.b[std::size_t{i} * n + j] = static_cast<V>(b_at(i, j));
        }
    if (diag) {
        p.a_diag.set_size(n);
        p.b_diag.set_size(n);
        for (arma::uword i = 0; i < n; ++i) {
            p.a_diag(i) = a_at(i, i);
            p.b_diag(i) = b_at(i, i);
        }
    }
    return p;
}

/// sum over i < j of a[i] b[perm[i]]: 8 lanes, combined in a fixed order. Compiled on its own:
/// inlined into its caller, gcc 12 schedules the loop worse (the bench's Mantel null took 1.43 s
/// against 1.17 s).
template <class V, class I>
__attribute__((noinline)) double column_sum(const V* a, const V* b, const I* perm, std::size_t j) {
    double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::size_t i = 0;
    for (; i + 8 <= j; i += 8)
        for (int l = 0; l < 8; ++l) lane[l] += double(a[i + l]) * double(b[perm[i + l]]);
    for (int l = 0; i < j; ++i, ++l) lane[l] += double(a[i]) * double(b[perm[i]]);
    return ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
}

/// A chunk of relabellings as index arrays: perm [count x n] (type I) and inverse [count x n].
template <class I>
struct Chunk {
    std::size_t count = 0;
    std::vector<I> perm;
    std::vector<std::uint32_t> inverse;
    Chunk(const std::vector<arma::uvec>& perms, std::size_t first, std::size_t last, arma::uword n)
        : count(last - first), perm(count * n), inverse(count * n) {
        for (std::size_t p = 0; p < count; ++p)
            for (arma::uword i = 0; i < n; ++i) {
                const arma::uword to = perms[first + p](i);
                perm[p * n + i] = static_cast<I>(to);
                inverse[p * n + to] = static_cast<std::uint32_t>(i);
            }
    }
};

/// Runs over the relabellings perms[first, last) in chunks of kChunk on all cores. For each
/// relabelling and each column c of B it calls visit(scratch, c, j, perm), with j = inverse(c)
/// (the column of A that B's column c meets), `perm` its indices and `scratch` the relabelling's
/// own `scratch_size` values of type S (zeroed, kept for its chunk); B's columns go in tiles of
/// `tile`. When a chunk is done, finish(p, scratch, perm) for each of its relabellings.
template <class I, class S, class Visit, class Finish>
void for_each_column(const std::vector<arma::uvec>& perms, std::size_t first, std::size_t last, arma::uword n,
                     std::size_t tile, std::size_t scratch_size, Visit visit, Finish finish) {
    const std::size_t chunks = (last - first + kChunk - 1) / kChunk;
    parallel_for(0, chunks, [&](std::size_t k) {
        const std::size_t from = first + k * kChunk, to = std::min(last, from + kChunk);
        const Chunk<I> chunk(perms, from, to, n);
        std::vector<S> scratch(chunk.count * scratch_size, S(0));
        for (std::size_t c0 = 0; c0 < n; c0 += tile)
            for (std::size_t p = 0; p < chunk.count; ++p) {
                const I* perm = chunk.perm.data() + p * n;
                const std::uint32_t* inverse = chunk.inverse.data() + p * n;
                for (std::size_t c = c0; c < std::min<std::size_t>(n, c0 + tile); ++c)
                    visit(scratch.data() + p * scratch_size, c, inverse[c], perm);
            }
        for (std::size_t p = 0; p < chunk.count; ++p) finish(from + p, scratch.data() + p * scratch_size, chunk.perm.data() + p * n);
    });
}

/// The sums of perms[first, last) (`whole`: 2 S + the diagonals' sum), on this member's cores.
/// Each relabelling's column sums are kept (by B's column c = perm(j)) and added in the order of
/// A's columns j, as the identity's are: a relabelling that leaves B as it is gives the
/// identity's column sums, so its sum ties with the identity's to the bit.
template <class V, class I>
arma::vec sums(const Packed<V>& d, const std::vector<arma::uvec>& perms, std::size_t first, std::size_t last, bool whole) {
    const arma::uword n = d.n;
    arma::vec out(last - first);
    const std::size_t tile = std::max<std::size_t>(1, kTileBytes / (n * sizeof(V)));
    for_each_column<I, double>(perms, first, last, n, tile, n,
        [&](double* column, std::size_t c, std::size_t j, const I* perm) {
            if (j > 0) column[c] = column_sum(d.a.data() + j * (j - 1) / 2, d.b.data() + c * n, perm, j);
        },
        [&](std::size_t p, const double* column, const I* perm) {
            double total = 0;
            for (arma::uword j = 1; j < n; ++j) total += column[perm[j]];
            if (whole) {
                double diagonal = 0;
                for (arma::uword i = 0; i < n; ++i) diagonal += d.a_diag(i) * d.b_diag(perms[p](i));
                total = 2 * total + diagonal;
            }
            out(p - first) = total;
        });
    return out;
}

template <class V>
arma::vec sums_shared(const Packed<V>& d, const std::vector<arma::uvec>& perms, bool whole, const Team& team) {
    return gather_blocks(team, perms.size(), [&](std::size_t first, std::size_t last) {
        return d.n <= 65536 ? sums<V, std::uint16_t>(d, perms, first, last, whole)
                            : sums<V, std::uint32_t>(d, perms, first, last, whole);
    });
}

}  // namespace permuted

/// S(perm) for each relabelling in `perms` (`whole`: the sum over all i, j, i.e. 2 S plus
/// sum_i A(i, i) B(perm i, perm i)), with A's entry (i, j), i <= j, given by a_at(i, j) and B's by
/// b_at: the matrices are laid out once (as floats where float_precision_suffices). Each member of `team`
/// computes a block of the relabellings.
template <class AtA, class AtB>
arma::vec permuted_sums(arma::uword n, AtA a_at, AtB b_at, const std::vector<arma::uvec>& perms, bool whole,
                        const Team& team = Alone()) {
    if (n < 2)  // no pairs; a whole 1 x 1 matrix is its diagonal
        return arma::vec(perms.size(), arma::fill::value(whole && n == 1 ? a_at(0, 0) * b_at(0, 0) : 0.0));
    permuted::Magnitudes a, b;
    for (arma::uword j = 1; j < n; ++j)
        for (arma::uword i = 0; i < j; ++i) {
            a.add(a_at(i, j));
            b.add(b_at(i, j));
        }
    if (!permuted::float_precision_suffices(a, b))
        return permuted::sums_shared(permuted::pack<double>(n, a_at, b_at, whole), perms, whole, team);
    return permuted::sums_shared(permuted::pack<float>(n, a_at, b_at, whole), perms, whole, team);
}

/// The sums over whole symmetric matrices A and B: sum over all i, j of A(i, j) B(perm i, perm j).
inline arma::vec permuted_inner_products(const arma::mat& A, const arma::mat& B, const std::vector<arma::uvec>& perms,
                                         const Team& team = Alone()) {
    return permuted_sums(A.n_rows, [&](arma::uword i, arma::uword j) { return A(i, j); },
                         [&](arma::uword i, arma::uword j) { return B(i, j); }, perms, true, team);
}

}  // namespace laminar::analysis
