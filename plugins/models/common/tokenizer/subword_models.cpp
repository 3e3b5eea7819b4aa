// BPE and WordPiece, as tokenizers.js's classes of those names.
#include <cstdint>
#include <cstdio>
#include <queue>
#include <set>

#include "pipeline.hpp"
#include "unicode.hpp"

namespace laminar::models {

void check_unique_ids(const Vocab& vocab, const std::string& where) {
    std::unordered_map<int32_t, const std::string*> seen;
    for (const auto& [token, id] : vocab) {
        if (id < 0) throw std::runtime_error(where + ": token " + nlohmann::json(token).dump() + " has negative id " + std::to_string(id));
        auto [it, fresh] = seen.emplace(id, &token);
        if (!fresh)
            throw std::runtime_error(where + ": tokens " + nlohmann::json(*it->second).dump() + " and " +
                                     nlohmann::json(token).dump() + " share id " + std::to_string(id));
    }
}

int32_t checked_id(const nlohmann::json& value, const std::string& what) {
    if (!value.is_number_integer() || (value.is_number_unsigned() ? value.get<uint64_t>() > INT32_MAX
                                                                  : value.get<int64_t>() < 0 || value.get<int64_t>() > INT32_MAX))
        throw std::runtime_error(what + " is " + value.dump() + "; expected an integer from 0 to 2147483647");
    return static_cast<int32_t>(value.get<int64_t>());
}

Vocab read_vocab(const nlohmann::json& vocab, const std::string& where) {
    if (!vocab.is_object()) throw std::runtime_error(where + ": the vocabulary is not a JSON object of token: id");
    Vocab out;
    for (auto it = vocab.begin(); it != vocab.end(); ++it)
        out.emplace(it.key(), checked_id(it.value(), where + ": the id of token " + nlohmann::json(it.key()).dump()));
    return out;
}

Bpe::Bpe(Vocab vocab, const std::vector<std::pair<std::string, std::string>>& merges, Options options,
         const std::string& where)
    : options_(std::move(options)) {
    vocab_ = std::move(vocab);
    check_unique_ids(vocab_, where);
    if (!options_.unk_token.empty()) {
        auto it = vocab_.find(options_.unk_token);
        if (it == vocab_.end()) throw std::runtime_error(where + ": unk_token " + options_.unk_token + " is not in the vocabulary");
        unk_id_ = it->second;
    }
    for (std::size_t r = 0; r < merges.size(); ++r) {
        const auto& [left, right] = merges[r];
        auto l = vocab_.find(left), rt = vocab_.find(right), m = vocab_.find(left + right);
        if (l == vocab_.end() || rt == vocab_.end() || m == vocab_.end())
            throw std::runtime_error(where + ": merge " + std::to_string(r + 1) + " (" + nlohmann::json(left + " " + right).dump() +
                                     ") has a part or a result that is not in the vocabulary");
        const uint64_t key = (static_cast<uint64_t>(l->second) << 32) | static_cast<uint32_t>(rt->second);
        merges_.emplace(key, Merge{static_cast<int32_t>(r), m->second});  // the first listing wins
    }
    check_reachable(where);
}

// Every multi-character token of a BPE vocabulary is the result of a merge, apart from a few
// special and byte-fallback tokens. An empty or truncated merges list would otherwise go
// unnoticed and tokenize character by character.
void Bpe::check_reachable(const std::string& where) const {
    if (options_.ignore_merges) return;  // Llama-3: whole words are looked up before merging
    std::vector<bool> produced;
    for (const auto& [key, merge] : merges_) {
        if (merge.result >= static_cast<int32_t>(produced.size())) produced.resize(merge.result + 1);
        produced[merge.result] = true;
    }
    std::size_t unreachable = 0;
    const std::string* example = nullptr;
    for (const auto& [token, id] : vocab_) {
        std::size_t characters = 0;
        for (unsigned char c : token) characters += (c & 0xC0) != 0x80;
        if (characters < 2 || (id < static_cast<int32_t>(produced.size()) && produced[id])) continue;
        ++unreachable;
        if (!example || token.size() < example->size()) example = &token;
    }
    if (unreachable > 16 && unreachable * 4 > vocab_.size())
        throw std::runtime_error(where + ": " + std::to_string(unreachable) + " of the vocabulary's " +
                                 std::to_string(vocab_.size()) + " tokens have several characters but no merge makes them (" +
                                 std::to_string(merges_.size()) + " merges; e.g. " + nlohmann::json(*example).dump() +
                                 "): the merges are missing or cut short, and BPE would never produce those tokens");
}

void Bpe::encode(const std::vector<std::string>& pieces, std::vector<int32_t>& ids) const {
    const std::size_t first = ids.size();
    for (const auto& piece : pieces) {
        if (piece.empty()) continue;
        if (options_.ignore_merges)
            if (auto it = vocab_.find(piece); it != vocab_.end()) { ids.push_back(it->second); continue; }
        bpe(piece, ids);
    }
    if (options_.fuse_unk && unk_id_ >= 0) {  // runs of unknown tokens become one
        std::size_t out = first;
        for (std::size_t i = first; i < ids.size(); ++i)
            if (!(ids[i] == unk_id_ && out > first && ids[out - 1] == unk_id_)) ids[out++] = ids[i];
        ids.resize(out);
    }
}

void Bpe::bpe(const std::string& piece, std::vector<int32_t>& ids) const {
    struct Symbol {
        int32_t id;        // -1: a character the vocabulary lacks (never merged)
        std::string text;  // kept for byte fallback
        int prev, next;
        bool alive = true;
    };
    std::vector<Symbol> word;
    const std::u32string chars = unicode::decode(piece);
    for (std::size_t i = 0; i < chars.size(); ++i) {
        std::string c;
        unicode::append(c, chars[i]);
        auto it = vocab_.find(c);
        word.push_back({it == vocab_.end() ? -1 : it->second, c, static_cast<int>(i) - 1,
                        i + 1 < chars.size() ? static_cast<int>(i) + 1 : -1});
    }
    // Candidate merges by (rank, position of the left symbol); stale ones are skipped on pop.
    struct Candidate {
        int32_t rank;
        int left;
        int32_t left_id, right_id;
        bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
    auto consider = [&](int left) {
        if (left < 0 || word[left].next < 0) return;
        const Symbol &a = word[left], &b = word[a.next];
        if (a.id < 0 || b.id < 0) return;
        auto it = merges_.find((static_cast<uint64_t>(a.id) << 32) | static_cast<uint32_t>(b.id));
        if (it != merges_.end()) queue.push({it->second.rank, left, a.id, b.id});
    };
    for (std::size_t i = 0; i + 1 < word.size(); ++i) consider(static_cast<int>(i));
    while (!queue.empty()) {
        const Candidate c = queue.top();
        queue.pop();
        Symbol& a = word[c.left];
        if (!a.alive || a.id != c.left_id || a.next < 0 || word[a.next].id != c.right_id) continue;
        Symbol& b = word[a.next];
        a.id = merges_.at((static_cast<uint64_t>(c.left_id) << 32) | static_cast<uint32_t>(c.right_id)).result;
        b.alive = false;
        a.next = b.next;
        if (b.next >= 0) word[b.next].prev = c.left;
        consider(a.prev);
        consider(c.left);
    }
    for (int i = word.empty() ? -1 : 0; i >= 0; i = word[i].next) {
        const Symbol& s = word[i];
        if (s.id >= 0) { ids.push_back(s.id); continue; }
        if (options_.byte_fallback) {  // <0xXX> per byte, when the vocabulary has them all
            std::vector<int32_t> bytes;
            for (unsigned char b : s.text) {
                char name[8];
                std::snprintf(name, sizeof name, "<0x%02X>", b);
                auto it = vocab_.find(name);
                if (it == vocab_.end()) { bytes.clear(); break; }
                bytes.push_back(it->second);
            }
            if (!bytes.empty()) { ids.insert(ids.end(), bytes.begin(), bytes.end()); continue; }
        }
        if (unk_id_ >= 0) ids.push_back(unk_id_);
    }
}

WordPiece::WordPiece(Vocab vocab, std::string unk_token, std::string prefix, std::size_t max_chars, const std::string& where)
    : prefix_(std::move(prefix)), max_chars_(max_chars) {
    vocab_ = std::move(vocab);
    check_unique_ids(vocab_, where);
    auto it = vocab_.find(unk_token);
    if (it == vocab_.end()) throw std::runtime_error(where + ": unk_token " + unk_token + " is not in the vocabulary");
    unk_id_ = it->second;
}

void WordPiece::encode(const std::vector<std::string>& pieces, std::vector<int32_t>& ids) const {
    for (const auto& piece : pieces) {
        const std::u32string chars = unicode::decode(piece);
        if (chars.size() > max_chars_) { ids.push_back(unk_id_); continue; }
        std::vector<int32_t> sub;
        bool unknown = false;
        for (std::size_t start = 0; start < chars.size() && !unknown;) {
            std::size_t end = chars.size();
            int32_t found = -1;
            for (; end > start; --end) {
                const std::string s = (start > 0 ? prefix_ : "") + unicode::encode(chars.substr(start, end - start));
                if (auto it = vocab_.find(s); it != vocab_.end()) { found = it->second; break; }
            }
            if (found < 0) unknown = true;
            else sub.push_back(found);
            start = end;
        }
        if (unknown) ids.push_back(unk_id_);
        else ids.insert(ids.end(), sub.begin(), sub.end());
    }
}

namespace {

/// Option `key` of the model section; missing and null read alike, as the Rust crate reads them.
nlohmann::json option(const nlohmann::json& c, const char* key) { return c.contains(key) ? c[key] : nlohmann::json(); }

[[noreturn]] void bad_option(const std::string& where, const std::string& model, const char* key, const nlohmann::json& value,
                             const std::string& expected) {
    throw std::runtime_error(where + ": " + model + " option " + key + " is " + value.dump() + "; " + expected);
}

bool flag(const nlohmann::json& c, const char* key, const std::string& where, const std::string& model) {
    const nlohmann::json v = option(c, key);
    if (!v.is_null() && !v.is_boolean()) bad_option(where, model, key, v, "expected true, false or null");
    return v.is_boolean() && v.get<bool>();
}

std::string text(const nlohmann::json& c, const char* key, const std::string& fallback, const std::string& where,
                 const std::string& model) {
    const nlohmann::json v = option(c, key);
    if (v.is_null()) return fallback;
    if (!v.is_string()) bad_option(where, model, key, v, "expected a string");
    return v.get<std::string>();
}

/// The model's `type`, or what an older file without one stands for. The Rust crate tries each
/// model in turn (BPE needs vocab and merges; WordPiece, tried next, vocab, unk_token,
/// continuing_subword_prefix and max_input_chars_per_word); tokenizers.js looks for merges.
std::string model_type(const nlohmann::json& c, const std::string& where) {
    if (!c.is_object()) throw std::runtime_error(where + ": model is " + c.dump().substr(0, 80) + "; expected an object");
    if (c.contains("type")) {
        if (!c["type"].is_string()) throw std::runtime_error(where + ": model type is " + c["type"].dump() + "; expected a string");
        return c["type"].get<std::string>();
    }
    if (c.contains("vocab") && c.contains("merges")) return "BPE";
    if (c.contains("vocab") && (c.contains("continuing_subword_prefix") || c.contains("max_input_chars_per_word"))) return "WordPiece";
    std::string keys;
    for (auto it = c.begin(); it != c.end(); ++it) keys += (keys.empty() ? "" : ", ") + it.key();
    throw std::runtime_error(where + ": model has no type, and its keys (" + keys +
                             ") are neither a BPE's (vocab and merges) nor a WordPiece's (vocab and continuing_subword_prefix "
                             "or max_input_chars_per_word), the models laminar reads");
}

}  // namespace

std::unique_ptr<SubwordModel> SubwordModel::create(const nlohmann::json& c, const std::string& where) {
    const std::string type = model_type(c, where);
    if (type == "WordPiece") {
        const nlohmann::json max_chars = option(c, "max_input_chars_per_word");
        return std::make_unique<WordPiece>(read_vocab(c.at("vocab"), where), text(c, "unk_token", "[UNK]", where, type),
                                           text(c, "continuing_subword_prefix", "##", where, type),
                                           checked_id(max_chars.is_null() ? nlohmann::json(100) : max_chars,
                                                      where + ": WordPiece option max_input_chars_per_word"), where);
    }
    if (type != "BPE") throw unsupported("model", c);
    // Options at their defaults are read as such (the Hub's gpt2 and roberta files carry "" for
    // the prefix and suffix); only values that would change the ids are refused.
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
        if (!text(c, key, "", where, type).empty())
            bad_option(where, type, key, c[key], "laminar reads BPE models without one (null or \"\")");
    if (const nlohmann::json d = option(c, "dropout"); !d.is_null() && !(d.is_number() && d.get<double>() == 0.0))
        bad_option(where, type, "dropout", d, "dropout draws other ids on every call, and laminar reads BPE models without it (null or 0)");
    std::vector<std::pair<std::string, std::string>> merges;
    std::size_t n = 0;
    for (const auto& m : c.at("merges")) {  // "left right", or ["left", "right"] in newer files
        ++n;
        if (m.is_array()) {
            merges.emplace_back(m.at(0).get<std::string>(), m.at(1).get<std::string>());
            continue;
        }
        const std::string s = m.get<std::string>();
        const auto space = s.find(' ');
        if (space == std::string::npos || space == 0 || space + 1 == s.size())
            throw std::runtime_error(where + ": merge " + std::to_string(n) + " " + nlohmann::json(s).dump() + " is not \"left right\"");
        merges.emplace_back(s.substr(0, space), s.substr(space + 1, s.find(' ', space + 1) - space - 1));
    }
    Bpe::Options o;
    o.unk_token = text(c, "unk_token", "", where, type);
    o.byte_fallback = flag(c, "byte_fallback", where, type);
    o.fuse_unk = flag(c, "fuse_unk", where, type);
    o.ignore_merges = flag(c, "ignore_merges", where, type);
    return std::make_unique<Bpe>(read_vocab(c.at("vocab"), where), merges, o, where);
}

}  // namespace laminar::models
