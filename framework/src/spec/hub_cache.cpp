#include "spec/hub_cache.hpp"

#include <algorithm>
#include <cctype>
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

bool is_hex(const std::string& text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

}  // namespace

fs::path hub_cache_folder() {
    const std::string user = env("HOME");
    auto expand = [&](const std::string& path) {  // os.path.expanduser of "~" and "~/..."
        return (path == "~" || path.rfind("~/", 0) == 0) && !user.empty() ? fs::path(user + path.substr(1)) : fs::path(path);
    };
    for (const char* name : {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"})
        if (const std::string cache = env(name); !cache.empty()) return expand(cache);
    if (const std::string home = env("HF_HOME"); !home.empty()) return expand(home) / "hub";
    if (const std::string xdg = env("XDG_CACHE_HOME"); !xdg.empty()) return expand(xdg) / "huggingface" / "hub";
    return (user.empty() ? fs::path("/") : fs::path(user)) / ".cache" / "huggingface" / "hub";
}

namespace {

/// A part of a Hub name: letters, digits, '-', '_', '.', not starting or ending with '-' or
/// '.', without "--" or ".." (the Hub's own rule; "--" would also be ambiguous in the cache's
/// folder names), at most 96 characters.
bool hub_name_part(const std::string& part) {
    if (part.empty() || part.size() > 96 || part.find("--") != std::string::npos || part.find("..") != std::string::npos)
        return false;
    if (part.front() == '-' || part.front() == '.' || part.back() == '-' || part.back() == '.') return false;
    return std::all_of(part.begin(), part.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    });
}

}  // namespace

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
    if (slash == std::string::npos ? !hub_name_part(repo)
                                   : !hub_name_part(repo.substr(0, slash)) || !hub_name_part(repo.substr(slash + 1)))
        throw HubNameError("'" + repo + "' is not a Hub model name (expected NAME or ORG/NAME of letters, digits, '-', "
                           "'_' and '.', e.g. gpt2-medium or EleutherAI/pythia-410m)", "hub");
    if (s.revision.front() == '/' || s.revision.find("..") != std::string::npos || s.revision.find("//") != std::string::npos)
        throw HubNameError("'" + s.revision + "' is not a revision (expected a ref such as main, v1.0 or refs/pr/1, or "
                           "a commit)", "revision");
    std::error_code ec;
    if (fs::exists(s.cache, ec) && !fs::is_directory(s.cache, ec))
        throw InputError("the Hugging Face cache " + s.cache.string() + " is not a folder ($HF_HUB_CACHE, else "
                         "$HF_HOME/hub, else ~/.cache/huggingface/hub)");
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
    } else {  // a commit: whole, or the start of one snapshot's (as git abbreviates them)
        std::string lower = s.revision;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
        std::vector<std::string> matches;
        if (lower.size() >= 7 && is_hex(lower))
            for (const auto& snapshot : names_in(root / "snapshots"))
                if (snapshot.rfind(lower, 0) == 0) matches.push_back(snapshot);
        if (matches.size() == 1) s.commit = matches.front();
        if (matches.size() > 1)
            throw HubRevisionError("model '" + repo + "': '" + s.revision + "' is the start of several snapshots (" +
                                   joined(matches) + "): give more of the commit");
    }
    s.folder = root / "snapshots" / s.commit;
    if (s.commit.empty() || !fs::is_directory(s.folder))
        throw HubRevisionError("model '" + repo + "'" + where + " has no " + (s.commit.empty() ? "ref" : "snapshot") + " '" +
                         (s.commit.empty() ? s.revision : s.commit) + "' (refs: " + joined(names_in(root / "refs")) +
                         "; snapshots: " + joined(names_in(root / "snapshots")) + ")");
    return s;
}

}  // namespace laminar
