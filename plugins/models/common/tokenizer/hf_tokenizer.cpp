// tokenizer.json's pipeline (added tokens, normalizer, pre-tokenizer, model, post-processor)
// as tokenizers.js runs it, and Tokenizer::load(), which also reads the older file layouts by
// building the tokenizer.json they stand for.
#include <dlfcn.h>

#include <sstream>
#include <map>

#include "laminar/json_file.hpp"
#include "pipeline.hpp"
#include "tokenizer.hpp"
#include "unicode.hpp"

namespace laminar::models {

namespace fs = std::filesystem;

namespace {

/// tokenizer.model through laminar-sentencepiece.so, the bridge to libsentencepiece that sits
/// beside this plugin and is opened only now (see sentencepiece_bridge.cpp for why).
std::unique_ptr<Tokenizer> load_sentencepiece(const fs::path& model, const nlohmann::json& config) {
    require_regular_file(model);  // libsentencepiece would wait forever on a FIFO
    Dl_info self{};
    dladdr(reinterpret_cast<void*>(&load_sentencepiece), &self);
    const fs::path bridge = fs::path(self.dli_fname).parent_path() / "laminar-sentencepiece.so";
    void* lib = dlopen(bridge.c_str(), RTLD_NOW | RTLD_LOCAL);  // never closed: plugins stay loaded too
    if (!lib) throw std::runtime_error(model.string() + ": cannot read sentencepiece models: " + dlerror());
    using Make = Tokenizer* (*)(const char*, const char*, char*, std::size_t);
    auto make = reinterpret_cast<Make>(dlsym(lib, "laminar_sentencepiece_tokenizer"));
    if (!make) throw std::runtime_error(bridge.string() + ": not laminar's sentencepiece bridge");
    char error[512] = "";
    Tokenizer* t = make(model.c_str(), config.dump().c_str(), error, sizeof error);
    if (!t) throw std::runtime_error(model.string() + ": " + error);
    return std::unique_ptr<Tokenizer>(t);
}

/// Nested no deeper than kJsonDepthLimit: the readers of Sequence normalizers, pre-tokenizers
/// and post-processors recurse once per level (found by a probe: 30,000 levels overflowed the stack).
nlohmann::json read_json(const fs::path& file) { return read_json_file(file); }

struct AddedToken {
    std::string content;
    int32_t id;
    bool lstrip, rstrip, special, normalized;
};

/// Cuts text at the added tokens: at each position the longest token that starts there
/// (tokenizers.js's DictionarySplitter). Pieces are either a token's content or plain text.
std::vector<std::string> cut(const std::string& text, const std::vector<std::string>& contents) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (std::size_t i = 0; i < text.size();) {
        std::size_t best = 0;
        for (const auto& c : contents)
            if (c.size() > best && text.compare(i, c.size(), c) == 0) best = c.size();
        if (!best) { ++i; continue; }
        if (i > start) out.push_back(text.substr(start, i - start));
        out.push_back(text.substr(i, best));
        i += best;
        start = i;
    }
    if (start < text.size()) out.push_back(text.substr(start));
    return out;
}

/// truncation and padding are never applied: transformers turns the file's off unless a call
/// asks for them, and tokenizers.js's encode() ignores them.
class HfTokenizer : public Tokenizer {
public:
    HfTokenizer(const nlohmann::json& j, const std::string& where) : where_(where) {
        try {
            normalizer_ = Normalizer::create(j.value("normalizer", nlohmann::json()));
            pre_ = PreTokenizer::create(j.value("pre_tokenizer", nlohmann::json()));
            model_ = SubwordModel::create(j.at("model"), where);
            for (const auto& t : j.value("added_tokens", nlohmann::json::array())) {
                AddedToken a{t.at("content").get<std::string>(), checked_id(t.at("id"), where + ": added token id"), t.value("lstrip", false),
                             t.value("rstrip", false), t.value("special", false), false};
                a.normalized = t.value("normalized", !a.special);
                model_->add_token(a.content, a.id);
                by_content_[a.content] = a;
                if (a.normalized && normalizer_) {
                    by_content_[normalizer_->normalize(a.content)] = a;
                    normalized_.push_back(normalizer_->normalize(a.content));
                } else {
                    unnormalized_.push_back(a.content);
                }
            }
            read_post_processor(j.value("post_processor", nlohmann::json()));
        } catch (const nlohmann::json::exception& e) {
            throw std::runtime_error(where + ": " + e.what());
        } catch (const std::runtime_error& e) {
            const std::string what = e.what();
            throw std::runtime_error(what.rfind(where, 0) == 0 ? what : where + ": " + what);
        }
        // Ids count from 0 with few gaps in every tokenizer file; a table indexed by id must not
        // be sized by one stray number (found by fuzzing: an id of 551615004 asked for 17 GB).
        const std::size_t limit = 2 * model_->vocab().size() + 1024;
        for (const auto& [token, id] : model_->vocab())
            if (static_cast<std::size_t>(id) >= limit)
                throw std::runtime_error(where + ": token " + nlohmann::json(token).dump() + " has id " + std::to_string(id) +
                                         ", far beyond the vocabulary's " + std::to_string(model_->vocab().size()) +
                                         " tokens (ids count from 0)");
        for (const auto& [token, id] : model_->vocab()) {
            if (static_cast<std::size_t>(id) >= tokens_.size()) tokens_.resize(id + 1);
            tokens_[id] = token;
        }
        byte_level_ = pre_ && pre_->byte_level();
    }

    Encoding encode(const std::string& text) const override {
        unicode::decode(text);  // throws on invalid UTF-8 before any work
        try {
            return encode_valid(text);
        } catch (const std::runtime_error& e) {  // a pattern that fails at run time (PCRE2's match limit): name the file
            const std::string what = e.what();
            throw std::runtime_error(what.rfind(where_, 0) == 0 ? what : where_ + ": " + what);
        }
    }

    Encoding encode_valid(const std::string& text) const {
        std::vector<int32_t> content;
        auto sections = cut(text, unnormalized_);
        strip_around_tokens(sections);
        for (std::size_t s = 0; s < sections.size(); ++s) {
            if (sections[s].empty()) continue;
            if (auto a = by_content_.find(sections[s]); a != by_content_.end()) { content.push_back(a->second.id); continue; }
            const std::string normalized = normalizer_ ? normalizer_->normalize(sections[s]) : sections[s];
            auto parts = cut(normalized, normalized_);
            strip_around_tokens(parts);
            for (const auto& part : parts) {
                if (part.empty()) continue;
                if (auto a = by_content_.find(part); a != by_content_.end()) { content.push_back(a->second.id); continue; }
                model_->encode(pre_ ? pre_->split(part, s) : std::vector<std::string>{part}, content);
            }
        }
        Encoding e;
        e.ids = before_;
        e.content_begin = static_cast<int32_t>(e.ids.size());
        e.ids.insert(e.ids.end(), content.begin(), content.end());
        e.content_end = static_cast<int32_t>(e.ids.size());
        e.ids.insert(e.ids.end(), after_.begin(), after_.end());
        return e;
    }

    std::string token_text(int32_t id) const override {
        if (id < 0 || static_cast<std::size_t>(id) >= tokens_.size() || tokens_[id].empty())
            throw std::out_of_range("no token id " + std::to_string(id));
        const std::string& t = tokens_[id];
        if (auto a = by_content_.find(t); a != by_content_.end() && a->second.id == id) return t;
        if (byte_level_) return unmap_bytes(t);
        if (t.size() == 6 && t.rfind("<0x", 0) == 0 && t.back() == '>')  // byte fallback
            return std::string(1, static_cast<char>(std::stoi(t.substr(3, 2), nullptr, 16)));
        std::string out;  // sentencepiece's word boundary mark stands for a space
        for (std::size_t i = 0; i < t.size(); ++i) {
            if (t.compare(i, 3, "\u2581") == 0) { out += ' '; i += 2; }
            else out += t[i];
        }
        return out;
    }

    int32_t max_id() const override { return static_cast<int32_t>(tokens_.size()) - 1; }

private:
    std::string where_;  // the file the tokenizer was read from, for errors
    std::unique_ptr<Normalizer> normalizer_;
    std::unique_ptr<PreTokenizer> pre_;
    std::unique_ptr<SubwordModel> model_;
    std::map<std::string, AddedToken> by_content_;
    std::vector<std::string> unnormalized_, normalized_;
    std::vector<int32_t> before_, after_;  // the post-processor's tokens around the text
    std::vector<std::string> tokens_;      // id -> token string
    bool byte_level_ = false;

    int32_t id_of(const std::string& token) const {
        if (auto a = by_content_.find(token); a != by_content_.end()) return a->second.id;
        if (auto v = model_->vocab().find(token); v != model_->vocab().end()) return v->second;
        throw std::runtime_error("post_processor: special token " + token + " is not in the vocabulary");
    }

    void read_post_processor(const nlohmann::json& p) {
        if (p.is_null()) return;
        const std::string type = p.value("type", "");
        if (type == "ByteLevel") return;  // offsets only
        if (type == "Sequence") {
            for (const auto& step : p.at("processors")) read_post_processor(step);
            return;
        }
        if (type == "BertProcessing" || type == "RobertaProcessing") {
            before_.push_back(id_of(p.at("cls").at(0).get<std::string>()));
            after_.push_back(id_of(p.at("sep").at(0).get<std::string>()));
            return;
        }
        if (type != "TemplateProcessing") throw unsupported("post_processor", p);
        // laminar encodes one text at a time, so `pair` is never used.
        bool seen_a = false;
        for (const auto& item : p.at("single")) {
            if (item.contains("Sequence")) { seen_a = true; continue; }
            const std::string token = item.at("SpecialToken").at("id").get<std::string>();
            const int32_t id = id_of(token);
            check_special_tokens(p, token, id);
            (seen_a ? after_ : before_).push_back(id);
        }
    }

    /// The Rust crate takes a template token's ids from `special_tokens`, tokenizers.js (and
    /// laminar) from the vocabulary: a file where they differ would give other ids in each.
    static void check_special_tokens(const nlohmann::json& p, const std::string& token, int32_t id) {
        if (!p.contains("special_tokens") || !p["special_tokens"].contains(token)) return;
        const nlohmann::json listed = p["special_tokens"][token].value("ids", nlohmann::json());
        if (listed != nlohmann::json::array({id}))
            throw std::runtime_error("post_processor: special_tokens gives " + token + " the ids " + listed.dump() +
                                     ", but the vocabulary gives it id " + std::to_string(id));
    }

    /// lstrip / rstrip of added tokens: whitespace beside them belongs to them.
    void strip_around_tokens(std::vector<std::string>& parts) const {
        for (std::size_t i = 0; i < parts.size(); ++i) {
            auto a = by_content_.find(parts[i]);
            if (a == by_content_.end()) continue;
            if (a->second.lstrip && i > 0) parts[i - 1] = unicode::trim_js(parts[i - 1], false, true);
            if (a->second.rstrip && i + 1 < parts.size()) parts[i + 1] = unicode::trim_js(parts[i + 1], true, false);
        }
    }

    static std::string unmap_bytes(const std::string& token) {
        static const std::map<char32_t, char> bytes = [] {
            std::map<char32_t, char> m;
            int next = 0;
            for (int b = 0; b < 256; ++b) {
                const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
                m[static_cast<char32_t>(printable ? b : 256 + next++)] = static_cast<char>(b);
            }
            return m;
        }();
        std::string out;
        for (char32_t c : unicode::decode(token)) {
            auto it = bytes.find(c);
            out += it != bytes.end() ? it->second : '?';
        }
        return out;
    }
};

/// GPT-2's vocab.json + merges.txt as the tokenizer.json that stands for them, with a BOS
/// first where tokenizer_config.json says add_bos_token (OPT's folders: "</s>"), as transformers'
/// GPT2Tokenizer adds it and its conversion to a fast tokenizer writes it.
nlohmann::json from_vocab_and_merges(const fs::path& dir, const nlohmann::json& config) {
    nlohmann::json merges = nlohmann::json::array();
    std::istringstream in(read_text_file(dir / "merges.txt"));
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || line.rfind("#version", 0) == 0) continue;
        merges.push_back(line);
    }
    nlohmann::json tokenizer = {{"normalizer", nullptr},
                                {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}}},
                                {"model", {{"type", "BPE"}, {"vocab", read_json(dir / "vocab.json")}, {"merges", merges}}},
                                {"added_tokens", nlohmann::json::array()}};
    const nlohmann::json add_bos = config.value("add_bos_token", nlohmann::json(false));
    if (!add_bos.is_boolean())
        throw std::runtime_error((dir / "tokenizer_config.json").string() + ": add_bos_token is " + add_bos.dump() + ", expected true or false");
    if (add_bos.get<bool>()) {
        nlohmann::json bos = config.value("bos_token", nlohmann::json("<|endoftext|>"));  // GPT2Tokenizer's default
        if (bos.is_object()) bos = bos.value("content", nlohmann::json());                // an AddedToken
        const nlohmann::json& vocab = tokenizer["model"]["vocab"];
        if (!bos.is_string() || !vocab.is_object() || !vocab.contains(bos.get<std::string>()))
            throw std::runtime_error((dir / "tokenizer_config.json").string() + ": add_bos_token is true, but bos_token " + bos.dump() +
                                     " is not a token of vocab.json");
        tokenizer["added_tokens"].push_back({{"content", bos}, {"id", vocab[bos.get<std::string>()]}, {"special", true}, {"normalized", false}});
        tokenizer["post_processor"] = {{"type", "TemplateProcessing"},
                                       {"single", {{{"SpecialToken", {{"id", bos}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}}};
    }
    return tokenizer;
}

/// BERT's vocab.txt (one token per line, id = line number) as its tokenizer.json.
nlohmann::json from_vocab_txt(const fs::path& dir, const nlohmann::json& config) {
    nlohmann::json vocab = nlohmann::json::object();
    std::istringstream in(read_text_file(dir / "vocab.txt"));
    std::string line;
    for (int32_t id = 0; std::getline(in, line); ++id) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        vocab[line] = id;
    }
    nlohmann::json added = nlohmann::json::array();
    for (const char* t : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"})
        if (vocab.contains(t)) added.push_back({{"content", t}, {"id", vocab[t]}, {"special", true}, {"normalized", false}});
    const bool lower = config.value("do_lower_case", true);
    return {{"normalizer", {{"type", "BertNormalizer"}, {"lowercase", lower}}},
            {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
            {"model", {{"type", "WordPiece"}, {"vocab", vocab}, {"unk_token", "[UNK]"}}},
            {"post_processor", {{"type", "BertProcessing"}, {"cls", nlohmann::json::array({"[CLS]", 0})}, {"sep", nlohmann::json::array({"[SEP]", 0})}}},
            {"added_tokens", added}};
}

/// transformers' BertTokenizerFast rebuilds tokenizer.json's BertNormalizer from
/// tokenizer_config.json's do_lower_case, strip_accents and tokenize_chinese_chars where they
/// differ; tokenizers.js keeps the normalizer. Files that disagree would give other ids in each.
void check_bert_options(const nlohmann::json& tokenizer, const nlohmann::json& config, const fs::path& dir) {
    const nlohmann::json normalizer = tokenizer.value("normalizer", nlohmann::json());
    if (!normalizer.is_object() || normalizer.value("type", nlohmann::json()) != "BertNormalizer") return;
    struct Pair { const char *config, *normalizer; nlohmann::json fallback; };
    for (const Pair& o : {Pair{"do_lower_case", "lowercase", true}, Pair{"strip_accents", "strip_accents", nullptr},
                          Pair{"tokenize_chinese_chars", "handle_chinese_chars", true}}) {
        if (!config.contains(o.config)) continue;
        const nlohmann::json ours = normalizer.contains(o.normalizer) ? normalizer[o.normalizer] : o.fallback;
        if (config[o.config] != ours)
            throw std::runtime_error((dir / "tokenizer_config.json").string() + ": " + o.config + " is " + config[o.config].dump() +
                                     ", but tokenizer.json's BertNormalizer has " + o.normalizer + " " + ours.dump() +
                                     " (transformers would follow tokenizer_config.json, tokenizers.js tokenizer.json): "
                                     "make the two files agree");
    }
}

/// There, even as a link that leads nowhere: reading it then says so, rather than the folder
/// seeming to have no such file.
bool present(const fs::path& file) {
    std::error_code ec;
    return fs::exists(fs::symlink_status(file, ec));
}

std::unique_ptr<Tokenizer> load_files(const fs::path& dir, const nlohmann::json& config) {
    if (present(dir / "tokenizer.json")) {
        const nlohmann::json tokenizer = read_json(dir / "tokenizer.json");
        if (!tokenizer.is_object())  // (found by fuzzing: a string escaped as nlohmann's type_error)
            throw std::runtime_error((dir / "tokenizer.json").string() + ": expected a JSON object (found " +
                                     std::string(tokenizer.type_name()) + ")");
        check_bert_options(tokenizer, config, dir);
        return std::make_unique<HfTokenizer>(tokenizer, (dir / "tokenizer.json").string());
    }
    if (present(dir / "vocab.json") && present(dir / "merges.txt"))
        return std::make_unique<HfTokenizer>(from_vocab_and_merges(dir, config), (dir / "merges.txt").string());
    if (present(dir / "vocab.txt")) return std::make_unique<HfTokenizer>(from_vocab_txt(dir, config), (dir / "vocab.txt").string());
    if (present(dir / "tokenizer.model")) return load_sentencepiece(dir / "tokenizer.model", config);
    throw std::runtime_error(dir.string() + ": no tokenizer (expected tokenizer.json, vocab.json and merges.txt, vocab.txt, "
                             "or tokenizer.model)");
}

/// The mask token's text as Hugging Face's files name it (tokenizer_config.json, else
/// special_tokens_map.json: a string or an AddedToken object), else BERT's "[MASK]".
std::string mask_token_text(const fs::path& dir, const nlohmann::json& config) {
    const auto field = [](const nlohmann::json& j) { return j.is_object() ? j.value("mask_token", nlohmann::json()) : nlohmann::json(); };
    nlohmann::json named = field(config);
    if (named.is_null() && present(dir / "special_tokens_map.json")) named = field(read_json(dir / "special_tokens_map.json"));
    if (named.is_object()) named = named.value("content", nlohmann::json());
    return named.is_string() ? named.get<std::string>() : "[MASK]";
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::load(const fs::path& dir) {
    const fs::path config_file = dir / "tokenizer_config.json";
    const nlohmann::json config = present(config_file) ? read_json(config_file) : nlohmann::json::object();
    if (!config.is_object())
        throw std::runtime_error(config_file.string() + ": expected a JSON object (found " + std::string(config.type_name()) + ")");
    std::unique_ptr<Tokenizer> t = load_files(dir, config);
    // The mask token is one the tokenizer keeps whole; where its text splits into several
    // tokens (GPT-2 reads "[MASK]" as "[", "MA", "SK", "]") the model has none.
    const Encoding mask = t->encode(mask_token_text(dir, config));
    if (mask.content_end - mask.content_begin == 1) t->mask_token_ = mask.ids[mask.content_begin];
    return t;
}

}  // namespace laminar::models
