// Weights from .safetensors files, memory-mapped. Matrices stay views of the mapping in their
// file's dtype; linear() lays each out once for its kernel, still in that dtype (a BF16 model
// takes its file's size, not twice that), and the kernel widens them as it reads them.
// Vectors (norms, biases) and position tables are small and widened once.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/types.h>  // (not torch/torch.h: nn, optim and data would double each compile)
#include <torch/utils.h>

namespace laminar::models {

/// A tensor a model needs is not in its weights (as against there with another shape).
class MissingTensor : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// One mapped file: its JSON header parsed, its data left on disk until touched.
class SafetensorsFile {
public:
    explicit SafetensorsFile(const std::filesystem::path& file);
    ~SafetensorsFile();
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;

    struct Entry {
        std::string dtype;           ///< "F32", "F16", "BF16", ...
        std::vector<int64_t> shape;
        std::size_t begin = 0, end = 0;  ///< byte offsets into the data section
    };
    const std::map<std::string, Entry>& entries() const { return entries_; }
    const std::filesystem::path& path() const { return path_; }
    /// The tensor in its file's dtype: a view of the mapping (a copy where the data is not
    /// aligned for its type: the header may be padded by any number of bytes).
    torch::Tensor raw(const std::string& name) const;
    /// A float32 tensor: raw() for F32, else a widened copy.
    torch::Tensor tensor(const std::string& name) const;

private:
    std::filesystem::path path_;
    void* map_ = nullptr;
    std::size_t size_ = 0;
    const char* data_ = nullptr;  ///< start of the data section
    std::map<std::string, Entry> entries_;
};

/// All weights of a model folder: model.safetensors, or the shards that
/// model.safetensors.index.json lists. Keys may carry the base model's prefix or not
/// ("transformer.h.0..." as save_pretrained writes, "h.0..." as the hub's gpt2 files): each
/// key is indexed without the first of `prefixes` it starts with, and get() takes that bare
/// name. Tensors nobody asks for (buffers such as attn.bias, rotary_emb.inv_freq,
/// position_ids) are simply never read.
class WeightStore {
public:
    WeightStore(const std::filesystem::path& dir, const std::vector<std::string>& prefixes);

    /// Throws std::runtime_error naming the tensor and both shapes when it is missing or its
    /// shape differs from `shape`. A name ending in LayerNorm.weight / LayerNorm.bias also
    /// finds the older LayerNorm.gamma / LayerNorm.beta.
    torch::Tensor get(const std::string& name, const std::vector<int64_t>& shape) const;
    /// get() when the tensor is there, an undefined tensor when it is not (optional biases).
    torch::Tensor get_if(const std::string& name, const std::vector<int64_t>& shape) const;
    /// The tensor in its file's dtype, a view of the mapping (embedding tables, whose rows are
    /// looked up there and widened, and weight matrices, which linear() packs for its kernel
    /// once, in that dtype).
    torch::Tensor get_raw(const std::string& name, const std::vector<int64_t>& shape) const;
    /// Throws as get() would, without reading the data.
    void check(const std::string& name, const std::vector<int64_t>& shape) const;
    bool has(const std::string& name) const;

private:
    std::vector<std::unique_ptr<SafetensorsFile>> files_;
    std::map<std::string, std::pair<const SafetensorsFile*, std::string>> index_;  // bare name -> file, key
    const std::pair<const SafetensorsFile*, std::string>* find(const std::string& name) const;
    const std::pair<const SafetensorsFile*, std::string>& checked(const std::string& name, const std::vector<int64_t>& shape) const;
};

/// What a family's block loader reads through: the store itself, or (check_only) the check
/// that every tensor is there with its shape. A folder is so refused at load, while the
/// weights of a block are read (vectors widened; matrices are read where they lie) only when a
/// forward pass first reaches it.
struct WeightReader {
    const WeightStore& store;
    bool check_only = false;
    /// As float32 (a small tensor: norms, biases).
    torch::Tensor get(const std::string& name, const std::vector<int64_t>& shape) const;
    torch::Tensor get_if(const std::string& name, const std::vector<int64_t>& shape) const;
    /// A weight matrix as stored, for linear() and conv1d().
    torch::Tensor matrix(const std::string& name, const std::vector<int64_t>& shape) const;
};

/// Per-block weights read on first use, through `load` (a family's block loader): a forward
/// pass that stops after block 5 reads blocks 0 to 5 only; check() verifies them all at load.
/// Not thread-safe: one forward pass at a time, as the backends run them.
template <class Block>
class LazyBlocks {
public:
    using Loader = std::function<Block(const WeightReader&, int layer)>;
    LazyBlocks(const WeightStore& store, int n_layer, Loader load) : store_(store), load_(std::move(load)), n_layer_(n_layer) {}
    /// Throws as reading any block's tensors would (missing or misshapen), without reading them,
    /// and where the weights hold fewer or more blocks than config.json's count says (`declared`:
    /// "FILE: KEY"). Only then is the table of blocks sized: a count of a billion asks for nothing.
    void check(const std::string& declared) const {
        const auto says = declared + " is " + std::to_string(n_layer_) + ", but the weights hold ";
        for (int l = 0; l < n_layer_; ++l) {
            try {
                load_({store_, true}, l);
            } catch (const MissingTensor& e) {
                if (l == 0) throw;
                throw std::runtime_error(says + std::to_string(l) + " block(s) (" + e.what() + ")");
            }
        }
        bool more = true;  // block n_layer complete: the count is short
        try {
            load_({store_, true}, n_layer_);
        } catch (const std::runtime_error&) {
            more = false;
        }
        if (more) throw std::runtime_error(says + "a block " + std::to_string(n_layer_) + " too");
        blocks_.resize(static_cast<std::size_t>(n_layer_));
    }
    const Block& operator[](int layer) const {
        auto& b = blocks_.at(layer);
        if (!b) b = std::make_unique<Block>(load_({store_, false}, layer));
        return *b;
    }

private:
    const WeightStore& store_;
    Loader load_;
    int n_layer_;
    mutable std::vector<std::unique_ptr<Block>> blocks_;
};

}  // namespace laminar::models
