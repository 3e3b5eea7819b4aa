// tokenizer.model (a sentencepiece model) for folders without tokenizer.json, through Debian's
// libsentencepiece. Built as its own library (laminar-sentencepiece.so beside the plugins) and
// opened only when such a folder is met: linked into a model plugin, libsentencepiece's copy
// of protobuf crashed the process while libtorch's was being loaded alongside.
// BOS/EOS as tokenizer_config.json's add_bos_token / add_eos_token say (Llama's defaults: BOS only).
#include <sentencepiece_processor.h>

#include <cstring>

#include <nlohmann/json.hpp>

#include "tokenizer.hpp"
#include "unicode.hpp"

namespace laminar::models {

namespace {

class SentencePieceTokenizer : public Tokenizer {
public:
    SentencePieceTokenizer(const std::string& model, const nlohmann::json& config)
        : bos_(config.value("add_bos_token", true)), eos_(config.value("add_eos_token", false)) {
        const auto status = sp_.Load(model);
        if (!status.ok()) throw std::runtime_error(model + ": " + status.ToString());
    }

    Encoding encode(const std::string& text) const override {
        unicode::decode(text);  // throws on invalid UTF-8
        Encoding e;
        if (bos_ && sp_.bos_id() >= 0) e.ids.push_back(sp_.bos_id());
        e.content_begin = static_cast<int32_t>(e.ids.size());
        std::vector<int> ids;
        const auto status = sp_.Encode(text, &ids);
        if (!status.ok()) throw std::runtime_error("sentencepiece: " + status.ToString());
        e.ids.insert(e.ids.end(), ids.begin(), ids.end());
        e.content_end = static_cast<int32_t>(e.ids.size());
        if (eos_ && sp_.eos_id() >= 0) e.ids.push_back(sp_.eos_id());
        return e;
    }

    std::string token_text(int32_t id) const override {
        if (id < 0 || id >= sp_.GetPieceSize()) throw std::out_of_range("no token id " + std::to_string(id));
        const std::string piece = sp_.IdToPiece(id);
        if (sp_.IsByte(id)) return std::string(1, static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
        std::string out;  // the word boundary mark stands for a space
        for (char32_t c : unicode::decode(piece)) {
            if (c == U'\u2581') out += ' ';
            else unicode::append(out, c);
        }
        return out;
    }

    int32_t max_id() const override { return sp_.GetPieceSize() - 1; }

private:
    sentencepiece::SentencePieceProcessor sp_;
    bool bos_, eos_;
};

}  // namespace

}  // namespace laminar::models

/// The bridge's one entry point: a tokenizer for `model` with tokenizer_config.json's text
/// `config`, or nullptr with the reason in `error`.
extern "C" __attribute__((visibility("default"))) laminar::models::Tokenizer* laminar_sentencepiece_tokenizer(
    const char* model, const char* config, char* error, std::size_t error_size) {
    try {
        const auto json = nlohmann::json::parse(config);
        return new laminar::models::SentencePieceTokenizer(model, json);
    } catch (const std::exception& e) {
        std::snprintf(error, error_size, "%s", e.what());
        return nullptr;
    }
}
