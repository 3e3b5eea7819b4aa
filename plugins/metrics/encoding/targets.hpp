// The encoding metric's targets: numbers per word (brain responses, ratings, reading times) in a
// file laminar/word_table.hpp reads, checked against the stimuli's words and put in their order.
#pragma once

#include <armadillo>
#include <filesystem>
#include <string>
#include <vector>

namespace laminar::encoding {

struct Targets {
    std::vector<std::string> names;  ///< one per column
    arma::mat values;                ///< [words x targets], rows in the order of `words`
};

/// The targets in `file`, rows in the order of `words`. Throws SpecError(field, ...) naming the
/// file (and line) where a word of the stimuli has no row, a row names no word of the stimuli,
/// a word has two rows, or a value is not a finite number.
Targets read_targets(const std::filesystem::path& file, const std::vector<std::string>& words, const std::string& field);

/// The split-half ceiling of each target, Spearman-Brown corrected: with r the Pearson
/// correlation across words of the targets and their repeated measurement, 2r / (1 + r). NaN
/// where either has no variance.
arma::vec spearman_brown_ceiling(const arma::mat& first, const arma::mat& repeat);

}  // namespace laminar::encoding
