// A family's hook points, declared once in forward order (HookCatalog), and which of them one
// forward pass must materialise (HookPlan). The catalog is the only list: `laminar hooks` prints
// it, requests are checked against it, and a pass learns where it may stop from its order.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace laminar::models {

/// The hook points of an architecture, each in the order the forward pass computes it: per
/// block ("attn.hook_q", "hook_resid_post", ..., named after "blocks.L.") and outside the
/// blocks ("hook_embed", "logits", ...). A family builds it from its config where points depend
/// on it (no hook_resid_mid where attention and MLP run in parallel).
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
    /// The plan keeps a reference to `catalog`.
    static HookPlan parse(const std::vector<std::string>& hooks, const HookCatalog& catalog, int n_layer);

    /// Whether block `layer`'s point `site` is wanted. A site the catalog does not declare is a
    /// bug in the family's forward pass (a misspelt name would capture nothing): std::logic_error.
    bool wants(int layer, std::string_view site) const;
    /// The same for a point outside the blocks ("hook_embed", "logits").
    bool wants(std::string_view hook) const;
    /// The forward pass stops after this block (-1: no block is needed).
    int last_layer() const { return last_layer_; }
    /// True when nothing after `site` of block `layer`, in the catalog's order, is wanted, nor
    /// anything of a later block or after the blocks: the pass can stop there.
    bool done_after(int layer, std::string_view site) const;

private:
    const HookCatalog* catalog_ = nullptr;
    std::vector<std::vector<bool>> block_;  ///< [layer][index in catalog.block]
    std::vector<bool> before_, after_;      ///< by index in catalog.before, catalog.after
    int last_layer_ = -1;
    bool final_ = false;  ///< a point after the last block is wanted
    std::size_t block_index(std::string_view site) const;
};

}  // namespace laminar::models
