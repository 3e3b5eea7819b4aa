#include "runtime/content_hash.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

namespace laminar {

namespace {

std::string hex(XXH128_hash_t h) {
    char hex[33];
    std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                  static_cast<unsigned long long>(h.low64));
    return hex;
}

int64_t nanoseconds(const timespec& t) { return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec; }

/// What a cached hash is valid for: device, inode, size, mtime and ctime (ns).
nlohmann::json stat_key(const struct stat& st) {
    return {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino), static_cast<int64_t>(st.st_size),
            nanoseconds(st.st_mtim), nanoseconds(st.st_ctim)};
}

}  // namespace

std::string hash_text(const std::string& text) { return hex(XXH3_128bits(text.data(), text.size())); }

std::string hash_json(const nlohmann::json& value) { return hash_text(value.dump()); }

std::string hash_file(const std::filesystem::path& file) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error(file.string() + ": cannot be read to hash it: " + std::strerror(errno));
    std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> state(XXH3_createState(), XXH3_freeState);
    XXH3_128bits_reset(state.get());
    std::vector<char> buffer(1 << 22);
    for (;;) {
        const ssize_t n = ::read(fd, buffer.data(), buffer.size());
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            const int err = errno;
            ::close(fd);
            throw std::runtime_error(file.string() + ": cannot be read to hash it: " + std::strerror(err));
        }
        XXH3_128bits_update(state.get(), buffer.data(), static_cast<size_t>(n));
    }
    ::close(fd);
    return hex(XXH3_128bits_digest(state.get()));
}

FolderIdentity folder_identity(const std::filesystem::path& dir, const nlohmann::json& known) {
    namespace fs = std::filesystem;
    if (!fs::is_directory(dir)) throw std::runtime_error(dir.string() + ": model folder not found");
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    FolderIdentity id;
    for (const auto& f : files) {
        const std::string name = f.filename().string();
        struct stat before {}, after {};
        if (::stat(f.c_str(), &before) != 0) throw std::runtime_error(f.string() + ": " + std::strerror(errno));
        const nlohmann::json key = stat_key(before);
        std::string hash;
        if (known.is_object() && known.contains(name) && known[name].is_array() && known[name].size() == 6 &&
            known[name][5].is_string()) {
            nlohmann::json cached = known[name];
            cached.erase(5);
            if (cached == key) hash = known[name][5].get<std::string>();
        }
        bool keep = !hash.empty();
        if (hash.empty()) {
            hash = hash_file(f);
            // A file changed while it was read has a hash of neither version: not kept for next time.
            keep = ::stat(f.c_str(), &after) == 0 && stat_key(after) == key;
        }
        if (keep) {
            id.stats[name] = key;
            id.stats[name].push_back(hash);
        }
        id.files.push_back({{"name", name}, {"size", static_cast<int64_t>(before.st_size)}, {"xxh3", hash}});
    }
    return id;
}

}  // namespace laminar
