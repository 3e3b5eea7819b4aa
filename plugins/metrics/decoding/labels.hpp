// The decoding metric's labels: the words' categories, or a column of a table that has a `word`
// column (the stimuli file itself will do), each word with one label.
#pragma once

#include <armadillo>
#include <filesystem>
#include <string>
#include <vector>

namespace laminar::decoding {

struct Labels {
    std::vector<std::string> names;  ///< the classes, in order
    arma::uvec of_word;              ///< each word's class
};

/// The label of each of `words` in column `column` of `file` (a word on several rows, as in a
/// stimuli file, must have the same label on each; words the stimuli do not have are ignored).
/// Classes in order of first appearance among `words`. Throws SpecError("labels_file", ...)
/// naming the file and line.
Labels read_labels(const std::filesystem::path& file, const std::string& column, const std::vector<std::string>& words);

}  // namespace laminar::decoding
