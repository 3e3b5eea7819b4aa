#include "spec/yaml_document.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <regex>
#include <optional>
#include <sstream>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "runtime/errors.hpp"
#include "laminar/text_file.hpp"
#include "laminar/utf8.hpp"

namespace laminar {

namespace {

std::string location(const std::filesystem::path& file, SourceMark m) {
    std::ostringstream out;
    out << file.string();
    if (m.line > 0) out << ':' << m.line << ':' << m.column;
    return out.str();
}

SourceMark to_mark(const YAML::Mark& m) {
    if (m.line < 0) return {};
    return {m.line + 1, m.column + 1};
}

// YAML 1.2 core schema resolution of a plain (unquoted) scalar.
nlohmann::json resolve_plain(const std::string& s) {
    static const std::regex null_re("~|null|Null|NULL|");
    static const std::regex true_re("true|True|TRUE");
    static const std::regex false_re("false|False|FALSE");
    static const std::regex int_re("[-+]?[0-9]+");
    static const std::regex float_re("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
    static const std::regex inf_re("[-+]?\\.(inf|Inf|INF)");
    static const std::regex nan_re("\\.(nan|NaN|NAN)");
    if (std::regex_match(s, null_re)) return nullptr;
    if (std::regex_match(s, true_re)) return true;
    if (std::regex_match(s, false_re)) return false;
    if (std::regex_match(s, int_re)) {
        errno = 0;
        long long v = std::strtoll(s.c_str(), nullptr, 10);
        if (errno != ERANGE) return v;
        return std::strtod(s.c_str(), nullptr);
    }
    static const std::regex hex_re("0x[0-9a-fA-F]+");
    static const std::regex oct_re("0o[0-7]+");
    if (std::regex_match(s, hex_re)) return std::strtoll(s.c_str() + 2, nullptr, 16);
    if (std::regex_match(s, oct_re)) return std::strtoll(s.c_str() + 2, nullptr, 8);
    if (std::regex_match(s, float_re)) return std::strtod(s.c_str(), nullptr);
    if (std::regex_match(s, inf_re))
        return s[0] == '-' ? -std::numeric_limits<double>::infinity()
                           : std::numeric_limits<double>::infinity();
    if (std::regex_match(s, nan_re)) return std::numeric_limits<double>::quiet_NaN();
    return s;
}

/// Counts the values a YAML file expands to, each alias counted as the size of what it names,
/// without expanding anything: ten levels of nine aliases ("billion laughs") are a few hundred
/// bytes that expand to 10^9 values. Refuses, at the alias, a file past kMaxYamlValues.
class ExpansionCounter : public YAML::EventHandler {
public:
    explicit ExpansionCounter(const std::filesystem::path& file) : file_(file) {}

    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { leaf(mark, anchor); }
    void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, const std::string&) override {
        leaf(mark, anchor);
    }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
        // An alias of a collection still open contains itself: the converter refuses it.
        const auto it = sizes_.find(anchor);
        add(it == sizes_.end() ? 1 : it->second, mark, true);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
        start(mark, anchor);
    }
    void OnSequenceEnd() override { end(); }
    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
        start(mark, anchor);
    }
    void OnMapEnd() override { end(); }

private:
    const std::filesystem::path& file_;
    std::size_t total_ = 0;                               ///< values so far, aliases expanded
    std::map<YAML::anchor_t, std::size_t> sizes_;         ///< anchor -> values it expands to
    std::vector<std::pair<YAML::anchor_t, std::size_t>> open_;  ///< open collections: anchor, total_ at start

    void add(std::size_t n, const YAML::Mark& mark, bool alias) {
        total_ += n;
        if (total_ <= kMaxYamlValues) return;
        throw InputError(location(file_, to_mark(mark)) + ": " +
                         (alias ? "this alias expands the file to more than " : "the file holds more than ") +
                         std::to_string(kMaxYamlValues) + " values (aliases expanded), laminar's limit" +
                         (alias ? ": aliases of aliases grow exponentially (a \"billion laughs\" file?)" : ""));
    }
    void leaf(const YAML::Mark& mark, YAML::anchor_t anchor) {
        add(1, mark, false);
        if (anchor != YAML::NullAnchor) sizes_[anchor] = 1;
    }
    void start(const YAML::Mark& mark, YAML::anchor_t anchor) {
        open_.emplace_back(anchor, total_);
        add(1, mark, false);
    }
    void end() {
        const auto [anchor, at_start] = open_.back();
        open_.pop_back();
        if (anchor != YAML::NullAnchor) sizes_[anchor] = total_ - at_start;
    }
};

}  // namespace

struct YamlConverter {
    YamlDocument& doc;
    std::vector<YAML::Node> open;  ///< the collections being converted, outermost first

    /// Converts `node`; an alias of a collection that contains it (`&a [*a]`) would recurse
    /// forever (found by fuzzing: a stack overflow), so it is refused, naming where.
    nlohmann::json convert(const YAML::Node& node, const std::string& pointer) {
        if (node.IsSequence() || node.IsMap()) {
            for (const auto& outer : open)
                if (outer.is(node))
                    throw InputError(location(doc.file_, to_mark(node.Mark())) + ": " + field_path(pointer) +
                                     ": an alias refers to a collection that contains it");
            open.push_back(node);
        }
        nlohmann::json out = convert_here(node, pointer);
        if (node.IsSequence() || node.IsMap()) open.pop_back();
        return out;
    }

    nlohmann::json convert_here(const YAML::Node& node, const std::string& pointer) {
        doc.marks_[pointer] = to_mark(node.Mark());
        switch (node.Type()) {
            case YAML::NodeType::Undefined:
            case YAML::NodeType::Null:
                return nullptr;
            case YAML::NodeType::Scalar:
                // yaml-cpp tags quoted and block scalars "!", plain ones "?".
                return node.Tag() == "!" ? nlohmann::json(node.Scalar())
                                         : resolve_plain(node.Scalar());
            case YAML::NodeType::Sequence: {
                nlohmann::json out = nlohmann::json::array();
                for (std::size_t i = 0; i < node.size(); ++i)
                    out.push_back(convert(node[i], pointer_append(pointer, std::to_string(i))));
                return out;
            }
            case YAML::NodeType::Map: {
                nlohmann::json out = nlohmann::json::object();
                auto& order = doc.key_order_[pointer];
                for (const auto& kv : node) {
                    if (kv.first.Type() != YAML::NodeType::Scalar)
                        throw InputError(location(doc.file_, to_mark(kv.first.Mark())) + ": " +
                                         field_path(pointer) + ": mapping keys must be plain text");
                    const std::string key = kv.first.Scalar();
                    const std::string child = pointer_append(pointer, key);
                    if (out.contains(key))
                        throw InputError(location(doc.file_, to_mark(kv.first.Mark())) + ": " +
                                         field_path(child) + ": duplicate key (first given at line " +
                                         std::to_string(doc.key_marks_[child].line) + ")");
                    order.push_back(key);
                    doc.key_marks_[child] = to_mark(kv.first.Mark());
                    out[key] = convert(kv.second, child);
                }
                return out;
            }
        }
        return nullptr;
    }
};

YamlDocument YamlDocument::parse(const std::string& text, const std::filesystem::path& file) {
    YamlDocument doc;
    doc.text_ = text;
    doc.file_ = file;
    if (const auto at = invalid_utf8(text))
        throw InputError(location(file, {int(at->line), int(at->column)}) + ": not valid UTF-8 (YAML files are UTF-8 text)");
    YAML::Node root;
    try {
        std::istringstream in(text);
        YAML::Parser parser(in);
        ExpansionCounter counter(file);
        parser.HandleNextDocument(counter);  // the first document, as YAML::Load reads
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        throw InputError(location(file, to_mark(e.mark)) + ": not valid YAML: " + e.msg);
    }
    YamlConverter conv{doc, {}};
    doc.json_ = conv.convert(root, "");
    return doc;
}

YamlDocument YamlDocument::load(const std::filesystem::path& file) {
    std::string text;
    try {
        text = read_text_file(file);  // a regular file of at most kTextFileLimit bytes
    } catch (const std::runtime_error& e) {
        throw InputError(e.what());
    }
    return parse(text, file);
}

SourceMark YamlDocument::mark(const std::string& pointer) const {
    std::string p = pointer;
    for (;;) {
        auto it = marks_.find(p);
        if (it != marks_.end() && it->second.line > 0) return it->second;
        if (p.empty()) return {};
        p.erase(p.rfind('/'));
    }
}

std::vector<std::string> YamlDocument::keys_in_order(const std::string& pointer) const {
    auto it = key_order_.find(pointer);
    return it == key_order_.end() ? std::vector<std::string>{} : it->second;
}

SourceMark YamlDocument::key_mark(const std::string& pointer) const {
    auto it = key_marks_.find(pointer);
    return it != key_marks_.end() ? it->second : mark(pointer);
}

std::string YamlDocument::where(const std::string& pointer, bool at_key) const {
    return location(file_, at_key ? key_mark(pointer) : mark(pointer)) + ": " + field_path(pointer);
}

std::string field_path(const std::string& pointer) {
    if (pointer.empty()) return "(top level)";
    std::string out;
    std::size_t i = 1;
    while (i <= pointer.size()) {
        std::size_t next = pointer.find('/', i);
        if (next == std::string::npos) next = pointer.size();
        std::string token = pointer.substr(i, next - i);
        for (std::size_t k; (k = token.find("~1")) != std::string::npos;) token.replace(k, 2, "/");
        for (std::size_t k; (k = token.find("~0")) != std::string::npos;) token.replace(k, 2, "~");
        const bool index = !token.empty() && token.find_first_not_of("0123456789") == std::string::npos;
        if (index && !out.empty())
            out += "[" + token + "]";
        else
            out += (out.empty() ? "" : ".") + token;
        i = next + 1;
    }
    return out;
}

std::string pointer_append_field(const std::string& pointer, const std::string& field) {
    std::string p = pointer, token;
    for (char c : field + ".") {
        if (c == '.' || c == '[' || c == ']') {
            if (!token.empty()) p = pointer_append(p, token);
            token.clear();
        } else {
            token += c;
        }
    }
    return p;
}

}  // namespace laminar
