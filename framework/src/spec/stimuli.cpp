#include "spec/stimuli.hpp"

#include <algorithm>
#include <map>

#include "runtime/errors.hpp"

namespace laminar {

std::vector<Stimulus> build_stimuli(const StimuliSpec& spec, const ModelBackend& model,
                                    std::vector<std::string>& warnings) {
    // The text's own tokens: what the tokenizer adds around it (BOS, [CLS] ... [SEP]) is never
    // part of the word nor a position analysed.
    auto content = [&](const std::string& text) {
        const Encoding e = model.encode(text);
        return std::vector<int32_t>(e.ids.begin() + e.content_begin, e.ids.begin() + e.content_end);
    };
    std::map<std::string, std::vector<int32_t>> prefix_tokens;  // contexts share their prefixes' tokens

    std::vector<Stimulus> out;
    std::vector<std::string> split_words;
    for (const auto& prompt : spec.prompts) {
        const auto at = prompt.text.find("{word}");
        const std::string prefix = prompt.text.substr(0, at);
        const std::string& word = prompt.word;
        // The space before the word belongs to the word's first token in GPT-2-style tokenizers
        // (" galaxy"), so the prefix is tokenized without its trailing whitespace.
        const std::string prefix_core = prefix.substr(0, prefix.find_last_not_of(" \t\n") + 1);
        auto cached = prefix_tokens.find(prefix_core);
        if (cached == prefix_tokens.end())
            cached = prefix_tokens.emplace(prefix_core, prefix_core.empty() ? std::vector<int32_t>{} : content(prefix_core)).first;
        const std::vector<int32_t>& prefix_ids = cached->second;
        Stimulus s;
        s.word = word;
        s.category = prompt.category;
        s.context = prompt.context;
        s.text = prefix + word + prompt.text.substr(at + 6);
        const Encoding full = model.encode(s.text);
        s.token_ids = full.ids;
        const std::vector<int32_t> text_ids(full.ids.begin() + full.content_begin, full.ids.begin() + full.content_end);
        const std::vector<int32_t> through_word = content(prefix + word);
        const bool prefix_kept = through_word.size() > prefix_ids.size() &&
                                 std::equal(prefix_ids.begin(), prefix_ids.end(), through_word.begin()) &&
                                 text_ids.size() >= through_word.size() &&
                                 std::equal(through_word.begin(), through_word.end(), text_ids.begin());
        if (!prefix_kept)
            throw InputError("stimuli: the tokenizer merges '" + word + "' with the text around it in \"" + s.text +
                             "\", so its tokens cannot be located");
        s.word_begin = full.content_begin + static_cast<int32_t>(prefix_ids.size());
        s.word_end = full.content_begin + static_cast<int32_t>(through_word.size());
        if (s.word_end - s.word_begin > 1 && (split_words.empty() || split_words.back().rfind(word + " (", 0) != 0))
            split_words.push_back(word + " (" + std::to_string(s.word_end - s.word_begin) + " tokens)");
        if (spec.position == "last") s.position = full.content_end - 1;
        else if (spec.position == "word_last") s.position = s.word_end - 1;
        else if (spec.position == "word_first") s.position = s.word_begin;
        else s.position = -1;  // word_mean: the extractor averages [word_begin, word_end)
        out.push_back(std::move(s));
    }
    if (!split_words.empty()) {
        // The first few name the case; a list of all 40,000 words of a large set would be one
        // line of most of a megabyte.
        constexpr std::size_t kListed = 10;
        std::string list;
        for (std::size_t i = 0; i < std::min(kListed, split_words.size()); ++i) list += (i ? ", " : "") + split_words[i];
        if (split_words.size() > kListed) list += ", ... and " + std::to_string(split_words.size() - kListed) + " more";
        warnings.push_back(std::to_string(split_words.size()) + " word(s) split into several tokens; position '" +
                           spec.position + "' decides which is analysed: " + list);
    }
    return out;
}

}  // namespace laminar
