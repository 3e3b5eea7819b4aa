#include "regex.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdexcept>

namespace laminar::models {

struct Regex::Code {
    pcre2_code* code = nullptr;
    std::string pattern;  // as given, for errors
    ~Code() { pcre2_code_free(code); }
};

Regex::Regex(const std::string& pattern) : code_(std::make_unique<Code>()) {
    code_->pattern = pattern;
    int error = 0;
    PCRE2_SIZE offset = 0;
    code_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP,
                                &error, &offset, nullptr);
    if (!code_->code) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(error, message, sizeof message);
        throw std::runtime_error("pattern " + pattern + " does not compile at " + std::to_string(offset) + ": " +
                                 reinterpret_cast<const char*>(message));
    }
    pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE);  // the interpreter is used where JIT is unavailable
}

Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

std::vector<std::pair<std::size_t, std::size_t>> Regex::find_all(const std::string& text) const {
    std::vector<std::pair<std::size_t, std::size_t>> out;
    std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match(
        pcre2_match_data_create_from_pattern(code_->code, nullptr), pcre2_match_data_free);
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    std::size_t start = 0;
    while (start < text.size()) {
        // The text was checked as UTF-8 when it was decoded.
        const int rc = pcre2_match(code_->code, subject, text.size(), start, PCRE2_NO_UTF_CHECK, match.get(), nullptr);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {  // a resource limit (match limit, JIT stack, heap) on a pattern of the file
            PCRE2_UCHAR message[256];
            pcre2_get_error_message(rc, message, sizeof message);
            throw std::runtime_error("pre-tokenizer pattern " + code_->pattern + " failed on a text of " +
                                     std::to_string(text.size()) + " bytes (PCRE2 error " + std::to_string(rc) + ": " +
                                     reinterpret_cast<const char*>(message) + ")");
        }
        const PCRE2_SIZE* span = pcre2_get_ovector_pointer(match.get());
        if (span[1] == span[0]) {  // an empty match: step over one character
            start = span[0] + 1;
            while (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) ++start;
            continue;
        }
        out.emplace_back(span[0], span[1]);
        start = span[1];
    }
    return out;
}

std::string Regex::from_oniguruma(const std::string& pattern) {
    static const char* word = "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}";
    std::string out;
    bool in_class = false;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        const char c = pattern[i];
        if (c == '\\' && i + 1 < pattern.size()) {
            const char e = pattern[++i];
            switch (e) {
                case 's': out += "\\p{White_Space}"; break;
                case 'S': out += "\\P{White_Space}"; break;
                case 'd': out += "\\p{Nd}"; break;
                case 'D': out += "\\P{Nd}"; break;
                case 'w': out += in_class ? word : "[" + std::string(word) + "]"; break;
                case 'W':
                    if (in_class) throw std::runtime_error("pattern " + pattern + ": \\W inside [...] is not supported");
                    out += "[^" + std::string(word) + "]";
                    break;
                default: out += c; out += e;
            }
            continue;
        }
        if (c == '[' && !in_class) in_class = true;
        else if (c == ']' && in_class) in_class = false;
        out += c;
    }
    return out;
}

std::string Regex::literal(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (std::string(".*+?^${}()|[]\\/-").find(c) != std::string::npos) out += '\\';
        out += c;
    }
    return out;
}

}  // namespace laminar::models
