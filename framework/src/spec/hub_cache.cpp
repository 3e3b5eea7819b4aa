#include "spec/hub_cache.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include "runtime/errors.hpp"

namespace laminar {

namespace fs = std::filesystem;

namespace {

std::string env(const char* name) {
    const char* value = std::getenv(name);
    return value ? value : "";
}

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
    return out.empty() ? "none" : out;
}

/// The names in `dir` (files or folders), sorted; none when it cannot be read.
std::vector<std::string> names_in(const fs::path& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) out.push_back(entry.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

bool is_commit(const std::string& text) {
    return text.size() == 40 && std::all_of(text.begin(), text.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

}  // namespace

fs::path hub_cache_folder() {
    if (const std::string cache = env("HF_HUB_CACHE"); !cache.empty()) return cache;
    if (const std::string home = env("HF_HOME"); !home.empty()) return fs::path(home) / "hub";
    const std::string user = env("HOME");
    return (user.empty() ? fs::path("/") : fs::path(user)) / ".cache" / "huggingface" / "hub";
}

std::vector<std::string> hub_cached_models(const fs::path& cache) {
    std::vector<std::string> out;
    for (const auto& name : names_in(cache)) {
        if (name.rfind("models--", 0) != 0) continue;
        std::string repo = name.substr(8);
        if (const auto dash = repo.find("--"); dash != std::string::npos) repo.replace(dash, 2, "/");
        out.push_back(repo);
    }
    return out;
}

HubSnapshot resolve_hub_model(const std::string& repo, const std::string& revision) {
    HubSnapshot s{repo, revision.empty() ? "main" : revision, "", hub_cache_folder(), {}};
    const auto slash = repo.find('/');
    if (repo.empty() || repo.find("..") != std::string::npos || repo.find('/', slash + 1) != std::string::npos ||
        (slash != std::string::npos && (slash == 0 || slash + 1 == repo.size())))
        throw InputError("'" + repo + "' is not a Hub model name (expected NAME or ORG/NAME, e.g. gpt2-medium or "
                         "EleutherAI/pythia-410m)");
    std::string folder = "models--" + repo;
    if (slash != std::string::npos) folder.replace(8 + slash, 1, "--");
    const fs::path root = s.cache / folder;
    const std::string where = " in the Hugging Face cache " + s.cache.string() +
                              " ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)";
    if (!fs::is_directory(root))
        throw InputError("model '" + repo + "' is not" + where + "; it holds: " + joined(hub_cached_models(s.cache)) +
                         " (laminar downloads nothing: `huggingface-cli download " + repo + "` fetches it)");
    // A ref (main, a branch or tag) names a commit; a commit is its own snapshot's name.
    if (std::ifstream ref(root / "refs" / s.revision); ref && std::getline(ref, s.commit)) {
        s.commit.erase(s.commit.find_last_not_of(" \r\n\t") + 1);
    } else if (is_commit(s.revision)) {
        s.commit = s.revision;
    }
    s.folder = root / "snapshots" / s.commit;
    if (s.commit.empty() || !fs::is_directory(s.folder))
        throw HubRevisionError("model '" + repo + "'" + where + " has no " + (s.commit.empty() ? "ref" : "snapshot") + " '" +
                         (s.commit.empty() ? s.revision : s.commit) + "' (refs: " + joined(names_in(root / "refs")) +
                         "; snapshots: " + joined(names_in(root / "snapshots")) + ")");
    return s;
}

}  // namespace laminar
