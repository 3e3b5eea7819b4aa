#include "store/h5.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "laminar/text_file.hpp"

namespace laminar::h5 {

namespace {

// HDF5 prints its error stack to stderr by default; we turn it into exception messages. And it
// closes files left open in an exit handler, which crashes (H5F__close_cb) on a file whose close
// already failed, as on a full disk: every file is closed by its Handle, so that handler goes.
const bool quiet_hdf5 = [] {
    H5dont_atexit();
    return H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr) >= 0;
}();

struct ErrorText {
    std::string top;     // the first descriptions, most general first
    std::string system;  // the operating system's reason, when a read or write failed
};

herr_t collect(unsigned n, const H5E_error2_t* e, void* out) {
    auto& text = *static_cast<ErrorText*>(out);
    if (!e->desc || !*e->desc) return 0;
    const std::string desc = e->desc;
    if (n < 3) text.top += std::string(text.top.empty() ? "" : "; ") + desc;
    // The file driver says e.g. "file write failed: ..., errno = 28, error message = 'No space left on device', ..."
    const auto at = desc.find("error message = '");
    if (at != std::string::npos && text.system.empty())
        text.system = desc.substr(at + 17, desc.find('\'', at + 17) - (at + 17));
    return 0;
}

std::string hdf5_error() {
    ErrorText text;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect, &text);
    H5Eclear2(H5E_DEFAULT);
    if (!text.system.empty()) return text.system + " (" + (text.top.empty() ? "HDF5 error" : text.top) + ")";
    return text.top.empty() ? "HDF5 error" : text.top;
}

void check_status(herr_t status, const std::string& what) {
    if (status < 0) throw std::runtime_error(what + ": " + hdf5_error());
}

std::pair<std::string, std::string> split_parent(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) return {"", path};
    return {path.substr(0, slash), path.substr(slash + 1)};
}

Handle parent_group(hid_t loc, const std::string& path, std::string& leaf) {
    auto [parent, name] = split_parent(path);
    leaf = name;
    return parent.empty() ? Handle(check(H5Oopen(loc, ".", H5P_DEFAULT), "open ."))
                          : require_group(loc, parent);
}

Handle scalar_space() { return Handle(check(H5Screate(H5S_SCALAR), "scalar dataspace")); }

Handle utf8_string_type() {
    Handle type(check(H5Tcopy(H5T_C_S1), "string type"));
    check_status(H5Tset_size(type, H5T_VARIABLE), "string type");
    check_status(H5Tset_cset(type, H5T_CSET_UTF8), "string type");
    return type;
}

Handle open_object(hid_t loc, const std::string& path) {
    return Handle(check(H5Oopen(loc, path.c_str(), H5P_DEFAULT), "open " + path));
}

void write_raw(hid_t loc, const std::string& path, hid_t file_type, hid_t mem_type,
               const std::vector<hsize_t>& dims, const void* data) {
    std::string leaf;
    Handle parent = parent_group(loc, path, leaf);
    if (H5Lexists(parent, leaf.c_str(), H5P_DEFAULT) > 0)
        check_status(H5Ldelete(parent, leaf.c_str(), H5P_DEFAULT), "replace " + path);
    Handle space(check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                       "dataspace for " + path));
    Handle set(check(H5Dcreate2(parent, leaf.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT,
                                H5P_DEFAULT),
                     "create dataset " + path));
    check_status(H5Dwrite(set, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "write " + path);
}

Handle open_dataset(hid_t loc, const std::string& path) {
    return Handle(check(H5Dopen2(loc, path.c_str(), H5P_DEFAULT), "open dataset " + path));
}

hsize_t element_count(hid_t loc, const std::string& path) {
    hsize_t n = 1;
    for (hsize_t d : shape(loc, path)) n *= d;
    return n;
}

Handle prepare_attr(hid_t loc, const std::string& path, const std::string& name, hid_t type,
                    Handle& obj) {
    obj = exists(loc, path) ? open_object(loc, path) : require_group(loc, path);
    if (H5Aexists(obj, name.c_str()) > 0) check_status(H5Adelete(obj, name.c_str()), "replace attribute " + name);
    Handle space = scalar_space();
    return Handle(check(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
                        "create attribute " + name + " on " + path));
}

}  // namespace

void Handle::reset() {
    if (id_ < 0) return;
    switch (H5Iget_type(id_)) {
        case H5I_FILE: H5Fclose(id_); break;
        case H5I_GROUP: H5Gclose(id_); break;
        case H5I_DATASET: H5Dclose(id_); break;
        case H5I_DATASPACE: H5Sclose(id_); break;
        case H5I_DATATYPE: H5Tclose(id_); break;
        case H5I_ATTR: H5Aclose(id_); break;
        case H5I_GENPROP_LST: H5Pclose(id_); break;
        default: H5Oclose(id_); break;
    }
    id_ = H5I_INVALID_HID;
}

hid_t check(hid_t id, const std::string& what) {
    if (id < 0) throw std::runtime_error(what + ": " + hdf5_error());
    return id;
}

// Attributes stay in the object header ("compact") up to this many per object, instead of
// moving to dense storage past 8: HDF5 1.10's H5Ocopy (h5py's Group.copy) crashes on dense
// attributes holding variable-length strings, and a result group of the rsa metric has 20.
constexpr unsigned kCompactAttributes = 64;

Handle create_file(const std::filesystem::path& path, hsize_t userblock) {
    // Track link creation order so that h5py and `laminar inspect` list groups as written.
    Handle fcpl(check(H5Pcreate(H5P_FILE_CREATE), "file creation properties"));
    check_status(H5Pset_link_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
                 "file creation properties");
    if (userblock > 0) check_status(H5Pset_userblock(fcpl, userblock), "file creation properties");
    check_status(H5Pset_attr_phase_change(fcpl, kCompactAttributes, kCompactAttributes - 8), "file creation properties");
    Handle fapl(check(H5Pcreate(H5P_FILE_ACCESS), "file access properties"));
    check_status(H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST), "file access properties");
    return Handle(check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl, fapl), "create " + path.string()));
}

Handle open_file(const std::filesystem::path& path, bool writable) {
    require_regular_file(path);  // a FIFO would block HDF5's open forever
    return Handle(check(H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT),
                        path.string() + ": cannot open as HDF5"));
}

bool is_hdf5(const std::filesystem::path& path) {
    std::error_code ec;  // a FIFO or a device: not one, and never opened (the read would block)
    if (!std::filesystem::is_regular_file(path, ec)) return false;
    const htri_t r = H5Fis_hdf5(path.c_str());
    H5Eclear2(H5E_DEFAULT);
    return r > 0;
}

bool exists(hid_t loc, const std::string& path) {
    if (path.empty() || path == ".") return true;
    std::size_t pos = 0;
    while (true) {
        const auto slash = path.find('/', pos);
        const std::string prefix = path.substr(0, slash);
        if (H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) { H5Eclear2(H5E_DEFAULT); return false; }
        if (slash == std::string::npos) return true;
        pos = slash + 1;
    }
}

Handle require_group(hid_t loc, const std::string& path) {
    if (exists(loc, path)) return open_group(loc, path);
    Handle lcpl(check(H5Pcreate(H5P_LINK_CREATE), "link properties"));
    check_status(H5Pset_create_intermediate_group(lcpl, 1), "link properties");
    Handle gcpl(check(H5Pcreate(H5P_GROUP_CREATE), "group properties"));
    check_status(H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
                 "group properties");
    check_status(H5Pset_attr_phase_change(gcpl, kCompactAttributes, kCompactAttributes - 8), "group properties");
    return Handle(check(H5Gcreate2(loc, path.c_str(), lcpl, gcpl, H5P_DEFAULT), "create group " + path));
}

Handle open_group(hid_t loc, const std::string& path) {
    return Handle(check(H5Gopen2(loc, path.c_str(), H5P_DEFAULT), "open group " + path));
}

namespace {

/// A dataset's values, copied in blocks of rows (activation matrices can be gigabytes).
void copy_dataset(hid_t from, const std::string& path, hid_t to) {
    Handle source = open_dataset(from, path);
    Handle file_type(check(H5Dget_type(source), "type of " + path));
    Handle mem_type(check(H5Tget_native_type(file_type, H5T_DIR_ASCEND), "type of " + path));
    Handle space(check(H5Dget_space(source), "dataspace of " + path));
    Handle dcpl(check(H5Dget_create_plist(source), "properties of " + path));
    std::string leaf;
    Handle parent = parent_group(to, path, leaf);
    Handle target(check(H5Dcreate2(parent, leaf.c_str(), file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                        "create dataset " + path));
    const int rank = H5Sget_simple_extent_ndims(space);
    std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
    H5Sget_simple_extent_dims(space, dims.data(), nullptr);
    const bool variable = H5Tdetect_class(mem_type, H5T_VLEN) > 0 || H5Tis_variable_str(mem_type) > 0;
    const std::size_t element = H5Tget_size(mem_type);
    hsize_t per_row = 1;
    for (std::size_t d = 1; d < dims.size(); ++d) per_row *= dims[d];
    const hsize_t rows = dims.empty() ? 1 : dims[0];
    const hsize_t block = variable || dims.empty() ? rows : std::max<hsize_t>(1, (hsize_t{64} << 20) / (per_row * element + 1));
    for (hsize_t start = 0; start < rows; start += block) {
        const hsize_t count = std::min(block, rows - start);
        if (count == 0) break;
        std::vector<char> buffer(static_cast<std::size_t>(count * per_row) * element);
        Handle file_space(check(H5Scopy(space), "dataspace of " + path));
        Handle mem_space;
        if (dims.empty()) {
            mem_space = Handle(check(H5Screate(H5S_SCALAR), "dataspace of " + path));
        } else {
            std::vector<hsize_t> offset(dims.size(), 0), extent = dims;
            offset[0] = start;
            extent[0] = count;
            check_status(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, offset.data(), nullptr, extent.data(), nullptr),
                         "select " + path);
            mem_space = Handle(check(H5Screate_simple(rank, extent.data(), nullptr), "dataspace of " + path));
        }
        check_status(H5Dread(source, mem_type, mem_space, file_space, H5P_DEFAULT, buffer.data()), "read " + path);
        const herr_t written = H5Dwrite(target, mem_type, mem_space, file_space, H5P_DEFAULT, buffer.data());
        if (variable) H5Dvlen_reclaim(mem_type, mem_space, H5P_DEFAULT, buffer.data());
        check_status(written, "write " + path);
    }
}

}  // namespace

// Object by object rather than H5Ocopy, which crashes in HDF5 1.10 on attributes of variable-
// length strings kept in dense storage (a group with more than eight attributes).
void copy(hid_t from, const std::string& path, hid_t to) {
    H5O_info_t info;
    check_status(H5Oget_info_by_name2(from, path.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT), "open " + path);
    if (info.type == H5O_TYPE_GROUP) {
        require_group(to, path);
        for (const auto& child : children(open_group(from, path))) copy(from, path + "/" + child, to);
    } else if (info.type == H5O_TYPE_DATASET) {
        copy_dataset(from, path, to);
    } else {
        throw std::runtime_error("copy " + path + ": not a group or a dataset");
    }
    copy_attributes(from, path, to);
}

void copy_attributes(hid_t from, const std::string& path, hid_t to) {
    Handle source = open_object(from, path), target = open_object(to, path);
    H5O_info_t info;
    check_status(H5Oget_info2(source, &info, H5O_INFO_NUM_ATTRS), "attributes of " + path);
    for (hsize_t i = 0; i < info.num_attrs; ++i) {
        Handle attr(check(H5Aopen_by_idx(source, ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT),
                          "attribute of " + path));
        const ssize_t length = H5Aget_name(attr, 0, nullptr);
        std::string name(static_cast<std::size_t>(std::max<ssize_t>(length, 0)), '\0');
        H5Aget_name(attr, name.size() + 1, name.data());
        Handle file_type(check(H5Aget_type(attr), "type of attribute " + name));
        Handle mem_type(check(H5Tget_native_type(file_type, H5T_DIR_ASCEND), "type of attribute " + name));
        Handle space(check(H5Aget_space(attr), "space of attribute " + name));
        const hssize_t n = H5Sget_simple_extent_npoints(space);
        std::vector<char> buffer(H5Tget_size(mem_type) * static_cast<std::size_t>(std::max<hssize_t>(n, 1)));
        check_status(H5Aread(attr, mem_type, buffer.data()), "read attribute " + name);
        if (H5Aexists(target, name.c_str()) > 0) H5Adelete(target, name.c_str());
        Handle copy(check(H5Acreate2(target, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT),
                          "create attribute " + name));
        const herr_t written = H5Awrite(copy, mem_type, buffer.data());
        if (H5Tdetect_class(mem_type, H5T_VLEN) > 0 || H5Tis_variable_str(mem_type) > 0)
            H5Dvlen_reclaim(mem_type, space, H5P_DEFAULT, buffer.data());
        check_status(written, "write attribute " + name);
    }
}

void remove(hid_t loc, const std::string& path) {
    if (exists(loc, path)) check_status(H5Ldelete(loc, path.c_str(), H5P_DEFAULT), "delete " + path);
}

std::vector<std::string> children(hid_t group) {
    std::vector<std::string> names;
    auto visit = [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
        static_cast<std::vector<std::string>*>(out)->push_back(name);
        return 0;
    };
    hsize_t idx = 0;
    if (H5Literate(group, H5_INDEX_CRT_ORDER, H5_ITER_INC, &idx, visit, &names) < 0) {
        H5Eclear2(H5E_DEFAULT);  // creation order not tracked (file made elsewhere): by name
        names.clear();
        idx = 0;
        check_status(H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &idx, visit, &names), "list group");
    }
    return names;
}

bool is_group(hid_t loc, const std::string& path) {
    if (!exists(loc, path)) return false;
    Handle obj = open_object(loc, path);
    return H5Iget_type(obj) == H5I_GROUP;
}

void write(hid_t loc, const std::string& path, const std::vector<hsize_t>& shape, const float* data) {
    write_raw(loc, path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, shape, data);
}

void write(hid_t loc, const std::string& path, const std::vector<hsize_t>& shape, const double* data) {
    write_raw(loc, path, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, shape, data);
}

void create_matrix(hid_t loc, const std::string& path, hsize_t rows, hsize_t cols) {
    std::string leaf;
    Handle parent = parent_group(loc, path, leaf);
    if (H5Lexists(parent, leaf.c_str(), H5P_DEFAULT) > 0)
        check_status(H5Ldelete(parent, leaf.c_str(), H5P_DEFAULT), "replace " + path);
    const hsize_t dims[2] = {rows, cols};
    Handle space(check(H5Screate_simple(2, dims, nullptr), "dataspace for " + path));
    Handle set(check(H5Dcreate2(parent, leaf.c_str(), H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                     "create dataset " + path));
}

void write_rows(hid_t loc, const std::string& path, const std::vector<std::size_t>& rows, const float* data) {
    if (rows.empty()) return;
    Handle set = open_dataset(loc, path);
    Handle file_space(check(H5Dget_space(set), "dataspace of " + path));
    hsize_t dims[2] = {0, 0};
    H5Sget_simple_extent_dims(file_space, dims, nullptr);
    // One selection of all the rows (a union of one-row blocks), one write.
    check_status(H5Sselect_none(file_space), "select rows of " + path);
    for (std::size_t r : rows) {
        const hsize_t start[2] = {r, 0}, count[2] = {1, dims[1]};
        check_status(H5Sselect_hyperslab(file_space, H5S_SELECT_OR, start, nullptr, count, nullptr), "select rows of " + path);
    }
    // The selection is written in row order, so the data must come sorted by row.
    std::vector<std::size_t> order(rows.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return rows[a] < rows[b]; });
    std::vector<float> sorted(rows.size() * dims[1]);
    for (std::size_t i = 0; i < order.size(); ++i)
        std::copy_n(data + order[i] * dims[1], dims[1], sorted.begin() + i * dims[1]);
    const hsize_t mem_dims[2] = {rows.size(), dims[1]};
    Handle mem_space(check(H5Screate_simple(2, mem_dims, nullptr), "memory space for " + path));
    check_status(H5Dwrite(set, H5T_NATIVE_FLOAT, mem_space, file_space, H5P_DEFAULT, sorted.data()), "write " + path);
}

void write(hid_t loc, const std::string& path, const std::vector<int32_t>& data) {
    write_raw(loc, path, H5T_STD_I32LE, H5T_NATIVE_INT32, {data.size()}, data.data());
}

void write(hid_t loc, const std::string& path, const std::vector<uint8_t>& data) {
    write_raw(loc, path, H5T_STD_U8LE, H5T_NATIVE_UINT8, {data.size()}, data.data());
}

void write(hid_t loc, const std::string& path, const std::vector<std::string>& data) {
    std::vector<const char*> ptrs;
    for (const auto& s : data) ptrs.push_back(s.c_str());
    Handle type = utf8_string_type();
    write_raw(loc, path, type, type, {data.size()}, ptrs.data());
}

void write(hid_t loc, const std::string& path, const std::vector<std::vector<int32_t>>& data) {
    std::vector<hvl_t> rows;
    for (const auto& r : data) rows.push_back({r.size(), const_cast<int32_t*>(r.data())});
    Handle file_type(check(H5Tvlen_create(H5T_STD_I32LE), "vlen type"));
    Handle mem_type(check(H5Tvlen_create(H5T_NATIVE_INT32), "vlen type"));
    write_raw(loc, path, file_type, mem_type, {data.size()}, rows.data());
}

std::vector<hsize_t> shape(hid_t loc, const std::string& path) {
    Handle set = open_dataset(loc, path);
    Handle space(check(H5Dget_space(set), "dataspace of " + path));
    const int rank = H5Sget_simple_extent_ndims(space);
    std::vector<hsize_t> dims(rank > 0 ? rank : 0);
    if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
    return dims;
}

std::string dtype_text(hid_t loc, const std::string& path) {
    Handle set = open_dataset(loc, path);
    Handle type(check(H5Dget_type(set), "type of " + path));
    const std::size_t bits = 8 * H5Tget_size(type);
    switch (H5Tget_class(type)) {
        case H5T_FLOAT: return "float" + std::to_string(bits);
        case H5T_INTEGER: return (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(bits);
        case H5T_STRING: return "string";
        case H5T_VLEN: {
            Handle base(check(H5Tget_super(type), "base type of " + path));
            return std::string("vlen ") + (H5Tget_class(base) == H5T_FLOAT ? "float" : "int") +
                   std::to_string(8 * H5Tget_size(base));
        }
        default: return "other";
    }
}

std::vector<float> read_floats(hid_t loc, const std::string& path) {
    std::vector<float> out(element_count(loc, path));
    Handle set = open_dataset(loc, path);
    check_status(H5Dread(set, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), "read " + path);
    return out;
}

std::vector<int32_t> read_ints(hid_t loc, const std::string& path) {
    std::vector<int32_t> out(element_count(loc, path));
    Handle set = open_dataset(loc, path);
    check_status(H5Dread(set, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), "read " + path);
    return out;
}

std::vector<std::string> read_strings(hid_t loc, const std::string& path) {
    Handle set = open_dataset(loc, path);
    Handle space(check(H5Dget_space(set), "dataspace of " + path));
    std::vector<char*> ptrs(element_count(loc, path));
    Handle type = utf8_string_type();
    check_status(H5Dread(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), "read " + path);
    std::vector<std::string> out(ptrs.begin(), ptrs.end());
    H5Dvlen_reclaim(type, space, H5P_DEFAULT, ptrs.data());
    return out;
}

std::vector<std::vector<int32_t>> read_vlen_ints(hid_t loc, const std::string& path) {
    Handle set = open_dataset(loc, path);
    Handle space(check(H5Dget_space(set), "dataspace of " + path));
    std::vector<hvl_t> rows(element_count(loc, path));
    Handle type(check(H5Tvlen_create(H5T_NATIVE_INT32), "vlen type"));
    check_status(H5Dread(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()), "read " + path);
    std::vector<std::vector<int32_t>> out;
    for (const auto& r : rows) {
        const auto* p = static_cast<const int32_t*>(r.p);
        out.emplace_back(p, p + r.len);
    }
    H5Dvlen_reclaim(type, space, H5P_DEFAULT, rows.data());
    return out;
}

void set_attr(hid_t loc, const std::string& path, const std::string& name, double value) {
    Handle obj;
    Handle attr = prepare_attr(loc, path, name, H5T_IEEE_F64LE, obj);
    check_status(H5Awrite(attr, H5T_NATIVE_DOUBLE, &value), "write attribute " + name);
}

void set_attr(hid_t loc, const std::string& path, const std::string& name, int64_t value) {
    Handle obj;
    Handle attr = prepare_attr(loc, path, name, H5T_STD_I64LE, obj);
    check_status(H5Awrite(attr, H5T_NATIVE_INT64, &value), "write attribute " + name);
}

void set_attr(hid_t loc, const std::string& path, const std::string& name, const std::string& value) {
    Handle obj;
    Handle type = utf8_string_type();
    Handle attr = prepare_attr(loc, path, name, type, obj);
    const char* p = value.c_str();
    check_status(H5Awrite(attr, type, &p), "write attribute " + name);
}

bool has_attr(hid_t loc, const std::string& path, const std::string& name) {
    if (!exists(loc, path)) return false;
    const htri_t r = H5Aexists_by_name(loc, path.c_str(), name.c_str(), H5P_DEFAULT);
    H5Eclear2(H5E_DEFAULT);
    return r > 0;
}

std::string get_string_attr(hid_t loc, const std::string& path, const std::string& name) {
    Handle attr(check(H5Aopen_by_name(loc, path.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT),
                      "attribute " + name + " of " + path));
    Handle type = utf8_string_type();
    char* p = nullptr;
    check_status(H5Aread(attr, type, &p), "read attribute " + name);
    std::string out = p ? p : "";
    H5free_memory(p);
    return out;
}

int64_t get_int_attr(hid_t loc, const std::string& path, const std::string& name) {
    Handle attr(check(H5Aopen_by_name(loc, path.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT),
                      "attribute " + name + " of " + path));
    int64_t v = 0;
    check_status(H5Aread(attr, H5T_NATIVE_INT64, &v), "read attribute " + name);
    return v;
}

std::vector<std::pair<std::string, Scalar>> scalar_attributes(hid_t loc, const std::string& path) {
    std::vector<std::pair<std::string, Scalar>> out;
    Handle obj = open_object(loc, path);
    const int n = H5Aget_num_attrs(obj);
    for (int i = 0; i < n; ++i) {
        Handle attr(check(H5Aopen_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT),
                          "attribute of " + path));
        char name[256] = {0};
        H5Aget_name(attr, sizeof name, name);
        Handle type(check(H5Aget_type(attr), "attribute type"));
        Handle space(check(H5Aget_space(attr), "attribute space"));
        if (H5Sget_simple_extent_npoints(space) != 1) continue;
        switch (H5Tget_class(type)) {
            case H5T_STRING:
                if (H5Tis_variable_str(type) > 0) out.emplace_back(name, get_string_attr(loc, path, name));
                break;
            case H5T_INTEGER: {
                long long v = 0;
                check_status(H5Aread(attr, H5T_NATIVE_LLONG, &v), "read attribute");
                out.emplace_back(name, static_cast<int64_t>(v));
                break;
            }
            case H5T_FLOAT: {
                double v = 0;
                check_status(H5Aread(attr, H5T_NATIVE_DOUBLE, &v), "read attribute");
                out.emplace_back(name, v);
                break;
            }
            default: break;
        }
    }
    return out;
}

std::vector<std::pair<std::string, std::string>> attributes_as_text(hid_t loc, const std::string& path) {
    std::vector<std::pair<std::string, std::string>> out;
    Handle obj = open_object(loc, path);
    const int n = H5Aget_num_attrs(obj);
    for (int i = 0; i < n; ++i) {
        Handle attr(check(H5Aopen_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT),
                          "attribute of " + path));
        if (attr.get() < 0) continue;
        char name[256] = {0};
        H5Aget_name(attr, sizeof name, name);
        Handle type(check(H5Aget_type(attr), "attribute type"));
        Handle space(check(H5Aget_space(attr), "attribute space"));
        const hssize_t count = H5Sget_simple_extent_npoints(space);
        std::ostringstream text;
        switch (H5Tget_class(type)) {
            case H5T_STRING:
                if (count == 1 && H5Tis_variable_str(type) > 0) {
                    text << get_string_attr(loc, path, name);
                } else {
                    text << "<string>";
                }
                break;
            case H5T_INTEGER: {  // read as integers: 12497500, not 1.24975e+07
                std::vector<long long> v(count);
                check_status(H5Aread(attr, H5T_NATIVE_LLONG, v.data()), "read attribute");
                if (count != 1) text << '[';
                for (hssize_t k = 0; k < count; ++k) text << (k ? ", " : "") << v[k];
                if (count != 1) text << ']';
                break;
            }
            case H5T_FLOAT: {
                std::vector<double> v(count);
                check_status(H5Aread(attr, H5T_NATIVE_DOUBLE, v.data()), "read attribute");
                if (count != 1) text << '[';
                for (hssize_t k = 0; k < count; ++k) text << (k ? ", " : "") << v[k];
                if (count != 1) text << ']';
                break;
            }
            default: text << "<binary>";
        }
        out.emplace_back(name, text.str());
    }
    return out;
}

}  // namespace laminar::h5
