// Helpers every extractor needs: reading a `layers:` option and taking one row per stimulus
// from a hook's value. Header-only, so plugins stay independent of the host library.
#pragma once

#include <regex>
#include <string>
#include <vector>

#include "laminar/hook_names.hpp"
#include "laminar/types.hpp"

namespace laminar {

/// JSON Schema fragment for `layers:`: "all", or a list of layer numbers and "a-b" ranges.
inline constexpr const char* kLayersSchema = R"({
  "description": "\"all\", or a list of layer numbers (from 0) and ranges such as \"0-11\"",
  "oneOf": [
    {"enum": ["all"]},
    {"type": "array", "minItems": 1,
     "items": {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": "^[0-9]+-[0-9]+$"}]}}
  ]
})";

/// Expands a `layers:` option for a model of `n_layer` layers; throws SpecError naming the
/// offending entry ("layers[2]") when a layer does not exist or is listed twice.
inline std::vector<int> parse_layers(const Params& layers, int n_layer) {
    std::vector<int> out;
    auto add = [&](long long l, const std::string& written, const std::string& field) {
        if (l < 0 || l >= n_layer)
            throw SpecError(field, "layer " + written + " does not exist: the model has " + std::to_string(n_layer) +
                                       " layers, numbered 0 to " + std::to_string(n_layer - 1));
        for (int seen : out)
            if (seen == l) throw SpecError(field, "layer " + written + " is listed twice");
        out.push_back(static_cast<int>(l));
    };
    if (layers.is_string() && layers.get<std::string>() == "all") {
        for (int l = 0; l < n_layer; ++l) out.push_back(l);
        return out;
    }
    // Numbers are read as written: a layer number too large for any model is refused as such,
    // never wrapped into another one.
    auto number = [](const std::string& digits) { return digits.size() > 12 ? (1LL << 40) : std::stoll(digits); };
    for (std::size_t i = 0; i < layers.size(); ++i) {
        const std::string field = "layers[" + std::to_string(i) + "]";
        if (layers[i].is_number_unsigned()) {
            const auto l = layers[i].get<unsigned long long>();
            add(l > (1ULL << 40) ? (1LL << 40) : static_cast<long long>(l), std::to_string(l), field);
            continue;
        }
        if (layers[i].is_number_integer()) {
            add(layers[i].get<long long>(), std::to_string(layers[i].get<long long>()), field);
            continue;
        }
        std::smatch m;
        const std::string range = layers[i].get<std::string>();
        static const std::regex re("([0-9]+)-([0-9]+)");
        if (!std::regex_match(range, m, re) || number(m[1]) > number(m[2]))
            throw SpecError(field, "expected a range \"first-last\" with first <= last (got \"" + range + "\")");
        if (number(m[2]) >= n_layer) add(number(m[2]), m[2], field);  // refused, before counting to it
        for (long long l = number(m[1]); l <= number(m[2]); ++l) add(l, std::to_string(l), field);
    }
    return out;
}

/// The analysed row of one prompt's hook value `t` ([pos, ...]): the row at
/// `s.position`, or the mean over the word's tokens when position is -1 (word_mean).
/// The result has the product of the trailing dimensions as its width.
inline std::vector<float> stimulus_row(const Tensor& t, const Stimulus& s) {
    const int64_t width = t.shape.size() > 1 ? static_cast<int64_t>(t.data.size()) / t.shape[0] : 1;
    auto at = [&](int64_t pos) { return t.data.begin() + pos * width; };
    if (s.position >= 0) {
        if (s.position >= t.shape[0]) throw SpecError("", "position " + std::to_string(s.position) + " is beyond the prompt");
        return {at(s.position), at(s.position + 1)};
    }
    std::vector<double> sum(width, 0.0);
    for (int64_t p = s.word_begin; p < s.word_end; ++p)
        for (int64_t j = 0; j < width; ++j) sum[j] += at(p)[j];
    std::vector<float> mean(width);
    for (int64_t j = 0; j < width; ++j) mean[j] = static_cast<float>(sum[j] / (s.word_end - s.word_begin));
    return mean;
}

/// One hook's analysed rows for all stimuli, as an activation set ([n x width], row-major).
inline ActivationSet stimulus_rows(const std::string& hook, int layer, const std::string& site,
                                   const std::vector<Tensor>& values, const std::vector<Stimulus>& stimuli) {
    ActivationSet set{hook, layer, site, static_cast<int64_t>(stimuli.size()), 0, {}, {}};
    for (std::size_t i = 0; i < stimuli.size(); ++i) {
        const auto row = stimulus_row(values.at(i), stimuli[i]);
        set.cols = static_cast<int64_t>(row.size());
        set.data.insert(set.data.end(), row.begin(), row.end());
    }
    return set;
}

/// One hook's every token for all stimuli: a set with a row per token (ActivationSet::tokens),
/// the prompts' rows one after another.
inline ActivationSet token_rows(const std::string& hook, int layer, const std::string& site, const std::vector<Tensor>& values,
                                const std::vector<Stimulus>& stimuli) {
    ActivationSet set{hook, layer, site, 0, 0, {}, {}};
    for (std::size_t i = 0; i < stimuli.size(); ++i) {
        const Tensor& t = values.at(i);
        const int64_t positions = t.shape.at(0);
        set.cols = positions > 0 ? static_cast<int64_t>(t.data.size()) / positions : set.cols;
        set.rows += positions;
        set.tokens.push_back(positions);
        set.data.insert(set.data.end(), t.data.begin(), t.data.end());
    }
    return set;
}

/// An attention pattern's analysed query row for all stimuli, as a set with a row per token
/// (ActivationSet::tokens): each prompt's value is [head, query, key], T x T per head; its rows
/// are the prompt's tokens as keys and its columns the heads, so that row k of a stimulus is how
/// much its analysed token (the position, or the mean over the word's tokens) attends to token k
/// in each head (0 where the mask or a window hides it).
inline ActivationSet pattern_rows(const std::string& hook, int layer, const std::string& site, const std::vector<Tensor>& values,
                                  const std::vector<Stimulus>& stimuli) {
    ActivationSet set{hook, layer, site, 0, 0, {}, {}};
    for (std::size_t i = 0; i < stimuli.size(); ++i) {
        const Tensor& t = values.at(i);
        if (t.shape.size() != 3 || t.shape[1] != t.shape[2])
            throw SpecError("", hook + ": expected an attention pattern [head, query, key] of one prompt");
        const int64_t heads = t.shape[0], T = t.shape[1];
        const Stimulus& s = stimuli[i];
        const int64_t first = s.position >= 0 ? s.position : s.word_begin, last = s.position >= 0 ? s.position + 1 : s.word_end;
        if (last > T) throw SpecError("", "position " + std::to_string(last - 1) + " is beyond the prompt");
        set.cols = heads;
        set.rows += T;
        set.tokens.push_back(T);
        for (int64_t k = 0; k < T; ++k)
            for (int64_t h = 0; h < heads; ++h) {
                double sum = 0;
                for (int64_t q = first; q < last; ++q) sum += t.data[(h * T + q) * T + k];
                set.data.push_back(static_cast<float>(sum / (last - first)));
            }
    }
    return set;
}

}  // namespace laminar
