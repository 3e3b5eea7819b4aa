// The Unicode facts tokenizers need, from ICU (the library V8, and so tokenizers.js, uses):
// code points of UTF-8 text, normalization forms, full lowercasing, general categories, and
// the two whitespace sets that differ (JavaScript's \s and Unicode's White_Space).
#pragma once

#include <string>
#include <vector>

namespace laminar::models::unicode {

/// Code points of UTF-8 text; throws std::invalid_argument naming the byte when it is invalid.
std::u32string decode(const std::string& text);
std::string encode(const std::u32string& text);
void append(std::string& out, char32_t c);

/// "NFC", "NFD", "NFKC" or "NFKD".
std::string normalize(const std::string& text, const std::string& form);
/// Full lowercase mapping in the root locale (as String.prototype.toLowerCase).
std::string lowercase(const std::string& text);
/// Removes code points of general category Mn (`marks_only`) or of every M category.
std::string remove_marks(const std::string& text, bool nonspacing_only);

/// ICU's general category (U_CONTROL_CHAR, U_FORMAT_CHAR, ...).
int category(char32_t c);
/// JavaScript's \s: includes U+FEFF, excludes U+0085.
bool is_js_space(char32_t c);
/// The character class of JavaScript's \s, for PCRE2 patterns.
extern const char* const kJsSpaceClass;
/// Trims JavaScript whitespace at both ends (String.prototype.trim).
std::string trim_js(const std::string& text, bool left = true, bool right = true);

}  // namespace laminar::models::unicode
