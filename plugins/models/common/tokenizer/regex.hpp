// PCRE2 patterns for pre-tokenizers: every non-empty match of a pattern in a text.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace laminar::models {

class Regex {
public:
    /// Throws std::runtime_error quoting the pattern and PCRE2's message when it does not compile.
    explicit Regex(const std::string& pattern);
    ~Regex();
    Regex(Regex&&) noexcept;
    Regex& operator=(Regex&&) noexcept;

    /// Byte ranges [begin, end) of the non-empty, non-overlapping matches, left to right.
    std::vector<std::pair<std::size_t, std::size_t>> find_all(const std::string& text) const;

    /// An Oniguruma pattern of a tokenizer.json rewritten as tokenizers.js reads it: \s is
    /// Unicode White_Space, \d is \p{Nd}, \w is letters, marks, decimal digits and connectors.
    static std::string from_oniguruma(const std::string& pattern);
    /// `text` with every regex syntax character escaped.
    static std::string literal(const std::string& text);

private:
    struct Code;
    std::unique_ptr<Code> code_;
};

}  // namespace laminar::models
