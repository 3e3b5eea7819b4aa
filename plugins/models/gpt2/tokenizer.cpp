#include "tokenizer.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace laminar::gpt2 {

namespace fs = std::filesystem;

namespace {

// GPT-2's pattern with \s spelled out as JavaScript's \s (the reference encoder is JS):
// it includes U+FEFF and excludes U+0085, unlike Python's `regex` module.
constexpr const char* kSpace =
    "\\t\\n\\x{0B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}";

std::string pattern() {
    const std::string s = std::string("[") + kSpace + "]";
    const std::string not_s = std::string("[^") + kSpace + "]";
    return "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" + std::string(kSpace) + "\\p{L}\\p{N}]+|" + s +
           "+(?!" + not_s + ")|" + s + "+";
}

std::string utf8(uint32_t cp) {
    std::string out;
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return out;
}

nlohmann::json read_json(const fs::path& file) {
    std::ifstream in(file);
    if (!in) throw std::runtime_error(file.string() + ": cannot open");
    try {
        return nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error(file.string() + ": not valid JSON: " + e.what());
    }
}

std::pair<std::string, std::string> split_merge(const std::string& line, const fs::path& file, std::size_t n) {
    const auto space = line.find(' ');
    if (space == std::string::npos || space == 0 || space + 1 == line.size())
        throw std::runtime_error(file.string() + ":" + std::to_string(n) + ": expected a merge \"left right\"");
    return {line.substr(0, space), line.substr(space + 1)};
}

}  // namespace

struct Tokenizer::Regex {
    pcre2_code* code = nullptr;
    pcre2_match_data* match = nullptr;
    ~Regex() {
        pcre2_match_data_free(match);
        pcre2_code_free(code);
    }
};

Tokenizer::Tokenizer(std::unordered_map<std::string, int32_t> vocab,
                     std::vector<std::pair<std::string, std::string>> merges)
    : regex_(std::make_unique<Regex>()), vocab_(std::move(vocab)) {
    // bytes_to_unicode(): printable bytes map to themselves, the rest to U+0100 onwards.
    int next = 0;
    for (int b = 0; b < 256; ++b) {
        const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        byte_to_char_[b] = utf8(printable ? b : 256 + next++);
        char_to_byte_[byte_to_char_[b]] = static_cast<unsigned char>(b);
    }
    for (std::size_t r = 0; r < merges.size(); ++r)
        ranks_.emplace(merges[r].first + " " + merges[r].second, static_cast<int>(r));  // first one wins
    for (const auto& [token, id] : vocab_) {
        if (id < 0) throw std::runtime_error("vocabulary: negative id for token " + token);
        if (static_cast<std::size_t>(id) >= id_to_token_.size()) id_to_token_.resize(id + 1);
        id_to_token_[id] = token;
    }

    int error = 0;
    PCRE2_SIZE offset = 0;
    const std::string pat = pattern();
    regex_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pat.c_str()), PCRE2_ZERO_TERMINATED, PCRE2_UTF,
                                 &error, &offset, nullptr);
    if (!regex_->code) throw std::logic_error("GPT-2 pre-tokenization regex does not compile");
    pcre2_jit_compile(regex_->code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if JIT is unavailable
    regex_->match = pcre2_match_data_create_from_pattern(regex_->code, nullptr);
}

Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

Tokenizer Tokenizer::load(const fs::path& dir) {
    std::unordered_map<std::string, int32_t> vocab;
    std::vector<std::pair<std::string, std::string>> merges;
    if (fs::exists(dir / "vocab.json") && fs::exists(dir / "merges.txt")) {
        vocab = read_json(dir / "vocab.json").get<std::unordered_map<std::string, int32_t>>();
        std::ifstream in(dir / "merges.txt");
        std::string line;
        for (std::size_t n = 1; std::getline(in, line); ++n) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.empty() || line.rfind("#version", 0) == 0) continue;
            merges.push_back(split_merge(line, dir / "merges.txt", n));
        }
    } else if (fs::exists(dir / "tokenizer.json")) {
        const auto j = read_json(dir / "tokenizer.json");
        const auto& model = j.at("model");
        if (model.value("type", "BPE") != "BPE")
            throw std::runtime_error((dir / "tokenizer.json").string() + ": model.type is not BPE");
        vocab = model.at("vocab").get<std::unordered_map<std::string, int32_t>>();
        std::size_t n = 0;
        for (const auto& m : model.at("merges")) {  // "left right", or ["left", "right"] in newer files
            ++n;
            if (m.is_array()) merges.emplace_back(m.at(0).get<std::string>(), m.at(1).get<std::string>());
            else merges.push_back(split_merge(m.get<std::string>(), dir / "tokenizer.json", n));
        }
    } else {
        throw std::runtime_error(dir.string() + ": no tokenizer (expected vocab.json and merges.txt, or tokenizer.json)");
    }
    return Tokenizer(std::move(vocab), std::move(merges));
}

std::vector<int32_t> Tokenizer::encode(const std::string& text) const {
    std::vector<int32_t> ids;
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    PCRE2_SIZE start = 0;
    uint32_t options = 0;  // the first call checks the whole text is UTF-8; later calls need not
    while (start < text.size()) {
        const int rc = pcre2_match(regex_->code, subject, text.size(), start, options, regex_->match, nullptr);
        options = PCRE2_NO_UTF_CHECK;
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21)
                throw std::invalid_argument("text is not valid UTF-8 (byte " +
                                            std::to_string(pcre2_get_ovector_pointer(regex_->match)[0]) + ")");
            throw std::runtime_error("pre-tokenization failed (PCRE2 error " + std::to_string(rc) + ")");
        }
        const PCRE2_SIZE* span = pcre2_get_ovector_pointer(regex_->match);
        if (span[1] == span[0]) {  // cannot happen with this pattern; guard against looping
            ++start;
            continue;
        }
        std::string piece;
        for (PCRE2_SIZE i = span[0]; i < span[1]; ++i) piece += byte_to_char_[static_cast<unsigned char>(text[i])];
        bpe(piece, ids);
        start = span[1];
    }
    return ids;
}

void Tokenizer::bpe(const std::string& piece, std::vector<int32_t>& out) const {
    if (auto hit = cache_.find(piece); hit != cache_.end()) {
        out.insert(out.end(), hit->second.begin(), hit->second.end());
        return;
    }
    // Split into characters (each mapped byte is one UTF-8 character of 1-2 bytes).
    std::vector<std::string> word;
    for (std::size_t i = 0; i < piece.size();) {
        const std::size_t len = (static_cast<unsigned char>(piece[i]) & 0x80) == 0 ? 1 : 2;
        word.push_back(piece.substr(i, len));
        i += len;
    }
    while (word.size() > 1) {
        int best = std::numeric_limits<int>::max();
        std::size_t at = 0;
        for (std::size_t i = 0; i + 1 < word.size(); ++i) {
            auto r = ranks_.find(word[i] + " " + word[i + 1]);
            if (r != ranks_.end() && r->second < best) { best = r->second; at = i; }
        }
        if (best == std::numeric_limits<int>::max()) break;
        // Merge every occurrence of the best pair, left to right, as the reference does.
        const std::string first = word[at], second = word[at + 1];
        std::vector<std::string> merged;
        for (std::size_t i = 0; i < word.size();) {
            if (i + 1 < word.size() && word[i] == first && word[i + 1] == second) {
                merged.push_back(first + second);
                i += 2;
            } else {
                merged.push_back(word[i++]);
            }
        }
        word.swap(merged);
    }
    std::vector<int32_t> ids;
    for (const auto& token : word) {
        auto it = vocab_.find(token);
        if (it == vocab_.end()) throw std::runtime_error("vocabulary has no token for BPE piece '" + token + "'");
        ids.push_back(it->second);
    }
    out.insert(out.end(), ids.begin(), ids.end());
    cache_.emplace(piece, std::move(ids));
}

std::string Tokenizer::decode(int32_t id) const {
    if (id < 0 || static_cast<std::size_t>(id) >= id_to_token_.size()) throw std::out_of_range("no token id " + std::to_string(id));
    const std::string& token = id_to_token_[id];
    std::string bytes;
    for (std::size_t i = 0; i < token.size();) {
        const std::size_t len = (static_cast<unsigned char>(token[i]) & 0x80) == 0 ? 1 : 2;
        auto b = char_to_byte_.find(token.substr(i, len));
        bytes += b != char_to_byte_.end() ? static_cast<char>(b->second) : '?';
        i += len;
    }
    return bytes;
}

}  // namespace laminar::gpt2
