// Which TransformerLens hook points a forward pass must materialise, parsed once per call.
#pragma once

#include <initializer_list>
#include <set>
#include <string>
#include <vector>

namespace laminar::models {

/// The hook points of an architecture: per block ("attn.hook_q", "hook_resid_post", ...,
/// named after "blocks.L.") and outside the blocks ("hook_embed", "logits", ...).
struct HookCatalog {
    std::string family;               ///< for messages: "llama has no hook point ..."
    std::vector<std::string> block;
    std::vector<std::string> before;  ///< computed before the first block
    std::vector<std::string> after;   ///< computed after the last block (they need every block)

    /// Every hook name for a model of `n_layer` layers, in forward order.
    std::vector<std::string> names(int n_layer) const;
};

class HookPlan {
public:
    /// Throws laminar::SpecError naming the first unknown hook and listing the known forms.
    static HookPlan parse(const std::vector<std::string>& hooks, const HookCatalog& catalog, int n_layer);

    bool wants(int layer, const std::string& site) const { return block_.count({layer, site}) > 0; }
    bool wants(const std::string& hook) const { return other_.count(hook) > 0; }
    /// The forward pass stops after this block (-1: no block is needed).
    int last_layer() const { return last_layer_; }
    /// True when nothing at or after `sites` of block `layer` is wanted, so the pass can stop
    /// inside that block: `sites` are the hook points the block computes from here on.
    bool done(int layer, std::initializer_list<const char*> sites) const;

private:
    std::set<std::pair<int, std::string>> block_;
    std::set<std::string> other_;
    int last_layer_ = -1;
    bool final_ = false;  ///< a hook after the last block is wanted
};

}  // namespace laminar::models
