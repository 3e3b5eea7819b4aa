#include "labels.hpp"

#include <algorithm>
#include <map>

#include "laminar/delimited_file.hpp"
#include "laminar/types.hpp"

namespace laminar::decoding {

Labels read_labels(const std::filesystem::path& file, const std::string& column, const std::vector<std::string>& words) {
    std::vector<DelimitedRecord> records;
    try {
        records = read_delimited(file);
    } catch (const std::exception& e) {
        throw SpecError("labels_file", e.what());
    }
    auto fail = [&](std::size_t line, const std::string& what) {
        throw SpecError("labels_file", file.string() + ":" + std::to_string(line) + ": " + what);
    };
    if (records.empty()) fail(1, "empty; expected a header with the columns word and " + column);
    const auto& header = records[0].fields;
    const auto at = [&](const std::string& name) {
        const auto it = std::find(header.begin(), header.end(), name);
        if (it == header.end()) fail(records[0].line, "no column '" + name + "' in the header (expected word and " + column + ")");
        return static_cast<std::size_t>(it - header.begin());
    };
    const std::size_t word_at = at("word"), label_at = at(column);
    std::map<std::string, std::pair<std::string, std::size_t>> label_of;  // word -> (label, line)
    for (std::size_t r = 1; r < records.size(); ++r) {
        const auto& rec = records[r];
        if (rec.fields.size() != header.size())
            fail(rec.line, std::to_string(rec.fields.size()) + " fields; the header has " + std::to_string(header.size()));
        const std::string& word = rec.fields[word_at];
        const std::string& label = rec.fields[label_at];
        if (label.empty()) fail(rec.line, "column " + column + ": empty");
        const auto [it, fresh] = label_of.emplace(word, std::make_pair(label, rec.line));
        if (!fresh && it->second.first != label)
            fail(rec.line, "column " + column + ": '" + word + "' is '" + label + "' here but '" + it->second.first + "' on line " +
                               std::to_string(it->second.second));
    }
    Labels out;
    out.of_word.set_size(words.size());
    std::string missing;
    for (std::size_t i = 0; i < words.size(); ++i) {
        const auto it = label_of.find(words[i]);
        if (it == label_of.end()) {
            missing += (missing.empty() ? "" : ", ") + words[i];
            continue;
        }
        const auto name = std::find(out.names.begin(), out.names.end(), it->second.first);
        out.of_word(i) = static_cast<arma::uword>(name - out.names.begin());
        if (name == out.names.end()) out.names.push_back(it->second.first);
    }
    if (!missing.empty()) throw SpecError("labels_file", file.string() + ": no row for the stimuli's word(s) " + missing);
    return out;
}

}  // namespace laminar::decoding
