// Opening a file a user named (config.json, tokenizer files, weights, stimuli, hypotheses, run
// files) with an error that says what went wrong: missing, a dangling link, a directory, a FIFO
// or a device (which would block a read forever or never end), permission denied, too large.
// Header-only, for the host and the plugins.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace laminar {

/// The most a text file laminar reads whole may hold: 256 MiB, far above any tokenizer.json
/// (the largest on the Hub are a few tens of MB) or stimuli file, and still a bound on what a
/// file given by mistake (a disk image, a log) can make laminar allocate.
inline constexpr std::uintmax_t kTextFileLimit = 256u << 20;

/// An open, read-only regular file; the descriptor is closed with it.
class RegularFile {
public:
    RegularFile(int fd, std::uintmax_t size) : fd_(fd), size_(size) {}
    RegularFile(RegularFile&& o) noexcept : fd_(o.fd_), size_(o.size_) { o.fd_ = -1; }
    RegularFile(const RegularFile&) = delete;
    RegularFile& operator=(const RegularFile&) = delete;
    RegularFile& operator=(RegularFile&&) = delete;
    ~RegularFile() {
        if (fd_ >= 0) ::close(fd_);
    }
    int fd() const { return fd_; }
    std::uintmax_t size() const { return size_; }
    /// The descriptor, no longer closed by this object.
    int release() {
        const int fd = fd_;
        fd_ = -1;
        return fd;
    }

private:
    int fd_;
    std::uintmax_t size_;
};

namespace detail {

inline const char* file_kind(mode_t mode) {
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a plain file";
}

}  // namespace detail

/// Opens `file` for reading when it is a regular file (a link to one is followed); throws
/// std::runtime_error naming the file and what it is otherwise. `missing_hint` is added when the
/// file does not exist ("is DIR a Hugging Face model folder?"). The file is opened before it is
/// examined (O_NONBLOCK: opening a FIFO does not wait for a writer), so nothing can swap it
/// between the check and the read.
inline RegularFile open_regular_file(const std::filesystem::path& file, const std::string& missing_hint = "") {
    if (file.empty()) throw std::runtime_error("an empty path was given where a file was expected");
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        const int error = errno;
        std::error_code ec;
        if (error == ENOENT && std::filesystem::is_symlink(std::filesystem::symlink_status(file, ec)))
            throw std::runtime_error(file.string() + ": a dangling symbolic link to " +
                                     std::filesystem::read_symlink(file, ec).string() + " (which does not exist)");
        std::string text = file.string() + ": cannot open (" + std::strerror(error) + ")";
        if (error == ENOENT && !missing_hint.empty()) text += "; " + missing_hint;
        throw std::runtime_error(text);
    }
    RegularFile f(fd, 0);  // closed on the errors below
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw std::runtime_error(file.string() + ": cannot examine (" + std::strerror(errno) + ")");
    if (S_ISDIR(st.st_mode)) throw std::runtime_error(file.string() + ": is a directory, expected a file");
    if (!S_ISREG(st.st_mode))
        throw std::runtime_error(file.string() + ": not a regular file (" + detail::file_kind(st.st_mode) + "), expected a file");
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);  // (no effect on a regular file's reads; plain all the same)
    return RegularFile(f.release(), static_cast<std::uintmax_t>(st.st_size));
}

/// Throws as open_regular_file() would; for files another library opens by name (HDF5).
inline void require_regular_file(const std::filesystem::path& file, const std::string& missing_hint = "") {
    (void)open_regular_file(file, missing_hint);
}

/// The file's bytes; throws std::runtime_error naming the file and the reason, also when it
/// holds more than `limit` bytes.
inline std::string read_text_file(const std::filesystem::path& file, const std::string& missing_hint = "",
                                  std::uintmax_t limit = kTextFileLimit) {
    const RegularFile f = open_regular_file(file, missing_hint);
    if (f.size() > limit)
        throw std::runtime_error(file.string() + ": " + std::to_string(f.size()) + " bytes, more than the " +
                                 std::to_string(limit >> 20) + " MiB laminar reads from a text file");
    std::string content(static_cast<std::size_t>(f.size()), '\0');
    std::size_t done = 0;
    for (;;) {  // to the end, which may differ from the size seen when the file is being written
        if (done == content.size()) {
            if (content.size() > limit) break;
            content.resize(content.size() + 4096);
        }
        const ssize_t n = ::read(f.fd(), &content[done], content.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw std::runtime_error(file.string() + ": cannot read (" + std::strerror(errno) + ")");
        if (n == 0) break;
        done += static_cast<std::size_t>(n);
    }
    if (done > limit)
        throw std::runtime_error(file.string() + ": more than the " + std::to_string(limit >> 20) +
                                 " MiB laminar reads from a text file");
    content.resize(done);
    return content;
}

}  // namespace laminar
