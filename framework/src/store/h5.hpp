// A thin RAII layer over the HDF5 C API (the C++ API is not thread-safe and is being retired
// upstream). Only what the run store needs; every failure throws with HDF5's own message.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <hdf5.h>

namespace laminar::h5 {

/// Owns one HDF5 identifier and closes it with the matching H5?close.
class Handle {
public:
    Handle() = default;
    explicit Handle(hid_t id) : id_(id) {}
    Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)) {}
    Handle& operator=(Handle&& o) noexcept {
        if (this != &o) { reset(); id_ = std::exchange(o.id_, H5I_INVALID_HID); }
        return *this;
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() { reset(); }

    hid_t get() const { return id_; }
    operator hid_t() const { return id_; }
    void reset();

private:
    hid_t id_ = H5I_INVALID_HID;
};

/// Throws std::runtime_error("<what>: <HDF5 error stack>") when `id` is negative.
hid_t check(hid_t id, const std::string& what);

/// Truncates. `userblock` bytes (0, or a power of two >= 512) are left to the caller at the
/// start of the file; file-format bounds 1.8 and later, whose metadata carries checksums.
Handle create_file(const std::filesystem::path& path, hsize_t userblock = 0);
Handle open_file(const std::filesystem::path& path, bool writable);
bool is_hdf5(const std::filesystem::path& path);

/// True when every component of `path` ("a/b/c", relative to `loc`) exists.
bool exists(hid_t loc, const std::string& path);
/// Opens the group at `path`, creating it and its parents when missing.
Handle require_group(hid_t loc, const std::string& path);
Handle open_group(hid_t loc, const std::string& path);
void remove(hid_t loc, const std::string& path);  ///< no-op when absent
/// Copies object `path` of `from` (with everything under it) to the same path in `to`.
void copy(hid_t from, const std::string& path, hid_t to);
/// Copies the attributes of object `path` of `from` onto the same object of `to`.
void copy_attributes(hid_t from, const std::string& path, hid_t to);
/// Names of the direct children of a group, in creation order where tracked, else by name.
std::vector<std::string> children(hid_t group);
bool is_group(hid_t loc, const std::string& path);

// Datasets (row-major; parents created as needed; an existing dataset is replaced).
void write(hid_t loc, const std::string& path, const std::vector<hsize_t>& shape, const float* data);
void write(hid_t loc, const std::string& path, const std::vector<hsize_t>& shape, const double* data);
void write(hid_t loc, const std::string& path, const std::vector<int32_t>& data);
void write(hid_t loc, const std::string& path, const std::vector<uint8_t>& data);
void write(hid_t loc, const std::string& path, const std::vector<std::string>& data);  ///< UTF-8 vlen
void write(hid_t loc, const std::string& path, const std::vector<std::vector<int32_t>>& data);  ///< vlen int32

/// Creates a float32 [rows x cols] dataset, to be filled by write_rows(); replaces one that exists.
void create_matrix(hid_t loc, const std::string& path, hsize_t rows, hsize_t cols);
/// Writes `data` ([rows.size() x cols], row-major) into rows `rows` of a float32 matrix.
void write_rows(hid_t loc, const std::string& path, const std::vector<std::size_t>& rows, const float* data);

std::vector<hsize_t> shape(hid_t loc, const std::string& path);
/// "float32", "float64", "int32", "string", "vlen int32", ... as numpy would name it.
std::string dtype_text(hid_t loc, const std::string& path);
std::vector<float> read_floats(hid_t loc, const std::string& path);
std::vector<int32_t> read_ints(hid_t loc, const std::string& path);
std::vector<std::string> read_strings(hid_t loc, const std::string& path);
std::vector<std::vector<int32_t>> read_vlen_ints(hid_t loc, const std::string& path);

// Attributes on the object at `path` ("." for `loc` itself); an existing one is replaced.
void set_attr(hid_t loc, const std::string& path, const std::string& name, double value);
void set_attr(hid_t loc, const std::string& path, const std::string& name, int64_t value);
void set_attr(hid_t loc, const std::string& path, const std::string& name, const std::string& value);
bool has_attr(hid_t loc, const std::string& path, const std::string& name);
std::string get_string_attr(hid_t loc, const std::string& path, const std::string& name);
int64_t get_int_attr(hid_t loc, const std::string& path, const std::string& name);

/// A scalar attribute's value: integer, floating point or string.
using Scalar = std::variant<int64_t, double, std::string>;
/// The object's scalar attributes (arrays and other types left out), by name in name order.
std::vector<std::pair<std::string, Scalar>> scalar_attributes(hid_t loc, const std::string& path);

/// Every attribute of an object, rendered as text (scalars as numbers, arrays as [a, b]).
std::vector<std::pair<std::string, std::string>> attributes_as_text(hid_t loc, const std::string& path);

}  // namespace laminar::h5

namespace laminar::h5 {

/// Calls `visit(path, is_group)` for every object below `path`, depth first, in listing order.
template <class Visit>
void walk(hid_t loc, const std::string& path, Visit&& visit) {
    Handle group = open_group(loc, path);
    for (const auto& name : children(group)) {
        const std::string child = path == "/" || path == "." ? name : path + "/" + name;
        const bool group_child = is_group(loc, child);
        visit(child, group_child);
        if (group_child) walk(loc, child, visit);
    }
}

}  // namespace laminar::h5
