// The stages of a Hugging Face tokenizer, each built from its tokenizer.json section and
// behaving as tokenizers.js's class of the same name (ids equal on tests/tokenizer's corpora).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace laminar::models {

/// Thrown for a tokenizer.json section laminar does not read: names the section and type.
std::runtime_error unsupported(const std::string& section, const nlohmann::json& config);

class Normalizer {
public:
    virtual ~Normalizer() = default;
    virtual std::string normalize(const std::string& text) const = 0;
    /// null -> nullptr
    static std::unique_ptr<Normalizer> create(const nlohmann::json& config);
};

class PreTokenizer {
public:
    virtual ~PreTokenizer() = default;
    /// Splits each piece further; `section` is the index of the text section among those the
    /// added tokens cut the input into (Metaspace's prepend_scheme "first" looks at it).
    virtual std::vector<std::string> split(const std::string& piece, std::size_t section) const = 0;
    std::vector<std::string> split_all(const std::vector<std::string>& pieces, std::size_t section) const;
    static std::unique_ptr<PreTokenizer> create(const nlohmann::json& config);
    /// True for ByteLevel (alone or in a Sequence): token strings are then byte-mapped.
    virtual bool byte_level() const { return false; }
};

using Vocab = std::unordered_map<std::string, int32_t>;

/// A token id or a count from a tokenizer file: an integer from 0 to 2^31 - 1, else an error
/// naming `what` (a float such as 1e42 must not be converted: that is undefined behaviour).
int32_t checked_id(const nlohmann::json& value, const std::string& what);
/// tokenizer.json's `vocab` object, every id checked.
Vocab read_vocab(const nlohmann::json& vocab, const std::string& where);

/// A subword model: pieces in, ids out.
class SubwordModel {
public:
    virtual ~SubwordModel() = default;
    virtual void encode(const std::vector<std::string>& pieces, std::vector<int32_t>& ids) const = 0;
    /// tokenizer.json's `model` section; `where` names the file for errors.
    static std::unique_ptr<SubwordModel> create(const nlohmann::json& config, const std::string& where);
    const Vocab& vocab() const { return vocab_; }
    /// Registers an added token so that token strings resolve to it (tokenizers.js does so).
    void add_token(const std::string& content, int32_t id) { vocab_[content] = id; }

protected:
    Vocab vocab_;
};

/// Byte-pair encoding: lowest-ranked merge first, leftmost among equals (a priority queue, as
/// tokenizers.js and the Rust crate), with byte_fallback, fuse_unk and ignore_merges.
class Bpe : public SubwordModel {
public:
    struct Options {
        std::string unk_token;  ///< empty: none
        bool byte_fallback = false, fuse_unk = false, ignore_merges = false;
    };
    /// Throws std::runtime_error (prefixed with `where`) for ids that repeat, or merges whose
    /// parts or result are not in the vocabulary.
    Bpe(Vocab vocab, const std::vector<std::pair<std::string, std::string>>& merges, Options options,
        const std::string& where);
    void encode(const std::vector<std::string>& pieces, std::vector<int32_t>& ids) const override;

private:
    struct Merge { int32_t rank, result; };
    std::unordered_map<uint64_t, Merge> merges_;  // (left id << 32 | right id) -> merge
    void check_reachable(const std::string& where) const;
    Options options_;
    int32_t unk_id_ = -1;
    void bpe(const std::string& piece, std::vector<int32_t>& ids) const;
};

/// Greedy longest-match-first WordPiece, as BERT.
class WordPiece : public SubwordModel {
public:
    WordPiece(Vocab vocab, std::string unk_token, std::string prefix, std::size_t max_chars, const std::string& where);
    void encode(const std::vector<std::string>& pieces, std::vector<int32_t>& ids) const override;

private:
    std::string prefix_;
    std::size_t max_chars_;
    int32_t unk_id_;
};

/// Throws std::runtime_error naming `where` when two tokens share an id.
void check_unique_ids(const Vocab& vocab, const std::string& where);

}  // namespace laminar::models
