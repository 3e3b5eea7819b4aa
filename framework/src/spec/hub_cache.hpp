// Models by their Hugging Face Hub name, from the local cache `transformers` and
// `huggingface-cli download` fill: nothing is downloaded. The cache is $HF_HUB_CACHE, else
// $HF_HOME/hub, else ~/.cache/huggingface/hub; a model `org/name` lives in
// models--org--name/, its refs (refs/main) name a commit, and snapshots/<commit>/ holds the
// files as links into blobs/, which are read through.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "runtime/errors.hpp"

namespace laminar {

/// The model is in the cache, the revision asked for is not.
struct HubRevisionError : InputError {
    using InputError::InputError;
};

/// Not a name or revision the Hub gives (wherever the cache is); `field`: "hub" or "revision".
struct HubNameError : InputError {
    HubNameError(const std::string& message, std::string field) : InputError(message), field(std::move(field)) {}
    std::string field;
};

struct HubSnapshot {
    std::string repo;                ///< "EleutherAI/pythia-410m"
    std::string revision;            ///< as asked: "main", another ref, or a commit
    std::string commit;              ///< the snapshot's commit hash
    std::filesystem::path cache;     ///< the cache searched
    std::filesystem::path folder;    ///< <cache>/models--org--name/snapshots/<commit>
};

/// The cache folder as huggingface_hub finds it (also when it does not exist): $HF_HUB_CACHE,
/// else $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
/// ~/.cache/huggingface/hub, a leading ~ expanded.
std::filesystem::path hub_cache_folder();

/// The models a cache holds, as "org/name", sorted.
std::vector<std::string> hub_cached_models(const std::filesystem::path& cache);

/// `repo` at `revision` in the cache: an InputError naming the cache searched and what it
/// holds (the models, or the model's refs and snapshots) when it is not there.
HubSnapshot resolve_hub_model(const std::string& repo, const std::string& revision = "main");

}  // namespace laminar
