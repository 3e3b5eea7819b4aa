// GPT-2's byte-level BPE: the pre-tokenization regex (PCRE2), bytes mapped to printable
// characters, then merges by rank. Token ids match the reference encoder of the npm package
// gpt-3-encoder (tests/tokenizer/).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace laminar::gpt2 {

/// Not thread-safe (it caches BPE results and reuses one PCRE2 match block).
class Tokenizer {
public:
    /// From vocab.json + merges.txt, or else tokenizer.json, in `dir`.
    static Tokenizer load(const std::filesystem::path& dir);
    Tokenizer(std::unordered_map<std::string, int32_t> vocab, std::vector<std::pair<std::string, std::string>> merges);
    ~Tokenizer();
    Tokenizer(Tokenizer&&) noexcept;
    Tokenizer& operator=(Tokenizer&&) noexcept;

    /// Throws std::invalid_argument when `text` is not valid UTF-8.
    std::vector<int32_t> encode(const std::string& text) const;
    /// The bytes token `id` stands for; throws std::out_of_range for an unknown id.
    std::string decode(int32_t id) const;
    std::size_t vocab_size() const { return id_to_token_.size(); }

private:
    struct Regex;
    std::unique_ptr<Regex> regex_;
    std::unordered_map<std::string, int32_t> vocab_;
    std::vector<std::string> id_to_token_;
    std::unordered_map<std::string, int> ranks_;  // "left right" -> merge rank
    std::string byte_to_char_[256];               // GPT-2's bytes_to_unicode, as UTF-8
    std::unordered_map<std::string, unsigned char> char_to_byte_;
    mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;

    void bpe(const std::string& piece, std::vector<int32_t>& out) const;
};

}  // namespace laminar::gpt2
