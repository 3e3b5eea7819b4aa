#include "spec/stimuli_spec.hpp"

#include <algorithm>
#include <map>

#include "laminar/delimited_file.hpp"
#include "spec/yaml_document.hpp"

namespace laminar {

namespace fs = std::filesystem;

namespace {

constexpr const char* kMarker = "{word}";

bool one_marker(const std::string& text) {
    const auto at = text.find(kMarker);
    return at != std::string::npos && at == text.rfind(kMarker);
}

/// Words grouped by category (first appearance), each word's contexts in file order.
struct Grouped {
    std::vector<std::pair<std::string, std::vector<std::string>>> categories;
    std::map<std::string, std::vector<std::string>> contexts;  ///< word -> its texts, "{word}" marked
    std::map<std::string, std::pair<std::string, std::size_t>> first;  ///< word -> category, line
};

/// The stimuli file: a header naming the columns word, category and text (in any order, other
/// columns ignored), then one row per sentence.
void read_file(const fs::path& file, Grouped& g, std::vector<std::string>& problems) {
    std::vector<DelimitedRecord> records;
    try {
        records = read_delimited(file);
    } catch (const std::exception& e) {
        problems.push_back(e.what());
        return;
    }
    auto fail = [&](std::size_t line, const std::string& what) {
        problems.push_back(file.string() + ":" + std::to_string(line) + ": " + what);
    };
    if (records.empty()) return fail(1, "the file is empty; expected a header with the columns word, category and text");
    std::map<std::string, std::size_t> column;
    for (std::size_t i = 0; i < records[0].fields.size(); ++i) column.emplace(records[0].fields[i], i);
    for (const char* name : {"word", "category", "text"})
        if (!column.count(name))
            return fail(records[0].line, std::string("no column '") + name +
                                             "' in the header (expected the columns word, category and text)");
    if (records.size() == 1) return fail(records[0].line, "a header but no sentences");
    for (std::size_t r = 1; r < records.size(); ++r) {
        const auto& rec = records[r];
        if (rec.fields.size() != records[0].fields.size()) {
            fail(rec.line, std::to_string(rec.fields.size()) + " fields; the header has " +
                               std::to_string(records[0].fields.size()));
            continue;
        }
        const std::string& word = rec.fields[column["word"]];
        const std::string& category = rec.fields[column["category"]];
        std::string text = rec.fields[column["text"]];
        if (word.empty() || category.empty()) {
            fail(rec.line, std::string("column ") + (word.empty() ? "word" : "category") + ": empty");
            continue;
        }
        if (word.find('\0') != std::string::npos || text.find('\0') != std::string::npos) {
            fail(rec.line, "contains a NUL character (U+0000)");
            continue;
        }
        // The word is marked as {word}, or found at its first occurrence in the sentence.
        if (text.find(kMarker) == std::string::npos) {
            const auto at = text.find(word);
            if (at == std::string::npos) {
                fail(rec.line, "column text: neither {word} nor the word '" + word + "' appears in \"" + text + "\"");
                continue;
            }
            text.replace(at, word.size(), kMarker);
        } else if (!one_marker(text)) {
            fail(rec.line, "column text: expected {word} once");
            continue;
        }
        if (const std::string why = category_name_problem(category); !why.empty()) {
            fail(rec.line, "column category: " + why);
            continue;
        }
        auto [it, fresh] = g.first.emplace(word, std::make_pair(category, rec.line));
        if (!fresh && it->second.first != category) {
            fail(rec.line, "column category: '" + word + "' is in category '" + category + "' here but in '" +
                               it->second.first + "' on line " + std::to_string(it->second.second));
            continue;
        }
        if (fresh) {
            auto c = std::find_if(g.categories.begin(), g.categories.end(), [&](const auto& e) { return e.first == category; });
            if (c == g.categories.end()) c = g.categories.insert(c, {category, {}});
            c->second.push_back(word);
        }
        g.contexts[word].push_back(std::move(text));
    }
}

}  // namespace

std::string category_name_problem(const std::string& name) {
    const std::string expected = "; expected a non-empty name without '/', other than \".\" and \"..\"";
    if (name.empty()) return "an empty category name" + expected;
    if (name.find('/') != std::string::npos) return "category name \"" + name + "\" contains '/'" + expected;
    if (name == "." || name == "..") return "category name \"" + name + "\" is a path, not a name" + expected;
    return "";
}

StimuliSpec read_stimuli_spec(const nlohmann::json& s, const std::vector<std::string>& category_order,
                              const fs::path& file, const ProblemAt& at, std::vector<std::string>& in_file) {
    StimuliSpec spec;
    spec.position = s.value("position", "last");
    spec.contexts = s.value("contexts", "mean");
    const int given = int(s.contains("template")) + int(s.contains("templates")) + int(s.contains("file"));
    if (given != 1) {
        at("/stimuli", given ? "give one of template, templates and file, not several"
                             : "expected template (one context), templates (several) or file (sentences)", false);
        return spec;
    }
    if (s.contains("file") && s.contains("categories"))
        at("/stimuli/categories", "the stimuli file gives the categories (its column category); remove categories", false);
    if (!s.contains("file") && !s.contains("categories")) at("/stimuli", "expected categories (a mapping from category name to words)", false);

    Grouped g;
    if (s.contains("file")) {
        spec.file = file;
        if (!file.empty()) read_file(file, g, in_file);
    } else {
        spec.templates = s.contains("template") ? std::vector<std::string>{s["template"].get<std::string>()}
                                                : s["templates"].get<std::vector<std::string>>();
        for (std::size_t i = 0; i < spec.templates.size(); ++i) {
            const std::string pointer = s.contains("template") ? "/stimuli/template" : "/stimuli/templates/" + std::to_string(i);
            if (!one_marker(spec.templates[i])) at(pointer, "expected exactly one {word} placeholder", false);
            // A NUL would cut the text short in the run file's strings and in the tokenizer's C APIs.
            if (spec.templates[i].find('\0') != std::string::npos) at(pointer, "contains a NUL character (U+0000)", false);
            for (std::size_t k = 0; k < i; ++k)
                if (spec.templates[k] == spec.templates[i]) at(pointer, "the same context as templates[" + std::to_string(k) + "]", false);
        }
        std::map<std::string, std::string> seen;  // word -> category
        for (const auto& category : category_order) {
            if (const std::string why = category_name_problem(category); !why.empty())
                at(pointer_append("/stimuli/categories", category), why, true);
            const auto& list = s["categories"][category];
            for (std::size_t i = 0; i < list.size(); ++i) {
                const std::string word = list[i].get<std::string>();
                const std::string pointer = pointer_append(pointer_append("/stimuli/categories", category), std::to_string(i));
                if (word.find('\0') != std::string::npos) at(pointer, "contains a NUL character (U+0000)", false);
                auto [it, fresh] = seen.emplace(word, category);
                if (!fresh) {
                    at(pointer, "'" + word + "' is listed twice (also in " + it->second + ")", false);
                    continue;
                }
                auto c = std::find_if(g.categories.begin(), g.categories.end(), [&](const auto& e) { return e.first == category; });
                if (c == g.categories.end()) c = g.categories.insert(c, {category, {}});
                c->second.push_back(word);
                for (const auto& t : spec.templates) g.contexts[word].push_back(t);
            }
        }
    }
    spec.categories = std::move(g.categories);
    for (const auto& [category, words] : spec.categories)
        for (const auto& word : words) {
            const auto& texts = g.contexts[word];
            for (std::size_t c = 0; c < texts.size(); ++c) spec.prompts.push_back({word, category, texts[c], static_cast<int>(c)});
        }
    return spec;
}

}  // namespace laminar
