#include "unicode.hpp"

#include <stdexcept>

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

namespace laminar::models::unicode {

const char* const kJsSpaceClass =
    "\\t\\n\\x{0B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}";

std::u32string decode(const std::string& text) {
    std::u32string out;
    out.reserve(text.size());
    const auto* s = reinterpret_cast<const uint8_t*>(text.data());
    const int32_t n = static_cast<int32_t>(text.size());
    for (int32_t i = 0; i < n;) {
        const int32_t at = i;
        UChar32 c;
        U8_NEXT(s, i, n, c);
        if (c < 0) throw std::invalid_argument("text is not valid UTF-8 (byte " + std::to_string(at) + ")");
        out.push_back(static_cast<char32_t>(c));
    }
    return out;
}

void append(std::string& out, char32_t c) {
    if (c < 0x80) {
        out += static_cast<char>(c);
    } else if (c < 0x800) {
        out += static_cast<char>(0xC0 | (c >> 6));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        out += static_cast<char>(0xE0 | (c >> 12));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (c >> 18));
        out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    }
}

std::string encode(const std::u32string& text) {
    std::string out;
    out.reserve(text.size());
    for (char32_t c : text) append(out, c);
    return out;
}

std::string normalize(const std::string& text, const std::string& form) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = form == "NFC"    ? icu::Normalizer2::getNFCInstance(status)
                                : form == "NFD"  ? icu::Normalizer2::getNFDInstance(status)
                                : form == "NFKC" ? icu::Normalizer2::getNFKCInstance(status)
                                : form == "NFKD" ? icu::Normalizer2::getNFKDInstance(status)
                                                 : nullptr;
    if (!n) throw std::invalid_argument("unknown normalization form " + form);
    const icu::UnicodeString out = n->normalize(icu::UnicodeString::fromUTF8(text), status);
    if (U_FAILURE(status)) throw std::runtime_error(std::string("ICU normalization failed: ") + u_errorName(status));
    std::string utf8;
    return out.toUTF8String(utf8);
}

std::string lowercase(const std::string& text) {
    icu::UnicodeString s = icu::UnicodeString::fromUTF8(text);
    s.toLower(icu::Locale::getRoot());
    std::string utf8;
    return s.toUTF8String(utf8);
}

std::string remove_marks(const std::string& text, bool nonspacing_only) {
    std::string out;
    for (char32_t c : decode(text)) {
        const int cat = u_charType(static_cast<UChar32>(c));
        const bool mark = cat == U_NON_SPACING_MARK || (!nonspacing_only && (cat == U_ENCLOSING_MARK || cat == U_COMBINING_SPACING_MARK));
        if (!mark) append(out, c);
    }
    return out;
}

int category(char32_t c) { return u_charType(static_cast<UChar32>(c)); }

bool is_js_space(char32_t c) {
    switch (c) {
        case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0xA0: case 0x1680:
        case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000: case 0xFEFF:
            return true;
        default:
            return c >= 0x2000 && c <= 0x200A;
    }
}

std::string trim_js(const std::string& text, bool left, bool right) {
    const std::u32string s = decode(text);
    std::size_t b = 0, e = s.size();
    while (left && b < e && is_js_space(s[b])) ++b;
    while (right && e > b && is_js_space(s[e - 1])) --e;
    return encode(s.substr(b, e - b));
}

}  // namespace laminar::models::unicode
