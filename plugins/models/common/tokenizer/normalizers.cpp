// Normalizers of tokenizer.json, as tokenizers.js applies them.
#include <unicode/uchar.h>

#include "pipeline.hpp"
#include "regex.hpp"
#include "unicode.hpp"

namespace laminar::models {

std::runtime_error unsupported(const std::string& section, const nlohmann::json& config) {
    const std::string type = config.is_object() ? config.value("type", std::string("?")) : config.dump();
    return std::runtime_error(section + " of type " + type + " is not supported by laminar");
}

namespace {

/// "CJK Unified Ideographs" and their extensions, as BERT pads them with spaces. tokenizers.js
/// looks at UTF-16 code units, so only the ones in the Basic Multilingual Plane are padded.
bool is_chinese(char32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0xF900 && c <= 0xFAFF);
}

class BertNormalizer : public Normalizer {
public:
    explicit BertNormalizer(const nlohmann::json& c)
        : clean_(c.value("clean_text", true)), chinese_(c.value("handle_chinese_chars", true)),
          lowercase_(c.value("lowercase", true)),
          strip_(c.contains("strip_accents") && !c["strip_accents"].is_null() ? c["strip_accents"].get<bool>() ? 1 : 0 : -1) {}

    std::string normalize(const std::string& text) const override {
        std::string out;
        for (char32_t c : unicode::decode(text)) {
            if (clean_) {
                const int cat = unicode::category(c);
                const bool control = c != '\t' && c != '\n' && c != '\r' &&
                                     (cat == U_CONTROL_CHAR || cat == U_FORMAT_CHAR || cat == U_PRIVATE_USE_CHAR || cat == U_SURROGATE);
                if (c == 0 || c == 0xFFFD || control) continue;
                if (unicode::is_js_space(c)) c = ' ';
            }
            if (chinese_ && is_chinese(c)) {
                out += ' ';
                unicode::append(out, c);
                out += ' ';
            } else {
                unicode::append(out, c);
            }
        }
        if (lowercase_) {
            out = unicode::lowercase(out);
            if (strip_ != 0) out = unicode::remove_marks(unicode::normalize(out, "NFD"), true);
        } else if (strip_ == 1) {
            out = unicode::remove_marks(unicode::normalize(out, "NFD"), true);
        }
        return out;
    }

private:
    bool clean_, chinese_, lowercase_;
    int strip_;  // -1: null (follows lowercase)
};

class Sequence : public Normalizer {
public:
    explicit Sequence(const nlohmann::json& c) {
        for (const auto& n : c.at("normalizers"))
            if (auto made = create(n)) steps_.push_back(std::move(made));
    }
    std::string normalize(const std::string& text) const override {
        std::string t = text;
        for (const auto& s : steps_) t = s->normalize(t);
        return t;
    }

private:
    std::vector<std::unique_ptr<Normalizer>> steps_;
};

/// Replace, Prepend, NFC/NFD/NFKC/NFKD, Lowercase, StripAccents, Strip: one function each.
class Simple : public Normalizer {
public:
    // Every option is read here, where a missing or mistyped one is reported against the file,
    // never first at encoding time.
    explicit Simple(const nlohmann::json& c) : type_(c.at("type").get<std::string>()) {
        if (type_ == "Prepend") prepend_ = c.at("prepend").get<std::string>();
        if (type_ == "Strip") {
            strip_left_ = c.value("strip_left", false);
            strip_right_ = c.value("strip_right", false);
        }
        if (type_ == "Replace") {
            const auto& p = c.at("pattern");
            pattern_ = std::make_unique<Regex>(p.contains("Regex") ? Regex::from_oniguruma(p["Regex"].get<std::string>())
                                                                   : Regex::literal(p.at("String").get<std::string>()));
            content_ = c.value("content", "");
        }
    }
    std::string normalize(const std::string& text) const override {
        if (type_ == "Prepend") return prepend_ + text;
        if (type_ == "Lowercase") return unicode::lowercase(text);
        if (type_ == "StripAccents") return unicode::remove_marks(text, false);
        if (type_ == "Strip") return unicode::trim_js(text, strip_left_, strip_right_);
        if (type_ == "Replace") {
            std::string out;
            std::size_t at = 0;
            for (const auto& [b, e] : pattern_->find_all(text)) {
                out.append(text, at, b - at);
                out += content_;
                at = e;
            }
            return out + text.substr(at);
        }
        return unicode::normalize(text, type_);  // NFC, NFD, NFKC, NFKD
    }

private:
    std::string type_, prepend_;
    bool strip_left_ = false, strip_right_ = false;
    std::unique_ptr<Regex> pattern_;
    std::string content_;
};

}  // namespace

std::unique_ptr<Normalizer> Normalizer::create(const nlohmann::json& config) {
    if (config.is_null()) return nullptr;
    const std::string type = config.value("type", "");
    if (type == "BertNormalizer") return std::make_unique<BertNormalizer>(config);
    if (type == "Sequence") return std::make_unique<Sequence>(config);
    for (const char* t : {"Replace", "Prepend", "NFC", "NFD", "NFKC", "NFKD", "Lowercase", "StripAccents", "Strip"})
        if (type == t) return std::make_unique<Simple>(config);
    throw unsupported("normalizer", config);
}

}  // namespace laminar::models
