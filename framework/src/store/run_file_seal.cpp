#include "store/run_file_seal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <stdexcept>
#include <tuple>
#include <vector>

#include <xxhash.h>

#include "runtime/errors.hpp"
#include "store/h5.hpp"

namespace laminar::seal {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[] = "LAMINAR RUN FILE\n";

struct Fd {
    int fd;
    ~Fd() { if (fd >= 0) ::close(fd); }
};

std::runtime_error io_error(const fs::path& file, const std::string& what) {
    return std::runtime_error(file.string() + ": " + what + " (" + std::strerror(errno) + ")");
}

/// XXH3-128 (hex) of the bytes after the userblock.
std::string content_hash(int fd, const fs::path& file) {
    XXH3_state_t* state = XXH3_createState();
    XXH3_128bits_reset(state);
    std::vector<char> buffer(std::size_t{8} << 20);
    off_t at = static_cast<off_t>(kBytes);
    for (;;) {
        const ssize_t n = ::pread(fd, buffer.data(), buffer.size(), at);
        if (n < 0) { XXH3_freeState(state); throw io_error(file, "cannot read"); }
        if (n == 0) break;
        XXH3_128bits_update(state, buffer.data(), static_cast<std::size_t>(n));
        at += n;
    }
    const XXH128_hash_t h = XXH3_128bits_digest(state);
    XXH3_freeState(state);
    char hex[33];
    std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                  static_cast<unsigned long long>(h.low64));
    return hex;
}

// Files this process found intact (or sealed), by identity: analyze opens the run file once per
// analysis, and a run file can be gigabytes.
using Identity = std::tuple<dev_t, ino_t, off_t, long, long>;
std::map<Identity, bool>& verified() {
    static std::map<Identity, bool> files;
    return files;
}

Identity identity(const struct stat& st) {
    return {st.st_dev, st.st_ino, st.st_size, static_cast<long>(st.st_mtim.tv_sec), st.st_mtim.tv_nsec};
}

}  // namespace

void write(const fs::path& file) {
    Fd f{::open(file.c_str(), O_RDWR | O_CLOEXEC)};
    if (f.fd < 0) throw io_error(file, "cannot open to seal");
    std::string header = std::string(kMagic) + "format 1\nxxh3-128 " + content_hash(f.fd, file) + "\n";
    header.resize(kBytes, '\0');
    if (::pwrite(f.fd, header.data(), header.size(), 0) != static_cast<ssize_t>(header.size()))
        throw io_error(file, "cannot write the run-file header");
    if (::fsync(f.fd) != 0) throw io_error(file, "cannot sync");
    struct stat st {};
    if (::fstat(f.fd, &st) == 0) verified()[identity(st)] = true;
}

State check(const fs::path& file, std::string* why) {
    auto say = [&](State s, const std::string& text) {
        if (why) *why = text;
        return s;
    };
    Fd f{::open(file.c_str(), O_RDONLY | O_CLOEXEC)};
    if (f.fd < 0) throw io_error(file, "cannot open");
    struct stat st {};
    if (::fstat(f.fd, &st) != 0) throw io_error(file, "cannot stat");
    if (verified().count(identity(st))) return State::intact;
    char header[kBytes] = {};
    const ssize_t n = ::pread(f.fd, header, kBytes, 0);
    if (n < 0) throw io_error(file, "cannot read");
    if (static_cast<unsigned long long>(n) < kBytes || std::memcmp(header, kMagic, sizeof kMagic - 1) != 0) {
        // A run file whose magic line took a flipped byte is still recognisably ours.
        const std::string text(header, static_cast<std::size_t>(n));
        if (text.find("xxh3-128 ") != std::string::npos && text.find("format ") != std::string::npos)
            return say(State::corrupted, "its header is damaged");
        return say(State::absent, "it has no laminar run-file header");
    }
    const std::string text(header, strnlen(header, kBytes));
    const auto at = text.find("\nxxh3-128 ");
    if (text.find("\nformat 1\n") == std::string::npos || at == std::string::npos || text.size() < at + 10 + 32)
        return say(State::corrupted, "its header is damaged");
    const std::string expected = text.substr(at + 10, 32);
    if (content_hash(f.fd, file) != expected) return say(State::corrupted, "its content does not match the checksum laminar wrote");
    verified()[identity(st)] = true;
    return State::intact;
}

void require_intact(const fs::path& file, bool writing) {
    std::string why;
    switch (check(file, &why)) {
        case State::intact: return;
        case State::absent:
            // laminar 0.1 wrote run files without a seal, and its root attribute laminar_version:
            // those stay readable and replaceable (the next commit seals them), unprotected.
            if (h5::is_hdf5(file)) {
                const h5::Handle f = h5::open_file(file, false);
                if (h5::has_attr(f, ".", "laminar_version")) return;
            }
            throw InputError(file.string() + ": not a laminar run file (" + why + ")" +
                                     (writing ? "; refusing to change a file laminar did not write (choose another --out)" : ""));
        case State::corrupted:
            throw std::runtime_error(file.string() + ": the run file is corrupted (" + why +
                                     "); it was changed after laminar wrote it. Re-run the experiment into a new file.");
    }
}

}  // namespace laminar::seal
