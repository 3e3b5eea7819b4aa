// The `decoding` metric: what a linear probe reads from a layer. Rows are words (a word's
// contexts averaged first). The words are cut into k folds stratified by label (from `seed`);
// for each, the other folds' words standardise the features (their mean and SD) and fit an
// L2-penalised logistic regression (logistic.hpp: scikit-learn's LogisticRegression(C,
// solver="lbfgs") optimum), which predicts the fold's words. Per set: `predicted`, the
// `confusion` matrix, `accuracy`, `balanced_accuracy` (the mean of the classes' recalls) and
// `chance` (the largest class's share). The null shuffles the labels across words (the folds
// stay) and refits every fold; its statistic is the accuracy.
#include <algorithm>
#include <limits>
#include <random>

#include "labels.hpp"
#include "laminar/analysis/folds.hpp"
#include "laminar/analysis/matrices.hpp"
#include "laminar/analysis/parallel.hpp"
#include "laminar/analysis/rdm.hpp"
#include "laminar/analysis/rsa.hpp"
#include "laminar/correction.hpp"
#include "laminar/team_work.hpp"
#include "logistic.hpp"

namespace {

using namespace laminar;
using namespace laminar::analysis;

/// Shuffles of the null fitted as one problem (logistic.hpp): 8 or 16 halve the time per
/// shuffle at 800 words x 1,024 dims (16 measured 3 % faster in the benchmark), more gain little.
constexpr std::size_t kBatch = 16;

/// One fold's features, standardised by its training words' mean and SD (an SD of 0 left at 1,
/// as scikit-learn's StandardScaler leaves it). With more dimensions than training words, the
/// words are then given in the training words' row space: X_train = U S V' (the nonzero
/// singular values), features U S for training and X_test V for the held-out words. The
/// penalised optimum's weights lie in that space (W = V B: the loss's gradient X_train' R does),
/// and ||W|| = ||B||, so the fit, its predictions and even L-BFGS's path are the same, on fewer
/// columns (799 instead of 1,024 for 800 training words).
struct FoldFeatures {
    arma::uvec train, test;
    arma::mat X_train, X_test;
};

FoldFeatures fold_features(const arma::mat& X, const FoldSplit& split) {
    FoldFeatures out{split.train, split.test, X.rows(split.train), X.rows(split.test)};
    const arma::rowvec mean = arma::mean(out.X_train, 0);
    arma::rowvec sd = arma::stddev(out.X_train, 1, 0);  // population SD (ddof 0)
    sd.elem(arma::find(sd == 0)).ones();
    out.X_train.each_row() -= mean;
    out.X_train.each_row() /= sd;
    out.X_test.each_row() -= mean;
    out.X_test.each_row() /= sd;
    if (out.X_train.n_rows >= out.X_train.n_cols) return out;
    arma::vec s2;
    arma::mat U;
    arma::eig_sym(s2, U, arma::mat(out.X_train * out.X_train.t()));
    const arma::uvec kept = arma::find(s2 > s2.max() * double(out.X_train.n_cols) * std::numeric_limits<double>::epsilon() * 10);
    const arma::mat Uk = U.cols(kept);
    const arma::rowvec s = arma::sqrt(s2.elem(kept)).t();
    out.X_test = (out.X_test * out.X_train.t() * Uk).eval().each_row() / s;  // X_test V, V = X_train' U S^-1
    out.X_train = Uk.each_row() % s;                                          // U S
    return out;
}

class DecodingMetric : public Metric {
public:
    void configure(const Params& params) override {
        sites_ = params.value("sites", std::vector<std::string>{});
        labels_ = params.value("labels", std::string("category"));
        labels_file_ = params.value("labels_file", std::string());
        folds_ = params.value("folds", arma::uword{5});
        C_ = params.value("C", 1.0);
        permutations_ = params.value("permutations", std::size_t{1000});
        seed_ = params.value("seed", std::uint64_t{0});
        correction_ = params.value("correction", std::string("holm"));
        if (labels_ != "category" && labels_file_.empty())
            throw SpecError("labels", "labels: " + labels_ + " is a column of a table: name it with labels_file (your stimuli file will do)");
        if (labels_ == "category" && !labels_file_.empty())
            throw SpecError("labels_file", "labels: category are the stimuli's own; name the column of labels_file to read");
    }

    std::vector<SpaceUse> spaces() const override { return site_uses(sites_); }

    void check(const std::vector<Stimulus>& rows, const std::vector<std::string>& categories) const override {
        const Conditions words = conditions_of(rows);
        check_labels(words, read(words, categories));
    }

    void check_labels(const Conditions& words, const decoding::Labels& labels) const {
        const arma::uvec count = arma::hist(labels.of_word, arma::regspace<arma::uvec>(0, labels.names.size() - 1));
        if (labels.names.size() < 2) throw SpecError("labels", "one label among the words: nothing to decode");
        for (std::size_t c = 0; c < labels.names.size(); ++c)
            if (count(c) < 2)
                throw SpecError("labels", "the label '" + labels.names[c] + "' has " + std::to_string(count(c)) +
                                              " word: a held-out word's label must be among its fold's training words (2 or more each)");
        if (words.n < folds_) throw SpecError("folds", std::to_string(folds_) + " folds of " + std::to_string(words.n) + " words: a fold needs a word");
    }

    void run(const ActivationSource& in, ResultSink& all_out, const Team& team) override {
        const Conditions words = conditions_of(in.stimuli());
        const decoding::Labels labels = read(words, in.categories());
        check_labels(words, labels);
        const arma::uword classes = labels.names.size();
        std::mt19937_64 rng(seed_);
        const arma::uvec fold = stratified_kfold(labels.of_word, folds_, rng);
        const std::vector<arma::uvec> perms = shuffles(words.n, permutations_, rng);
        const arma::uvec count = arma::hist(labels.of_word, arma::regspace<arma::uvec>(0, classes - 1));
        const double chance = double(count.max()) / double(words.n);
        const auto work = picked_spaces(in, sites_);
        CorrectedPValues<ResultSink> family(correction_);
        for_each_item(team, work.size(), all_out, {&family}, [&](std::size_t i, ResultSink& out, const Team& group) {
            const auto& [model, hook] = work[i];
            const std::string path = model + "/" + hook;
            const arma::mat X = word_means(as_columns(in.read(model, hook)), words).t();  // [words x dims]
            out.attribute(path, "n_words", static_cast<int64_t>(words.n));
            out.attribute(path, "labels", nlohmann::json(labels.names).dump());
            out.attribute(path, "labels_from", labels_);
            out.attribute(path, "folds", static_cast<int64_t>(folds_));
            out.attribute(path, "C", C_);
            out.attribute(path, "seed", static_cast<int64_t>(seed_));
            out.attribute(path, "chance", chance);
            write_per_word(out, path + "/fold", fold, words);
            if (warn_nonfinite(X.t(), path, "word vector(s)", "no decoding of this space", out)) {
                for (const char* name : {"accuracy", "balanced_accuracy"}) out.attribute(path, name, arma::datum::nan);
                if (permutations_) family.add(path, arma::datum::nan);
                return;
            }
            // Each fit on one thread, the folds (and below the shuffles' batches) on all cores:
            // OpenBLAS's sums over several threads depend on their number, and the numbers must not.
            std::vector<FoldFeatures> parts(folds_);
            parallel_for(0, folds_, [&](std::size_t f) { parts[f] = fold_features(X, split(fold, f)); });
            std::vector<std::string> warnings(folds_);
            arma::uvec predicted(words.n);
            parallel_for(0, folds_, [&](std::size_t f) {
                predicted(parts[f].test) = predict_fold(parts[f], arma::umat(labels.of_word), classes, &warnings[f]);
            });
            for (const auto& warning : warnings)
                if (!warning.empty()) out.warn(path + ": " + warning);
            write_per_word(out, path + "/predicted", predicted, words);
            arma::mat confusion(classes, classes, arma::fill::zeros);  // rows: the label; columns: the prediction
            for (arma::uword w = 0; w < words.n; ++w) confusion(labels.of_word(w), predicted(w)) += 1;
            const arma::mat ct = confusion.t();
            out.write(path + "/confusion", {static_cast<int64_t>(classes), static_cast<int64_t>(classes)}, {ct.begin(), ct.end()});
            if (labels_ == "category") out.axes(path + "/confusion", {Axis::categories, Axis::categories});
            const double accuracy = arma::accu(confusion.diag()) / double(words.n);
            out.attribute(path, "accuracy", accuracy);
            out.attribute(path, "balanced_accuracy", arma::mean(confusion.diag() / arma::sum(confusion, 1)));
            out.attribute(path, "permutations", static_cast<int64_t>(permutations_));
            if (permutations_ == 0) return;
            // The null: each shuffle of the labels refitted and scored as the observed ones were.
            // Shuffles fitted kBatch at a time (logistic.hpp), batch k always shuffles [k kBatch,
            // (k + 1) kBatch): the batches, not the shuffles, are shared among ranks and cores, so
            // that every shuffle is fitted with the same partners however the work is split.
            const std::size_t batches = (perms.size() + kBatch - 1) / kBatch;
            const arma::vec padded = gather_blocks(group, batches, [&](std::size_t first, std::size_t last) {
                arma::mat correct((last - first) * kBatch, folds_, arma::fill::value(arma::datum::nan));
                parallel_for(0, (last - first) * folds_, [&](std::size_t job) {
                    const std::size_t k = first + job / folds_, f = job % folds_;
                    const std::size_t from = k * kBatch, to = std::min(perms.size(), from + kBatch);
                    arma::umat shuffled(words.n, to - from);
                    for (std::size_t p = from; p < to; ++p) shuffled.col(p - from) = labels.of_word(perms[p]);
                    const arma::umat guessed = predict_fold(parts[f], shuffled, classes, nullptr);
                    const arma::umat truth = shuffled.rows(parts[f].test);
                    for (std::size_t p = from; p < to; ++p)
                        correct((k - first) * kBatch + p - from, f) = arma::accu(guessed.col(p - from) == truth.col(p - from));
                });
                return arma::vec(arma::sum(correct, 1) / double(words.n));
            }, kBatch);
            const arma::vec null = padded.head(perms.size());
            write_permutation_test(out, path, accuracy, null, family);
            out.write(path + "/null", {static_cast<int64_t>(null.n_elem)}, std::vector<double>(null.begin(), null.end()));
        });
        family.write(all_out);
        all_out.progress(work.size(), work.size());
    }

private:
    std::vector<std::string> sites_;
    std::string labels_, labels_file_;
    arma::uword folds_ = 5;
    double C_ = 1.0;
    std::size_t permutations_ = 1000;
    std::uint64_t seed_ = 0;
    std::string correction_;

    decoding::Labels read(const Conditions& words, const std::vector<std::string>& categories) const {
        if (labels_ != "category") return decoding::read_labels(labels_file_, labels_, words.words);
        decoding::Labels out;
        for (const auto& c : categories)  // the experiment's order; a category without words has no class
            if (std::find(words.categories.begin(), words.categories.end(), c) != words.categories.end()) out.names.push_back(c);
        out.of_word = condition_labels(words, out.names);
        return out;
    }

    /// The held-out words' classes predicted by fold `part`'s fit, under each labelling (a
    /// column of `y` [words x labellings]): [test words x labellings].
    arma::umat predict_fold(const FoldFeatures& part, const arma::umat& y, arma::uword classes, std::string* warning) const {
        const decoding::LogisticFits fits = decoding::fit_logistic(part.X_train, y.rows(part.train), classes, C_);
        if (warning) *warning = fits.warning;
        arma::umat predicted(part.test.n_elem, y.n_cols);
        for (arma::uword l = 0; l < y.n_cols; ++l) predicted.col(l) = decoding::predict(fits.models[l], part.X_test);
        return predicted;
    }

};

const std::string kSchema = R"json({
  "type": "object", "additionalProperties": false,
  "properties": {
    "sites": {"type": "array", "items": {"type": "string"}, "description": "sites or hook names (model:site to pick a model); all when absent"},
    "labels": {"type": "string", "minLength": 1, "description": "category (default), or a column of labels_file"},
    "labels_file": {"type": "string", "pattern": "\\.(csv|tsv)$", "format": "path",
                    "description": "a table with a column word and the column `labels` names (the stimuli file will do)"},
    "folds": {"type": "integer", "minimum": 2, "maximum": 1000, "description": "k-fold cross-validation over words, stratified by label (default 5)"},
    "C": {"type": "number", "exclusiveMinimum": 0, "description": "inverse penalty, scikit-learn's C (default 1)"},
    "permutations": {"type": "integer", "minimum": 0, "maximum": 1000000, "description": "shuffles of the labels across words (0: no p-value; default 1000)"},
    "seed": {"type": "integer", "minimum": 0, "description": "draws the folds, then the shuffles"},
    "correction": )json" + std::string(kCorrectionSchema) + R"json(
  }
})json";

}  // namespace

LAMINAR_PLUGIN(laminar::Metric, "metric", DecodingMetric, "decoding", "1.0.0", kSchema.c_str())
