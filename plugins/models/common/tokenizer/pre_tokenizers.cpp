// Pre-tokenizers of tokenizer.json, as tokenizers.js applies them.
#include "pipeline.hpp"
#include "regex.hpp"
#include "unicode.hpp"

namespace laminar::models {

std::vector<std::string> PreTokenizer::split_all(const std::vector<std::string>& pieces, std::size_t section) const {
    std::vector<std::string> out;
    for (const auto& p : pieces)
        for (auto& s : split(p, section)) out.push_back(std::move(s));
    return out;
}

namespace {

const std::string kSpace = unicode::kJsSpaceClass;
// tokenizers.js's PUNCTUATION_REGEX: \p{P} and the ASCII symbols.
const std::string kPunct = "\\p{P}\\x{21}-\\x{2F}\\x{3A}-\\x{40}\\x{5B}-\\x{60}\\x{7B}-\\x{7E}";

std::vector<std::string> matches(const Regex& re, const std::string& text) {
    std::vector<std::string> out;
    for (const auto& [b, e] : re.find_all(text)) out.push_back(text.substr(b, e - b));
    return out;
}

/// GPT-2's byte-to-character map (bytes_to_unicode): printable bytes stand for themselves,
/// the others for U+0100 onwards. Each entry is the character in UTF-8.
const std::vector<std::string>& byte_chars() {
    static const std::vector<std::string> table = [] {
        std::vector<std::string> t(256);
        int next = 0;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            unicode::append(t[b], static_cast<char32_t>(printable ? b : 256 + next++));
        }
        return t;
    }();
    return table;
}

class ByteLevel : public PreTokenizer {
public:
    explicit ByteLevel(const nlohmann::json& c)
        : prefix_space_(c.value("add_prefix_space", false)), use_regex_(c.value("use_regex", true)),
          // GPT-2's pattern with JavaScript's \s, as tokenizers.js writes it.
          regex_("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" + kSpace + "\\p{L}\\p{N}]+|[" + kSpace + "]+(?![^" +
                 kSpace + "])|[" + kSpace + "]+") {}

    std::vector<std::string> split(const std::string& piece, std::size_t) const override {
        const std::string text = prefix_space_ && piece.rfind(' ', 0) != 0 ? " " + piece : piece;
        std::vector<std::string> out;
        for (const auto& m : use_regex_ ? matches(regex_, text) : std::vector<std::string>{text}) {
            std::string mapped;
            for (unsigned char b : m) mapped += byte_chars()[b];
            out.push_back(std::move(mapped));
        }
        return out;
    }
    bool byte_level() const override { return true; }

private:
    bool prefix_space_, use_regex_;
    Regex regex_;
};

class Metaspace : public PreTokenizer {
public:
    explicit Metaspace(const nlohmann::json& c)
        : replacement_(c.value("replacement", "\u2581")), scheme_(c.value("prepend_scheme", "always")) {
        // Older files say add_prefix_space instead of prepend_scheme.
        if (!c.contains("prepend_scheme") && c.contains("add_prefix_space") && !c["add_prefix_space"].get<bool>()) scheme_ = "never";
    }
    std::vector<std::string> split(const std::string& piece, std::size_t section) const override {
        std::string out;
        for (char ch : piece) {
            if (ch == ' ') out += replacement_;
            else out += ch;
        }
        if (out.rfind(replacement_, 0) != 0 && (scheme_ == "always" || (scheme_ == "first" && section == 0)))
            out = replacement_ + out;
        return {out};
    }

private:
    std::string replacement_, scheme_;
};

/// Split, Punctuation, Digits, BertPreTokenizer, Whitespace, WhitespaceSplit: a pattern each.
class Pattern : public PreTokenizer {
public:
    enum class Mode { matches, isolated, removed };
    Pattern(const std::string& pattern, Mode mode, bool trim = false) : regex_(pattern), mode_(mode), trim_(trim) {}

    std::vector<std::string> split(const std::string& piece, std::size_t) const override {
        const std::string text = trim_ ? unicode::trim_js(piece) : piece;
        if (mode_ == Mode::matches) return matches(regex_, text);
        std::vector<std::string> out;
        std::size_t at = 0;
        for (const auto& [b, e] : regex_.find_all(text)) {
            if (b > at) out.push_back(text.substr(at, b - at));
            if (mode_ == Mode::isolated) out.push_back(text.substr(b, e - b));
            at = e;
        }
        if (at < text.size()) out.push_back(text.substr(at));
        return out;
    }

private:
    Regex regex_;
    Mode mode_;
    bool trim_;
};

std::unique_ptr<PreTokenizer> make_split(const nlohmann::json& c) {
    const auto& p = c.at("pattern");
    const std::string pattern = p.contains("Regex") ? Regex::from_oniguruma(p["Regex"].get<std::string>())
                                                    : Regex::literal(p.at("String").get<std::string>());
    if (c.value("invert", false)) return std::make_unique<Pattern>(pattern, Pattern::Mode::matches);
    const std::string behavior = c.value("behavior", "Isolated");
    if (behavior == "Removed") return std::make_unique<Pattern>(pattern, Pattern::Mode::removed);
    if (behavior == "Isolated") return std::make_unique<Pattern>(pattern, Pattern::Mode::isolated);
    throw std::runtime_error("pre_tokenizer Split with behavior " + behavior + " is not supported by laminar");
}

class Sequence : public PreTokenizer {
public:
    explicit Sequence(const nlohmann::json& c) {
        for (const auto& p : c.at("pretokenizers"))
            if (auto made = create(p)) steps_.push_back(std::move(made));
    }
    std::vector<std::string> split(const std::string& piece, std::size_t section) const override {
        std::vector<std::string> pieces{piece};
        for (const auto& s : steps_) pieces = s->split_all(pieces, section);
        return pieces;
    }
    bool byte_level() const override {
        for (const auto& s : steps_)
            if (s->byte_level()) return true;
        return false;
    }

private:
    std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

}  // namespace

std::unique_ptr<PreTokenizer> PreTokenizer::create(const nlohmann::json& c) {
    if (c.is_null()) return nullptr;
    const std::string type = c.value("type", "");
    using M = Pattern::Mode;
    if (type == "ByteLevel") return std::make_unique<ByteLevel>(c);
    if (type == "Metaspace") return std::make_unique<Metaspace>(c);
    if (type == "Sequence") return std::make_unique<Sequence>(c);
    if (type == "Split") return make_split(c);
    if (type == "BertPreTokenizer")
        return std::make_unique<Pattern>("[^" + kSpace + kPunct + "]+|[" + kPunct + "]", M::matches, true);
    if (type == "Punctuation") return std::make_unique<Pattern>("[^" + kPunct + "]+|[" + kPunct + "]+", M::matches);
    if (type == "Digits")  // JavaScript's \d is ASCII
        return std::make_unique<Pattern>(c.value("individual_digits", false) ? "[^0-9]+|[0-9]" : "[^0-9]+|[0-9]+", M::matches);
    if (type == "WhitespaceSplit") return std::make_unique<Pattern>("[^" + kSpace + "]+", M::matches);
    if (type == "Whitespace") return std::make_unique<Pattern>("[A-Za-z0-9_]+|[^A-Za-z0-9_" + kSpace + "]+", M::matches);
    throw unsupported("pre_tokenizer", c);
}

}  // namespace laminar::models
