#include "targets.hpp"

#include <map>

#include "laminar/types.hpp"
#include "laminar/word_table.hpp"

namespace laminar::encoding {

Targets read_targets(const std::filesystem::path& file, const std::vector<std::string>& words, const std::string& field) {
    WordTable table;
    try {
        table = read_word_table(file);
    } catch (const std::exception& e) {
        throw SpecError(field, e.what());
    }
    auto where = [&](std::size_t row) {
        return file.string() + (table.lines[row] ? ":" + std::to_string(table.lines[row]) : " (row " + std::to_string(row + 1) + ")");
    };
    std::map<std::string, std::size_t> row_of;
    for (std::size_t r = 0; r < table.words.size(); ++r)
        if (!row_of.emplace(table.words[r], r).second)
            throw SpecError(field, where(r) + ": the word '" + table.words[r] + "' has a row already (" + where(row_of[table.words[r]]) + ")");
    std::map<std::string, bool> stimulus;
    std::string missing;
    for (const auto& w : words) {
        stimulus[w] = true;
        if (!row_of.count(w)) missing += (missing.empty() ? "" : ", ") + w;
    }
    if (!missing.empty()) throw SpecError(field, file.string() + ": no row for the stimuli's word(s) " + missing);
    for (std::size_t r = 0; r < table.words.size(); ++r)
        if (!stimulus.count(table.words[r])) throw SpecError(field, where(r) + ": '" + table.words[r] + "' is not a word of the stimuli");
    Targets t;
    t.names = table.columns;
    const std::size_t cols = table.columns.size();
    t.values.set_size(words.size(), cols);
    for (std::size_t i = 0; i < words.size(); ++i)
        for (std::size_t j = 0; j < cols; ++j) t.values(i, j) = table.values[row_of[words[i]] * cols + j];
    return t;
}

arma::vec spearman_brown_ceiling(const arma::mat& first, const arma::mat& repeat) {
    arma::vec out(first.n_cols);
    for (arma::uword j = 0; j < first.n_cols; ++j) {
        const arma::vec a = first.col(j) - arma::mean(first.col(j)), b = repeat.col(j) - arma::mean(repeat.col(j));
        const double den = std::sqrt(arma::dot(a, a) * arma::dot(b, b));
        const double r = den > 0 ? arma::dot(a, b) / den : arma::datum::nan;
        out(j) = 2 * r / (1 + r);
    }
    return out;
}

}  // namespace laminar::encoding
