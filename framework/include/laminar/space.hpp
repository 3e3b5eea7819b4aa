// How experiments name representational spaces in metric parameters: a site ("q"), a hook
// or set name ("blocks.5.attn.hook_q", "blocks.5.attn.hook_q.head3"), either optionally
// prefixed with a model id ("gpt2-medium:q"). Header-only.
#pragma once

#include <string>

namespace laminar {

struct Space {
    std::string model;  ///< empty: every model
    std::string what;   ///< a site or a set name
};

inline Space parse_space(const std::string& text) {
    const auto colon = text.find(':');
    return colon == std::string::npos ? Space{"", text} : Space{text.substr(0, colon), text.substr(colon + 1)};
}

/// Whether `what` (a site or a set name) picks the activation set `name` of site `site`.
inline bool picks(const std::string& what, const std::string& name, const std::string& site) {
    return what == site || what == name;
}

}  // namespace laminar
