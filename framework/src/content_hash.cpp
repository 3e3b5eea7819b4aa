#include "content_hash.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include <xxhash.h>

namespace laminar {

std::string hash_text(const std::string& text) {
    const XXH128_hash_t h = XXH3_128bits(text.data(), text.size());
    char hex[33];
    std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                  static_cast<unsigned long long>(h.low64));
    return hex;
}

std::string hash_json(const nlohmann::json& value) { return hash_text(value.dump()); }

nlohmann::json folder_identity(const std::filesystem::path& dir) {
    namespace fs = std::filesystem;
    if (!fs::is_directory(dir)) throw std::runtime_error(dir.string() + ": model folder not found");
    std::vector<fs::directory_entry> files;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file()) files.push_back(e);
    std::sort(files.begin(), files.end(),
              [](const auto& a, const auto& b) { return a.path().filename() < b.path().filename(); });
    nlohmann::json out = nlohmann::json::array();
    for (const auto& f : files)
        out.push_back({{"name", f.path().filename().string()},
                       {"size", f.file_size()},
                       {"mtime", f.last_write_time().time_since_epoch().count()}});
    return out;
}

}  // namespace laminar
