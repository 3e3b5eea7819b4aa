// Hypothesis RDMs from files: a CSV/TSV table (a header row of words, then one row per word:
// its label, then its dissimilarities) or a .npy [n x n] array with its words, one per line, in a
// .txt file of the same name beside it.
#pragma once

#include <armadillo>
#include <filesystem>
#include <string>
#include <vector>

namespace laminar::rsa {

/// The RDM in `file`, rows and columns put in the order of `words` (the stimuli's words).
/// Throws SpecError(field, ...) naming the file (and line) when it cannot be used: a word of the
/// stimuli missing, a word not among them, a label twice, an entry not a finite number, an
/// asymmetric matrix.
arma::mat read_hypothesis_rdm(const std::filesystem::path& file, const std::vector<std::string>& words,
                              const std::string& field);

}  // namespace laminar::rsa
