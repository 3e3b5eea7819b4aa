// What the fuzz targets share: the input written where the code under test reads it (a file in
// a private scratch folder on tmpfs), and a main() that replays files when libFuzzer is absent.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace laminar::fuzz {

/// A folder of this process's own under /dev/shm (or the temp folder), made once.
inline const std::filesystem::path& scratch() {
    static const std::filesystem::path dir = [] {
        const std::filesystem::path base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
        auto d = base / ("laminar-fuzz-" + std::to_string(::getpid()));
        std::filesystem::create_directories(d);
        return d;
    }();
    return dir;
}

inline std::filesystem::path write(const std::string& name, const std::string& bytes) {
    const auto path = scratch() / name;
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
}

/// Splits `data` at the first `separator` (the rest is empty when there is none).
inline std::pair<std::string, std::string> split(const std::string& data, const std::string& separator) {
    const auto at = data.find(separator);
    if (at == std::string::npos) return {data, ""};
    return {data.substr(0, at), data.substr(at + separator.size())};
}

}  // namespace laminar::fuzz
