// The `cosine` metric: S = U Uᵀ with the stimulus vectors scaled to unit length.
#include "laminar/analysis/similarity_metric.hpp"

namespace {
constexpr char kCosine[] = "cosine";
using CosineMetric = laminar::analysis::SimilarityMetric<kCosine>;
}  // namespace

LAMINAR_PLUGIN(laminar::Metric, "metric", CosineMetric, "cosine", "1.3.0", laminar::analysis::kSimilaritySchema)
