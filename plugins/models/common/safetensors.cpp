#include "safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "laminar/json_file.hpp"

namespace laminar::models {

namespace fs = std::filesystem;

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

std::size_t dtype_size(const std::string& dtype) {
    if (dtype == "F32") return 4;
    if (dtype == "F16" || dtype == "BF16") return 2;
    if (dtype == "F64" || dtype == "I64") return 8;
    if (dtype == "I32") return 4;
    if (dtype == "U8" || dtype == "I8" || dtype == "BOOL") return 1;
    return 0;
}

const char* kPickleAdvice =
    "laminar loads safetensors only and never unpickles pytorch_model.bin (unpickling can run arbitrary code). "
    "Convert the folder once, in Python: from transformers import AutoModel; "
    "AutoModel.from_pretrained(DIR).save_pretrained(DIR, safe_serialization=True) "
    "(AutoModelForCausalLM or AutoModelForMaskedLM to keep the language-model head)";

}  // namespace

SafetensorsFile::SafetensorsFile(const fs::path& file) : path_(file) {
    // A FIFO or a device would block the open or the mapping forever: regular files only.
    const RegularFile f = open_regular_file(file);
    size_ = static_cast<std::size_t>(f.size());
    if (size_ < 8) throw std::runtime_error(file.string() + ": too short to be safetensors");
    map_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, f.fd(), 0);
    if (map_ == MAP_FAILED) {
        map_ = nullptr;
        throw std::runtime_error(file.string() + ": cannot map into memory (" + std::strerror(errno) + ")");
    }

    uint64_t header_len = 0;
    std::memcpy(&header_len, map_, 8);  // little-endian u64, as on every platform we run on
    if (header_len > size_ - 8) throw std::runtime_error(file.string() + ": header length exceeds the file");
    const char* base = static_cast<const char*>(map_);
    data_ = base + 8 + header_len;
    const std::size_t data_size = size_ - 8 - header_len;
    nlohmann::json header;
    std::set<std::string> keys;  // the format forbids a name twice; JSON parsers keep the last
    auto no_duplicates = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        if (event == nlohmann::json::parse_event_t::key && depth == 1 && !keys.insert(parsed.get<std::string>()).second)
            throw std::runtime_error(file.string() + ": the header names tensor " + parsed.dump() + " twice");
        return true;
    };
    try {  // (line and column of an error count from the header's first byte, the file's ninth)
        header = parse_json(std::string(base + 8, header_len), file.string() + " header", no_duplicates);
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error(file.string() + ": header is not valid JSON: " + e.what());
    }
    if (!header.is_object()) throw std::runtime_error(file.string() + ": header is not a JSON object");
    for (auto it = header.begin(); it != header.end(); ++it) {
        if (it.key() == "__metadata__") continue;
        const std::string where = file.string() + ": tensor " + nlohmann::json(it.key()).dump();
        const auto& t = *it;
        auto is_count = [](const nlohmann::json& v) { return v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0); };
        if (!t.is_object() || !t.contains("dtype") || !t["dtype"].is_string() || !t.contains("shape") || !t["shape"].is_array() ||
            !t.contains("data_offsets") || !t["data_offsets"].is_array() || t["data_offsets"].size() != 2)
            throw std::runtime_error(where + ": expected {\"dtype\": string, \"shape\": [..], \"data_offsets\": [begin, end]}");
        Entry e;
        e.dtype = t["dtype"].get<std::string>();
        // A shape whose element count overflows is refused with the offsets check below.
        std::size_t count = 1;
        bool overflow = false;
        for (const auto& d : t["shape"]) {
            if (!is_count(d)) throw std::runtime_error(where + ": shape " + t["shape"].dump() + " is not a list of sizes");
            e.shape.push_back(d.get<int64_t>());
            overflow |= __builtin_mul_overflow(count, d.get<std::size_t>(), &count);
        }
        for (const auto& o : t["data_offsets"])
            if (!is_count(o)) throw std::runtime_error(where + ": data_offsets " + t["data_offsets"].dump() + " are not byte offsets");
        e.begin = t["data_offsets"][0].get<std::size_t>();
        e.end = t["data_offsets"][1].get<std::size_t>();
        if (e.end > data_size || e.begin > e.end || overflow ||
            (dtype_size(e.dtype) && e.end - e.begin != count * dtype_size(e.dtype)))
            throw std::runtime_error(where + " has inconsistent data offsets");
        entries_.emplace(it.key(), std::move(e));
    }
    // The data section is tiled by the tensors, in any order: no gap, no overlap.
    std::vector<std::pair<std::size_t, std::size_t>> spans;
    for (const auto& [name, e] : entries_) spans.emplace_back(e.begin, e.end);
    std::sort(spans.begin(), spans.end());
    std::size_t covered = 0;
    for (const auto& [begin, end] : spans) {
        if (begin != covered)
            throw std::runtime_error(file.string() + ": tensor data " + (begin < covered ? "overlaps" : "leaves a gap") +
                                     " at byte " + std::to_string(std::min(begin, covered)) + " of the data section");
        covered = end;
    }
    if (covered != data_size)
        throw std::runtime_error(file.string() + ": " + std::to_string(data_size - covered) +
                                 " bytes at the end of the data section belong to no tensor");
    ::madvise(map_, size_, MADV_WILLNEED);
}

torch::Tensor SafetensorsFile::tensor(const std::string& name) const {
    const torch::Tensor r = raw(name);
    if (r.scalar_type() == torch::kFloat32) return r;
    return torch::empty(r.sizes(), torch::kFloat32).copy_(r);
}

SafetensorsFile::~SafetensorsFile() {
    if (map_) ::munmap(map_, size_);
}

torch::Tensor SafetensorsFile::raw(const std::string& name) const {
    const Entry& e = entries_.at(name);
    const auto type = e.dtype == "F32" ? torch::kFloat32 : e.dtype == "F16" ? torch::kFloat16
                    : e.dtype == "BF16" ? torch::kBFloat16 : torch::kUInt8;
    if (type == torch::kUInt8)
        throw std::runtime_error(path_.string() + ": tensor " + name + " has dtype " + e.dtype +
                                 "; laminar reads F32, F16 and BF16 weights");
    void* p = const_cast<char*>(data_ + e.begin);  // read-only mapping: never written through
    if (reinterpret_cast<uintptr_t>(p) % dtype_size(e.dtype) != 0)  // unaligned: copy the bytes once
        return torch::from_blob(p, {static_cast<int64_t>(e.end - e.begin)}, torch::kUInt8).clone().view(type).view(e.shape);
    return torch::from_blob(p, e.shape, type);
}

WeightStore::WeightStore(const fs::path& dir, const std::vector<std::string>& prefixes) {
    std::vector<fs::path> files;
    // A link counts as there even when it leads nowhere: opening it then says so.
    auto present = [](const fs::path& p) { std::error_code ec; return fs::exists(fs::symlink_status(p, ec)); };
    if (present(dir / "model.safetensors")) {
        files.push_back(dir / "model.safetensors");
    } else if (present(dir / "model.safetensors.index.json")) {
        const nlohmann::json index = read_json_file(dir / "model.safetensors.index.json");
        std::set<std::string> shards;
        for (const auto& [key, shard] : index.at("weight_map").items()) shards.insert(shard.get<std::string>());
        for (const auto& s : shards) {
            // Shards lie in the model folder: a path out of it (../x, /etc/passwd) is refused.
            if (s.empty() || s == "." || s == ".." || fs::path(s).filename() != fs::path(s))
                throw std::runtime_error((dir / "model.safetensors.index.json").string() + ": shard " +
                                         nlohmann::json(s).dump() + " is not a file name in the model folder");
            files.push_back(dir / s);
        }
    } else if (fs::exists(dir / "pytorch_model.bin") || fs::exists(dir / "pytorch_model.bin.index.json")) {
        throw std::runtime_error(dir.string() + ": has only pytorch_model.bin. " + kPickleAdvice);
    } else {
        throw std::runtime_error(dir.string() + ": no model.safetensors or model.safetensors.index.json");
    }
    for (const auto& f : files) {
        files_.push_back(std::make_unique<SafetensorsFile>(f));
        for (const auto& [key, entry] : files_.back()->entries()) {
            std::string bare = key;
            for (const auto& p : prefixes)
                if (key.rfind(p, 0) == 0) { bare = key.substr(p.size()); break; }
            index_[bare] = {files_.back().get(), key};
        }
    }
}

const std::pair<const SafetensorsFile*, std::string>* WeightStore::find(const std::string& name) const {
    if (auto it = index_.find(name); it != index_.end()) return &it->second;
    // Checkpoints written before PyTorch renamed LayerNorm's parameters (BERT's among them).
    static const std::pair<std::string, std::string> older[] = {{"LayerNorm.weight", "LayerNorm.gamma"},
                                                                {"LayerNorm.bias", "LayerNorm.beta"}};
    for (const auto& [now, then] : older)
        if (name.size() >= now.size() && name.compare(name.size() - now.size(), now.size(), now) == 0)
            if (auto it = index_.find(name.substr(0, name.size() - now.size()) + then); it != index_.end())
                return &it->second;
    return nullptr;
}

bool WeightStore::has(const std::string& name) const { return find(name) != nullptr; }

torch::Tensor WeightStore::get_if(const std::string& name, const std::vector<int64_t>& shape) const {
    return has(name) ? get(name, shape) : torch::Tensor();
}

const std::pair<const SafetensorsFile*, std::string>& WeightStore::checked(const std::string& name,
                                                                          const std::vector<int64_t>& shape) const {
    const auto* found_at = find(name);
    if (!found_at)
        throw MissingTensor("weights: tensor " + name + " is missing (expected shape " + shape_text(shape) + ")");
    const auto& [file, key] = *found_at;
    const auto& found = file->entries().at(key).shape;
    if (found != shape)
        throw std::runtime_error(file->path().string() + ": tensor " + key + " has shape " + shape_text(found) +
                                 ", expected " + shape_text(shape));
    return *found_at;
}

void WeightStore::check(const std::string& name, const std::vector<int64_t>& shape) const { checked(name, shape); }

torch::Tensor WeightStore::get(const std::string& name, const std::vector<int64_t>& shape) const {
    const auto& [file, key] = checked(name, shape);
    return file->tensor(key);
}

torch::Tensor WeightStore::get_raw(const std::string& name, const std::vector<int64_t>& shape) const {
    const auto& [file, key] = checked(name, shape);
    return file->raw(key);
}

torch::Tensor WeightReader::get(const std::string& name, const std::vector<int64_t>& shape) const {
    if (check_only) { store.check(name, shape); return {}; }
    return store.get(name, shape);
}

torch::Tensor WeightReader::get_if(const std::string& name, const std::vector<int64_t>& shape) const {
    return store.has(name) ? get(name, shape) : torch::Tensor();
}

torch::Tensor WeightReader::matrix(const std::string& name, const std::vector<int64_t>& shape) const {
    if (check_only) { store.check(name, shape); return {}; }
    return store.get_raw(name, shape);
}

}  // namespace laminar::models
