// The `correlation` metric: Pearson correlation between stimulus vectors (rows centred, then
// cosine), as rsatoolbox's "correlation" RDM before its 1 - r.
#include "laminar/analysis/similarity_metric.hpp"

namespace {
constexpr char kCorrelation[] = "correlation";
using CorrelationMetric = laminar::analysis::SimilarityMetric<kCorrelation>;
}  // namespace

LAMINAR_PLUGIN(laminar::Metric, "metric", CorrelationMetric, "correlation", "1.3.0", laminar::analysis::kSimilaritySchema)
