// The `effective_dimensionality` metric: how many directions a space's stimuli spread over. The
// activations are centred over stimuli; the variance explained by each principal component
// (squared singular values over their sum) is stored, with the number of components needed to
// pass each threshold (`n95`: 95 % of the variance) and the participation ratio (sum l)^2 / sum l^2.
// The shuffled control permutes each dimension independently across stimuli (keeping every
// dimension's variance, destroying their covariance) `shuffles` times: what the numbers are for
// structureless data of the same spread.
// A set with a row per token (the residual extractor's `positions: all`) is centred over the
// tokens of each prompt instead, and the prompts' centred tokens pooled: the dimensionality of
// how a sentence's tokens differ from each other, not of how the sentences differ. `skip_tokens`
// leaves out each prompt's first tokens (GPT-2's first position carries activations hundreds of
// times larger than the rest, which would make one direction of everything).
// n<t> can be no more than the rank of the centred rows, min(dims, n - 1) (n - prompts for a set
// per token): with fewer stimuli than dimensions, a threshold that needs every component there
// is says "as many as the stimuli allow", not how many the space has. Such a threshold is named
// in a warning, and `max_components` gives the bound.
#include <algorithm>
#include <numeric>
#include <random>

#include "laminar/analysis/matrices.hpp"
#include "laminar/analysis/parallel.hpp"
#include "laminar/analysis/rdm.hpp"
#include "laminar/team_work.hpp"

namespace {

using namespace laminar;
using namespace laminar::analysis;

/// Variance explained per component, largest first (min(stimuli, dims) of them), of columns Xt
/// [dims x stimuli] centred over stimuli. From the smaller of the two Gram matrices.
arma::vec explained_variance(const arma::mat& Xc) {
    const arma::mat G = Xc.n_cols <= Xc.n_rows ? arma::mat(Xc.t() * Xc) : arma::mat(Xc * Xc.t());
    arma::vec l = arma::sort(arma::eig_sym(G), "descend");
    l.elem(arma::find(l < 0)).zeros();  // rounding below zero for a rank-deficient matrix
    const double total = arma::accu(l);
    return total > 0 ? arma::vec(l / total) : arma::vec(l.n_elem, arma::fill::value(arma::datum::nan));
}

/// The number of components whose cumulative share first reaches `percent`.
int64_t components_for(const arma::vec& explained, double percent) {
    const arma::vec cumulative = arma::cumsum(explained);
    for (arma::uword k = 0; k < cumulative.n_elem; ++k)
        if (cumulative(k) >= percent / 100 - 1e-12) return static_cast<int64_t>(k + 1);
    return static_cast<int64_t>(cumulative.n_elem);
}

class EffectiveDimensionality : public Metric {
public:
    void configure(const Params& params) override {
        sites_ = params.value("sites", std::vector<std::string>{});
        thresholds_ = params.value("thresholds", std::vector<double>{80, 90, 95, 99});
        for (std::size_t i = 0; i < thresholds_.size(); ++i)
            if (thresholds_[i] != std::floor(thresholds_[i]))
                throw SpecError("thresholds[" + std::to_string(i) + "]", "expected a whole percentage (it names n<percent>)");
        shuffles_ = params.value("shuffles", std::size_t{20});
        skip_tokens_ = params.value("skip_tokens", int64_t{0});
        seed_ = params.value("seed", std::uint64_t{0});
    }

    std::vector<SpaceUse> spaces() const override { return site_uses(sites_); }

    void run(const ActivationSource& in, ResultSink& all_out, const Team& team) override {
        const auto work = picked_spaces(in, sites_, true);
        // The sites are shared out; each one's shuffled control stays whole (its spectra use
        // LAPACK, whose sums depend on how many threads it has).
        for_each_item(team, work.size(), all_out, {}, [&](std::size_t i, ResultSink& out, const Team&) {
            const auto& [model, hook] = work[i];
            const std::string path = model + "/" + hook;
            const ActivationSet set = in.read(model, hook);
            arma::mat Xc = set.tokens.empty() ? as_columns(set) : centred_tokens(set);
            if (set.tokens.empty()) Xc.each_col() -= arma::mean(Xc, 1);
            out.attribute(path, "centred_over", std::string(set.tokens.empty() ? "stimuli" : "tokens of each prompt"));
            if (Xc.n_cols < 2) throw SpecError("", path + ": " + std::to_string(Xc.n_cols) + " rows: no variance to take apart");
            if (warn_nonfinite(Xc, path, set.tokens.empty() ? "stimulus vector(s)" : "token vector(s)",
                               "explained_variance, n<t>, the participation ratio and the shuffled control are NaN", out)) {
                write_nan(Xc, path, out);  // (LAPACK's eigensolver fails on them)
                return;
            }
            const arma::vec explained = explained_variance(Xc);
            if (explained.has_nan())
                out.warn(path + ": its rows do not vary (or are not finite): explained_variance and the participation ratio are NaN");
            out.write(path + "/explained_variance", {static_cast<int64_t>(explained.n_elem)},
                      std::vector<double>(explained.begin(), explained.end()));
            // Centring on the mean of each group of rows (the stimuli, or each prompt's tokens)
            // takes one dimension per group: this many components can carry variance at most.
            const int64_t groups = set.tokens.empty() ? 1 : centred_prompts(set);
            const int64_t bound = std::min<int64_t>(static_cast<int64_t>(Xc.n_rows), static_cast<int64_t>(Xc.n_cols) - groups);
            std::string capped;
            for (double t : thresholds_) {
                const int64_t count = components_for(explained, t);
                out.attribute(path, name(t), count);
                if (count >= bound && bound < static_cast<int64_t>(Xc.n_rows) && !explained.has_nan())
                    capped += (capped.empty() ? "" : ", ") + name(t);
            }
            out.attribute(path, "max_components", bound);
            if (!capped.empty())
                out.warn(path + ": " + capped + " = " + std::to_string(bound) + ", every component " +
                         std::to_string(Xc.n_cols) + " centred rows can have (fewer rows than the " + std::to_string(Xc.n_rows) +
                         " dimensions): a bound set by the number of stimuli, not the space's dimensionality; more stimuli, or a lower threshold");
            out.attribute(path, "participation_ratio", 1.0 / arma::accu(arma::square(explained)));
            out.attribute(path, "n", static_cast<int64_t>(Xc.n_cols));
            out.attribute(path, "dims", static_cast<int64_t>(Xc.n_rows));
            if (shuffles_ > 0) shuffled_control(Xc, path, out);
        });
        all_out.progress(work.size(), work.size());
    }

private:
    std::vector<std::string> sites_;
    std::vector<double> thresholds_;
    std::size_t shuffles_ = 20;
    std::uint64_t seed_ = 0;
    int64_t skip_tokens_ = 0;

    /// The rows of a set per token as columns, each prompt's tokens (after the first
    /// `skip_tokens_`) centred on their own mean, side by side.
    arma::mat centred_tokens(const ActivationSet& set) const {
        const arma::mat all = rows_as_columns(set);
        int64_t kept = 0;
        for (int64_t n : set.tokens) kept += std::max<int64_t>(0, n - skip_tokens_);
        arma::mat Xc(all.n_rows, static_cast<arma::uword>(kept));
        arma::uword first = 0, to = 0;
        for (int64_t n : set.tokens) {
            if (n > skip_tokens_) {
                arma::mat tokens = all.cols(first + skip_tokens_, first + n - 1);
                tokens.each_col() -= arma::mean(tokens, 1);
                Xc.cols(to, to + tokens.n_cols - 1) = tokens;
                to += tokens.n_cols;
            }
            first += n;
        }
        return Xc;
    }

    /// The prompts of a set per token that keep some token after `skip_tokens_` (each centred on its own mean).
    int64_t centred_prompts(const ActivationSet& set) const {
        return std::count_if(set.tokens.begin(), set.tokens.end(), [&](int64_t n) { return n > skip_tokens_; });
    }

    /// What a set of NaN or infinite values gives: NaN everywhere, of the usual shapes.
    void write_nan(const arma::mat& Xc, const std::string& path, ResultSink& out) const {
        const double nan = arma::datum::nan;
        out.write(path + "/explained_variance", {static_cast<int64_t>(std::min(Xc.n_rows, Xc.n_cols))},
                  std::vector<double>(std::min(Xc.n_rows, Xc.n_cols), nan));
        for (double t : thresholds_) out.attribute(path, name(t), nan);
        out.attribute(path, "participation_ratio", nan);
        out.attribute(path, "n", static_cast<int64_t>(Xc.n_cols));
        out.attribute(path, "dims", static_cast<int64_t>(Xc.n_rows));
        if (shuffles_ == 0) return;
        for (double t : thresholds_) {
            out.attribute(path, "shuffled_" + name(t) + "_mean", nan);
            out.attribute(path, "shuffled_" + name(t) + "_sd", nan);
        }
        out.attribute(path, "shuffled_participation_ratio_mean", nan);
        out.attribute(path, "shuffles", static_cast<int64_t>(shuffles_));
        out.attribute(path, "seed", static_cast<int64_t>(seed_));
    }

    static std::string name(double percent) { return "n" + std::to_string(static_cast<int64_t>(percent)); }

    /// Each dimension's values permuted across stimuli, independently, `shuffles_` times (the
    /// permutations drawn up front from the seed, so that threads do not change them).
    void shuffled_control(const arma::mat& Xc, const std::string& path, ResultSink& out) const {
        std::mt19937_64 rng(seed_);
        std::vector<std::vector<arma::uvec>> orders(shuffles_, std::vector<arma::uvec>(Xc.n_rows));
        std::vector<arma::uword> order(Xc.n_cols);
        for (auto& shuffle : orders)
            for (auto& dim : shuffle) {
                std::iota(order.begin(), order.end(), 0);
                std::shuffle(order.begin(), order.end(), rng);
                dim = arma::uvec(order);
            }
        arma::mat counts(shuffles_, thresholds_.size());
        arma::vec ratios(shuffles_);
        parallel_for(0, shuffles_, [&](std::size_t s) {
            arma::mat shuffled(Xc.n_rows, Xc.n_cols);
            for (arma::uword d = 0; d < Xc.n_rows; ++d) {
                const arma::rowvec row = Xc.row(d);
                shuffled.row(d) = row.cols(orders[s][d]);
            }
            const arma::vec explained = explained_variance(shuffled);  // still centred: a permutation keeps the mean
            for (std::size_t t = 0; t < thresholds_.size(); ++t) counts(s, t) = double(components_for(explained, thresholds_[t]));
            ratios(s) = 1.0 / arma::accu(arma::square(explained));
        });
        for (std::size_t t = 0; t < thresholds_.size(); ++t) {
            out.attribute(path, "shuffled_" + name(thresholds_[t]) + "_mean", arma::mean(counts.col(t)));
            out.attribute(path, "shuffled_" + name(thresholds_[t]) + "_sd", shuffles_ > 1 ? arma::stddev(counts.col(t)) : 0.0);
        }
        out.attribute(path, "shuffled_participation_ratio_mean", arma::mean(ratios));
        out.attribute(path, "shuffles", static_cast<int64_t>(shuffles_));
        out.attribute(path, "seed", static_cast<int64_t>(seed_));
    }
};

const char* const kSchema = R"json({
  "type": "object", "additionalProperties": false,
  "properties": {
    "sites": {"type": "array", "items": {"type": "string"}, "description": "sites or hook names (default: every recorded set)"},
    "thresholds": {"type": "array", "minItems": 1, "items": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
                   "description": "percentages of variance, each giving n<percent> (default [80, 90, 95, 99])"},
    "shuffles": {"type": "integer", "minimum": 0, "maximum": 1000000, "description": "repetitions of the shuffled control (0: none; default 20)"},
    "seed": {"type": "integer", "minimum": 0},
    "skip_tokens": {"type": "integer", "minimum": 0,
                    "description": "sets per token: each prompt's first tokens left out (default 0)"}
  }
})json";

}  // namespace

LAMINAR_PLUGIN(laminar::Metric, "metric", EffectiveDimensionality, "effective_dimensionality", "1.2.0", kSchema)
