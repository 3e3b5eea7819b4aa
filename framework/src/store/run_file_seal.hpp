// The run file's seal. HDF5 leaves the first bytes of a file to its user (the userblock); laminar
// writes there a header that names the file as its own, with an XXH3-128 hash of everything after
// it. HDF5 checksums its own metadata (file-format bounds 1.8 and later), but not the global heap
// where variable-length strings live, nor raw data: a flipped byte there reads back wrong or
// crashes the library. The seal is checked before HDF5 parses anything, so a corrupted file gives
// an error naming it, and a file another tool wrote is never taken for a run file.
#pragma once

#include <filesystem>
#include <string>

namespace laminar::seal {

/// Bytes reserved at the start of every run file (an HDF5 userblock: a power of two >= 512).
constexpr unsigned long long kBytes = 512;

/// Hashes the file after the userblock and writes the header into it (the file is closed).
void write(const std::filesystem::path& file);

enum class State { intact, absent, corrupted };

/// intact: laminar's header, and the content matches its hash. absent: no laminar header (a
/// file another tool, or a laminar before 0.4, wrote). corrupted: the header or the content
/// does not match; `why` says how. A file checked intact is not hashed again by this process
/// while its size and modification time stay the same.
State check(const std::filesystem::path& file, std::string* why = nullptr);

/// Throws naming the file unless check() finds it intact, or it is a run file of laminar 0.1
/// (unsealed, with the root attribute laminar_version). `writing`: the message for a file
/// without a seal says it will not be changed.
void require_intact(const std::filesystem::path& file, bool writing);

}  // namespace laminar::seal
