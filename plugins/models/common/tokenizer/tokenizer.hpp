// Tokenizers of the model folders people have: tokenizer.json (Hugging Face's pipeline:
// added tokens, normalizer, pre-tokenizer, BPE or WordPiece model, post-processor), the older
// vocab.json + merges.txt (byte-level BPE), vocab.txt (BERT's WordPiece) and tokenizer.model
// (sentencepiece, through Debian's libsentencepiece). Ids follow tokenizers.js, `encode(text)` with its
// defaults (tests/tokenizer/).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "laminar/model_backend.hpp"

namespace laminar::models {

class Tokenizer {
public:
    virtual ~Tokenizer() = default;
    /// Throws std::invalid_argument when `text` is not valid UTF-8.
    virtual Encoding encode(const std::string& text) const = 0;
    /// The text token `id` stands for; throws std::out_of_range for an unknown id.
    virtual std::string token_text(int32_t id) const = 0;
    /// The largest id the tokenizer can produce (checked against the model's vocab_size).
    virtual int32_t max_id() const = 0;
    /// The id of the mask token a masked language model was trained to fill (BERT's [MASK]),
    /// or -1 where the tokenizer has none.
    int32_t mask_token() const { return mask_token_; }

    /// From `dir`: tokenizer.json, else vocab.json + merges.txt, else vocab.txt, else
    /// tokenizer.model. Throws std::runtime_error naming the file on what cannot be right.
    static std::unique_ptr<Tokenizer> load(const std::filesystem::path& dir);

private:
    int32_t mask_token_ = -1;
};

}  // namespace laminar::models
