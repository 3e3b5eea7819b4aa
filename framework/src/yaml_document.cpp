#include "yaml_document.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <regex>
#include <optional>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "errors.hpp"
#include "laminar/text_file.hpp"

namespace laminar {

namespace {

std::string location(const std::filesystem::path& file, SourceMark m) {
    std::ostringstream out;
    out << file.string();
    if (m.line > 0) out << ':' << m.line << ':' << m.column;
    return out.str();
}

/// Where `text` stops being UTF-8 (line and column from 1), or nothing. YAML is UTF-8, and what
/// reads the strings after yaml-cpp (the schema validator's length checks among them) assumes so.
std::optional<SourceMark> invalid_utf8(const std::string& text) {
    int line = 1, column = 1;
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        if (n == 0 || i + n > text.size()) return SourceMark{line, column};
        uint32_t cp = n == 1 ? c : c & (0x7F >> n);
        for (std::size_t k = 1; k < n; ++k) {
            const auto next = static_cast<unsigned char>(text[i + k]);
            if ((next & 0xC0) != 0x80) return SourceMark{line, column};
            cp = (cp << 6) | (next & 0x3F);
        }
        // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8 either.
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return SourceMark{line, column};
        if (c == '\n') { ++line; column = 1; } else { ++column; }
        i += n;
    }
    return std::nullopt;
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
        throw InputError(location(file, *at) + ": not valid UTF-8 (YAML files are UTF-8 text)");
    YAML::Node root;
    try {
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

std::string pointer_append(const std::string& pointer, const std::string& token) {
    std::string escaped;
    for (char c : token) {
        if (c == '~') escaped += "~0";
        else if (c == '/') escaped += "~1";
        else escaped += c;
    }
    return pointer + "/" + escaped;
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
