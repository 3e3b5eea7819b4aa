// Content hashes that decide whether a stage must run again (XXH3-128, hex).
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace laminar {

std::string hash_text(const std::string& text);

/// Hash of a JSON value's canonical form (keys sorted, no whitespace).
std::string hash_json(const nlohmann::json& value);

/// XXH3-128 (hex) of a file's bytes, read through once.
std::string hash_file(const std::filesystem::path& file);

/// A model folder's identity, by content: every regular file in it (not recursive).
struct FolderIdentity {
    /// [{name, size, xxh3}] by name: what the model is, whatever folder or times it has.
    nlohmann::json files = nlohmann::json::array();
    /// {name: [device, inode, size, mtime_ns, ctime_ns, xxh3]}: what each hash was computed
    /// from, kept in the run file so that the next run hashes only the files that changed.
    nlohmann::json stats = nlohmann::json::object();
};

/// Hashes every byte of each file (a 14 GB model is a few seconds from the page cache, as
/// long as reading it from disk otherwise), except where `known` (a previous identity's
/// stats) holds the file's device, inode, size, mtime and ctime: then its hash is taken from
/// there, as git's index does. Size and mtime alone would not do: copying other weights of
/// the same size over a file with `cp -p`, or editing it and setting its mtime back, keeps
/// both; the ctime is set by the kernel on every change and cannot be set back by users.
/// Throws when the folder is missing.
FolderIdentity folder_identity(const std::filesystem::path& dir, const nlohmann::json& known = nlohmann::json::object());

}  // namespace laminar
