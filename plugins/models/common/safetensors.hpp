// Weights from .safetensors files, memory-mapped: F32 tensors are views of the mapping (no
// copy); F16 and BF16 are widened to float32 once, since the forward pass runs in float32.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace laminar::models {

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
    /// A float32 tensor: a view of the mapping for F32, else a widened copy.
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
    bool has(const std::string& name) const;

private:
    std::vector<std::unique_ptr<SafetensorsFile>> files_;
    std::map<std::string, std::pair<const SafetensorsFile*, std::string>> index_;  // bare name -> file, key
    const std::pair<const SafetensorsFile*, std::string>* find(const std::string& name) const;
};

}  // namespace laminar::models
